package treefs

import (
	"context"
)

// Size returns the file's size as fstat reported it when it was opened.
func (f *File) Size() int64 { return f.size }

// ReadAll reads the rest of the file, failing with a *SizeError past limit
// bytes (one byte past the size seen at open catches a file that grew) or
// with ctx's error, checked before each chunk of at most 4 MiB.
func (f *File) ReadAll(ctx context.Context, limit int64) ([]byte, error) {
	if f.size > limit {
		return nil, &SizeError{Size: f.size, Limit: limit}
	}
	buf := make([]byte, 0, f.size+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(cap(buf), len(buf)+readChunk)
		n, err := f.read(buf[len(buf):end])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &SizeError{Size: int64(len(buf)), Limit: limit}
		}
	}
}
