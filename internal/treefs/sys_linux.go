package treefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// File is an open regular file. It is a bare descriptor rather than an
// *os.File: os.NewFile registers a descriptor opened with O_NONBLOCK with
// the runtime poller (an fcntl and a failing epoll_ctl per file), which
// was a tenth of the system time of a 2,000-workflow scan.
type File struct {
	fd   int
	size int64
}

// Fd returns the file's descriptor (for mapping it); valid until Close.
func (f *File) Fd() uintptr { return uintptr(f.fd) }

// Close closes the file.
func (f *File) Close() error { return unix.Close(f.fd) }

func (f *File) read(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, p)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// sysRoot holds the root's O_PATH descriptor; beneath is false when the
// kernel lacks openat2 (before 5.6, or a seccomp filter refuses it), and
// then paths are checked with resolveBeneath.
type sysRoot struct {
	fd      int
	beneath bool
}

const (
	// resolveFlags confine a lookup to the root: no absolute links, no
	// ".." above it, no /proc magic links, no crossing into /proc.
	resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS
	// readFlags never block (a FIFO swapped in after the check) and never
	// acquire a controlling terminal.
	readFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
)

func (s *sysRoot) open(abs string) error {
	fd, err := retry(func() (int, error) { return unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	if err := checkFS(fd); err != nil {
		unix.Close(fd)
		return err
	}
	s.fd = fd
	probe, err := openat2(fd, ".", unix.O_PATH|unix.O_CLOEXEC)
	if err == nil {
		unix.Close(probe)
		s.beneath = true
	}
	return nil
}

func (s *sysRoot) close() error { return unix.Close(s.fd) }

// checkFS refuses descriptors on /proc and /sys, whose "regular" files
// are views of processes and the kernel.
func checkFS(fd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return err
	}
	if sfs.Type == unix.PROC_SUPER_MAGIC || sfs.Type == unix.SYSFS_MAGIC {
		return ErrSpecialFS
	}
	return nil
}

func openat2(dirfd int, name string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Resolve: resolveFlags}
	return retry(func() (int, error) { return unix.Openat2(dirfd, name, &how) })
}

func retry(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// mapErr turns the errors of a confined lookup into the package's.
func mapErr(err error) error {
	if errors.Is(err, unix.EXDEV) {
		return ErrOutside
	}
	return err
}

func (s *sysRoot) stat(dir, rel string) (Info, error) {
	if !s.beneath {
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
	fd, err := openat2(s.fd, rel, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return Info{}, mapErr(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Info{}, err
	}
	return infoOf(&st), nil
}

// openFile resolves rel without opening it (O_PATH), refuses anything but
// a regular file, then opens it for reading and checks with fstat that it
// is still the same regular file.
func (s *sysRoot) openFile(dir, rel string) (*File, error) {
	if !s.beneath {
		real, err := resolveBeneath(dir, rel)
		if err != nil {
			return nil, err
		}
		return openChecked(real)
	}
	pfd, err := openat2(s.fd, rel, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return nil, mapErr(err)
	}
	var want unix.Stat_t
	err = unix.Fstat(pfd, &want)
	unix.Close(pfd)
	if err != nil {
		return nil, err
	}
	if want.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, notRegular(infoOf(&want).Mode)
	}
	fd, err := openat2(s.fd, rel, readFlags)
	if err != nil {
		return nil, mapErr(err)
	}
	return verify(fd, &want)
}

func (s *sysRoot) openListed(dir, rel string) (*File, error) {
	if !s.beneath {
		return s.openFile(dir, rel)
	}
	fd, err := openat2(s.fd, rel, readFlags|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ELOOP) {
		return s.openFile(dir, rel) // replaced by a link since the listing
	}
	if err != nil {
		return nil, mapErr(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, notRegular(infoOf(&st).Mode)
	}
	return &File{fd: fd, size: st.Size}, nil
}

// openChecked opens the file at abs (links followed) like openFile, with
// no containment: for files the user named.
func openChecked(abs string) (*File, error) {
	pfd, err := retry(func() (int, error) { return unix.Open(abs, unix.O_PATH|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, err
	}
	var want unix.Stat_t
	err = unix.Fstat(pfd, &want)
	if err == nil {
		err = checkFS(pfd)
	}
	unix.Close(pfd)
	if err != nil {
		return nil, err
	}
	if want.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, notRegular(infoOf(&want).Mode)
	}
	fd, err := retry(func() (int, error) { return unix.Open(abs, readFlags, 0) })
	if err != nil {
		return nil, err
	}
	return verify(fd, &want)
}

// verify checks that the descriptor opened for reading is the regular
// file that was resolved before (not swapped meanwhile).
func verify(fd int, want *unix.Stat_t) (*File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, notRegular(infoOf(&st).Mode)
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		unix.Close(fd)
		return nil, fmt.Errorf("file changed while it was opened: %w", ErrNotRegular)
	}
	return &File{fd: fd, size: st.Size}, nil
}

func infoOf(st *unix.Stat_t) Info {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	return Info{Mode: m, Size: st.Size, Dev: st.Dev, Ino: st.Ino}
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Dev, st.Ino
	}
	return 0, 0
}
