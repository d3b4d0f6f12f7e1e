//go:build !linux

package treefs

import (
	"errors"
	"io"
	"os"
)

// File is an open regular file.
type File struct {
	f    *os.File
	size int64
}

// Fd returns the file's descriptor (for mapping it); valid until Close.
func (f *File) Fd() uintptr { return f.f.Fd() }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

func (f *File) read(p []byte) (int, error) {
	n, err := f.f.Read(p)
	if errors.Is(err, io.EOF) {
		return n, nil
	}
	return n, err
}

// sysRoot checks paths with resolveBeneath: without openat2 the
// containment is checked in user space.
type sysRoot struct{}

func (s *sysRoot) open(abs string) error {
	fi, err := os.Stat(abs)
	if err != nil {
		return unwrap(err)
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

func (s *sysRoot) close() error { return nil }

func (s *sysRoot) stat(dir, rel string) (Info, error) {
	real, err := resolveBeneath(dir, rel)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return Info{}, unwrap(err)
	}
	return statInfo(fi), nil
}

func (s *sysRoot) openFile(dir, rel string) (*File, error) {
	real, err := resolveBeneath(dir, rel)
	if err != nil {
		return nil, err
	}
	return openChecked(real)
}

func (s *sysRoot) openListed(dir, rel string) (*File, error) { return s.openFile(dir, rel) }

// openChecked refuses anything but a regular file before opening it,
// opens it without blocking and checks that it is still that file.
func openChecked(abs string) (*File, error) {
	want, err := os.Stat(abs)
	if err != nil {
		return nil, unwrap(err)
	}
	if !want.Mode().IsRegular() {
		return nil, notRegular(want.Mode())
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|extraOpenFlags, 0)
	if err != nil {
		return nil, unwrap(err)
	}
	got, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, unwrap(err)
	}
	if !got.Mode().IsRegular() || !os.SameFile(want, got) {
		f.Close()
		return nil, notRegular(got.Mode())
	}
	return &File{f: f, size: got.Size()}, nil
}
