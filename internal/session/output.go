package session

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// OutputFile is a file the run writes for the user (the report, the events
// stream, the step summary) and the build must not touch. It is opened
// before the command starts and written only through the held file;
// inside the sandbox its path is covered by an empty read-only file (see
// sandbox.Config.Hide). A build that gets around that (it renames the
// directory above, or reaches the file through another mount of the same
// file system) is detected after the run: the path no longer names the
// held file, or the file has gained another name. The run then records
// what happened and puts the held file's content back at the path
// (written to a new file beside it and renamed over it).
type OutputFile struct {
	path string
	f    *os.File
	info os.FileInfo // of the file as opened
	// rewrite: the whole content is written at the end (the report), so
	// the held file is emptied first.
	rewrite bool
	// start is the size at open (an appended file keeps what it had);
	// written and sum cover what buildwall wrote after it.
	start   int64
	written int64
	sum     hash.Hash
}

// CreateOutput creates (truncates) the file at path for the report or the
// events stream.
func CreateOutput(path string) (*OutputFile, error) {
	return openOutput(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, false)
}

// CreateReport is CreateOutput for a file whose whole content is written
// once, at the end of the run.
func CreateReport(path string) (*OutputFile, error) {
	return openOutput(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, true)
}

// AppendOutput opens the file at path for appending (the step summary,
// which holds earlier steps' summaries), creating it if needed.
func AppendOutput(path string) (*OutputFile, error) {
	return openOutput(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, false)
}

func openOutput(path string, flag int, rewrite bool) (*OutputFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs, flag|oNoFollow, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", abs, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", abs)
	}
	o := &OutputFile{path: abs, f: f, info: st, rewrite: rewrite, sum: sha256.New()}
	if flag&os.O_APPEND != 0 {
		o.start = st.Size()
	}
	return o, nil
}

// Path is the absolute path the file was opened at.
func (o *OutputFile) Path() string { return o.path }

// Write writes to the held file. Not safe for concurrent use.
func (o *OutputFile) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	o.sum.Write(p[:n])
	o.written += int64(n)
	return n, err
}

// modified reports whether the file holds anything but what buildwall
// wrote after start: the build reached the very file through another
// path (another mount of the same file system) and changed it in place.
// Call it once nothing writes any more.
func (o *OutputFile) modified() bool {
	if o.rewrite {
		return false // emptied and written again at the end
	}
	st, err := o.f.Stat()
	if err != nil || st.Size() != o.start+o.written {
		return true
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(o.f, o.start, o.written)); err != nil {
		return true
	}
	return !bytes.Equal(h.Sum(nil), o.sum.Sum(nil))
}

// Close closes the held file.
func (o *OutputFile) Close() error { return o.f.Close() }

// tampered says how the path or the file changed behind buildwall's back,
// or "" when it did not.
func (o *OutputFile) tampered() string {
	held, err := o.f.Stat()
	if err != nil {
		return "could not be checked: " + err.Error()
	}
	now, err := os.Lstat(o.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return "deleted"
	case err != nil:
		return "made unreadable (" + err.Error() + ")"
	case !os.SameFile(now, o.info):
		return "replaced"
	case linkCount(held) > 1:
		return fmt.Sprintf("given %d other names (hard links)", linkCount(held)-1)
	}
	return ""
}

// reset empties a file whose whole content is written at the end.
func (o *OutputFile) reset() error {
	if !o.rewrite {
		return nil
	}
	if err := o.f.Truncate(0); err != nil {
		return err
	}
	_, err := o.f.Seek(0, io.SeekStart)
	return err
}

// restore puts the held file's content at the path: a new file in the
// path's directory, renamed over whatever is there now.
func (o *OutputFile) restore() error {
	st, err := o.f.Stat()
	if err != nil {
		return fmt.Errorf("restore %s: %w", o.path, err)
	}
	dir, base := filepath.Split(o.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", o.path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+base+".buildwall-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", o.path, err)
	}
	_, err = io.Copy(tmp, io.NewSectionReader(o.f, 0, st.Size()))
	if err == nil {
		err = tmp.Chmod(st.Mode().Perm())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), o.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("restore %s: %w", o.path, err)
	}
	return nil
}
