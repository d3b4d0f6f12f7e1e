package advisory

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// A zip archive is read here rather than with archive/zip because
// archive/zip keeps the whole central directory in memory (about 200 bytes
// of heap per entry, 2 to 3 bytes per byte of a hostile archive of empty
// entries) and only checks the entry count it finds modulo 65536 against
// the declared one. zipReader walks the central directory as a stream,
// with the count and size the end record declares checked before a single
// entry is read, and inflates one entry at a time, bounded by its declared
// size, its compression ratio and its CRC-32. Only what OSV exports use is
// supported: stored and deflated entries, zip64, no encryption, one disk.

const (
	sigLocal     = 0x04034b50
	sigCentral   = 0x02014b50
	sigEnd       = 0x06054b50
	sigEnd64     = 0x06064b50
	sigLocator64 = 0x07064b50

	endLen       = 22
	locator64Len = 20
	end64Len     = 56
	centralLen   = 46
	localLen     = 30
	maxComment   = 1<<16 - 1
)

// zipEntry is one central directory entry.
type zipEntry struct {
	name         string
	method       uint16
	flags        uint16
	crc          uint32
	csize, usize uint64
	offset       uint64 // of the local header
}

// zipReader walks the entries of an archive of size bytes read through r.
type zipReader struct {
	r       io.ReaderAt
	size    int64
	entries uint64 // declared
	dirOff  int64
	dirSize int64
}

// openZip reads the end of central directory record (zip64 when present)
// and checks that the directory it describes lies inside the archive and
// declares at most maxEntries entries. Errors wrap ErrCorruptArchive or
// ErrTooLarge.
func openZip(r io.ReaderAt, size int64, maxEntries int64) (*zipReader, error) {
	tail := min(size, endLen+maxComment)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: read end of archive: %w", ErrCorruptArchive, err)
	}
	at := -1
	for i := len(buf) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == sigEnd && i+endLen+int(binary.LittleEndian.Uint16(buf[i+20:])) == len(buf) {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("%w: no end of central directory record", ErrCorruptArchive)
	}
	end := buf[at:]
	endOff := size - tail + int64(at)
	z := &zipReader{r: r, size: size}
	disk, dirDisk := binary.LittleEndian.Uint16(end[4:]), binary.LittleEndian.Uint16(end[6:])
	z.entries = uint64(binary.LittleEndian.Uint16(end[10:]))
	z.dirSize = int64(binary.LittleEndian.Uint32(end[12:]))
	z.dirOff = int64(binary.LittleEndian.Uint32(end[16:]))
	dirEnd := endOff
	if endOff >= locator64Len {
		var loc [locator64Len]byte
		if _, err := r.ReadAt(loc[:], endOff-locator64Len); err != nil {
			return nil, fmt.Errorf("%w: read zip64 locator: %w", ErrCorruptArchive, err)
		}
		if binary.LittleEndian.Uint32(loc[:]) == sigLocator64 {
			off := binary.LittleEndian.Uint64(loc[8:])
			if off > uint64(endOff-locator64Len-end64Len) {
				return nil, fmt.Errorf("%w: zip64 end record outside the archive", ErrCorruptArchive)
			}
			var e64 [end64Len]byte
			if _, err := r.ReadAt(e64[:], int64(off)); err != nil {
				return nil, fmt.Errorf("%w: read zip64 end record: %w", ErrCorruptArchive, err)
			}
			if binary.LittleEndian.Uint32(e64[:]) != sigEnd64 {
				return nil, fmt.Errorf("%w: bad zip64 end record", ErrCorruptArchive)
			}
			disk, dirDisk = 0, 0
			if binary.LittleEndian.Uint32(e64[16:]) != 0 || binary.LittleEndian.Uint32(e64[20:]) != 0 {
				disk = 1
			}
			z.entries = binary.LittleEndian.Uint64(e64[32:])
			ds, do := binary.LittleEndian.Uint64(e64[40:]), binary.LittleEndian.Uint64(e64[48:])
			if ds > uint64(size) || do > uint64(size) {
				return nil, fmt.Errorf("%w: central directory outside the archive", ErrCorruptArchive)
			}
			z.dirSize, z.dirOff = int64(ds), int64(do)
			dirEnd = int64(off)
		}
	}
	if disk != 0 || dirDisk != 0 {
		return nil, fmt.Errorf("%w: multi-disk archives are not supported", ErrCorruptArchive)
	}
	if z.dirOff+z.dirSize > dirEnd {
		return nil, fmt.Errorf("%w: central directory outside the archive", ErrCorruptArchive)
	}
	if z.entries > uint64(maxEntries) {
		return nil, fmt.Errorf("archive: %w: %d entries, limit %d", ErrTooLarge, z.entries, maxEntries)
	}
	// Every entry takes at least a central header: a count the directory
	// cannot hold is a lie.
	if z.entries > uint64(z.dirSize/centralLen) {
		return nil, fmt.Errorf("%w: %d entries declared in a %d-byte directory", ErrCorruptArchive, z.entries, z.dirSize)
	}
	return z, nil
}

// each calls fn for every entry, in directory order, stopping at the
// first error. The directory must hold exactly the declared entries.
func (z *zipReader) each(fn func(*zipEntry) error) error {
	br := bufio.NewReaderSize(io.NewSectionReader(z.r, z.dirOff, z.dirSize), 64<<10)
	var hdr [centralLen]byte
	var n uint64
	for ; n < z.entries; n++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return fmt.Errorf("%w: central directory entry %d: %w", ErrCorruptArchive, n, err)
		}
		if binary.LittleEndian.Uint32(hdr[:]) != sigCentral {
			return fmt.Errorf("%w: central directory entry %d: bad signature", ErrCorruptArchive, n)
		}
		e := &zipEntry{
			flags:  binary.LittleEndian.Uint16(hdr[8:]),
			method: binary.LittleEndian.Uint16(hdr[10:]),
			crc:    binary.LittleEndian.Uint32(hdr[16:]),
			csize:  uint64(binary.LittleEndian.Uint32(hdr[20:])),
			usize:  uint64(binary.LittleEndian.Uint32(hdr[24:])),
			offset: uint64(binary.LittleEndian.Uint32(hdr[42:])),
		}
		nameLen, extraLen, commentLen := int(binary.LittleEndian.Uint16(hdr[28:])), int(binary.LittleEndian.Uint16(hdr[30:])), int(binary.LittleEndian.Uint16(hdr[32:]))
		rest := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(br, rest); err != nil {
			return fmt.Errorf("%w: central directory entry %d: %w", ErrCorruptArchive, n, err)
		}
		if _, err := br.Discard(commentLen); err != nil {
			return fmt.Errorf("%w: central directory entry %d: %w", ErrCorruptArchive, n, err)
		}
		e.name = string(rest[:nameLen])
		if err := e.zip64(rest[nameLen:]); err != nil {
			return fmt.Errorf("%w: entry %q: %w", ErrCorruptArchive, e.name, err)
		}
		if e.offset >= uint64(z.dirOff) || e.csize > uint64(z.dirOff) {
			return fmt.Errorf("%w: entry %q: data outside the archive", ErrCorruptArchive, e.name)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if _, err := br.Peek(1); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: central directory holds more than the %d entries declared", ErrCorruptArchive, z.entries)
	}
	return nil
}

// zip64 reads the sizes and offset the zip64 extra field holds in place
// of the 32-bit fields set to 0xffffffff.
func (e *zipEntry) zip64(extra []byte) error {
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if n > len(extra)-4 {
			return errors.New("truncated extra field")
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if id != 0x0001 {
			continue
		}
		for _, p := range []*uint64{&e.usize, &e.csize, &e.offset} {
			if *p != 0xffffffff {
				continue
			}
			if len(field) < 8 {
				return errors.New("truncated zip64 field")
			}
			*p = binary.LittleEndian.Uint64(field)
			field = field[8:]
		}
	}
	return nil
}

// isDir reports whether the entry is a directory.
func (e *zipEntry) isDir() bool { return strings.HasSuffix(e.name, "/") }

// open returns the entry's uncompressed bytes as a stream of exactly
// e.usize bytes whose CRC-32 is checked at the end (a reader error wraps
// ErrCorruptArchive).
func (z *zipReader) open(e *zipEntry) (io.ReadCloser, error) {
	if e.flags&0x1 != 0 {
		return nil, fmt.Errorf("%w: entry %q is encrypted", ErrCorruptArchive, e.name)
	}
	var hdr [localLen]byte
	if _, err := z.r.ReadAt(hdr[:], int64(e.offset)); err != nil {
		return nil, fmt.Errorf("%w: entry %q: read local header: %w", ErrCorruptArchive, e.name, err)
	}
	if binary.LittleEndian.Uint32(hdr[:]) != sigLocal {
		return nil, fmt.Errorf("%w: entry %q: bad local header", ErrCorruptArchive, e.name)
	}
	data := int64(e.offset) + localLen + int64(binary.LittleEndian.Uint16(hdr[26:])) + int64(binary.LittleEndian.Uint16(hdr[28:]))
	if e.csize > uint64(z.dirOff) || data > z.dirOff-int64(e.csize) {
		return nil, fmt.Errorf("%w: entry %q: data outside the archive", ErrCorruptArchive, e.name)
	}
	sr := io.NewSectionReader(z.r, data, int64(e.csize))
	var rc io.ReadCloser
	switch e.method {
	case 0: // stored
		if e.csize != e.usize {
			return nil, fmt.Errorf("%w: stored entry %q has different sizes", ErrCorruptArchive, e.name)
		}
		rc = io.NopCloser(sr)
	case 8: // deflated
		rc = flate.NewReader(bufio.NewReaderSize(sr, 32<<10))
	default:
		return nil, fmt.Errorf("%w: entry %q: compression method %d not supported", ErrCorruptArchive, e.name, e.method)
	}
	return &checkedReader{rc: rc, e: e, left: int64(e.usize), crc: crc32.NewIEEE()}, nil
}

// checkedReader yields exactly the declared size and checks the CRC-32.
type checkedReader struct {
	rc   io.ReadCloser
	e    *zipEntry
	left int64
	crc  interface {
		io.Writer
		Sum32() uint32
	}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		// The stream must end here: more data is a lying header.
		var one [1]byte
		if n, _ := io.ReadFull(c.rc, one[:]); n > 0 {
			return 0, fmt.Errorf("%w: entry %q is longer than declared", ErrCorruptArchive, c.e.name)
		}
		if c.crc.Sum32() != c.e.crc {
			return 0, fmt.Errorf("%w: entry %q: checksum mismatch", ErrCorruptArchive, c.e.name)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	c.crc.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if c.left > 0 {
			return n, fmt.Errorf("%w: entry %q is shorter than declared", ErrCorruptArchive, c.e.name)
		}
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("%w: entry %q: %w", ErrCorruptArchive, c.e.name, err)
	}
	return n, nil
}

func (c *checkedReader) Close() error { return c.rc.Close() }
