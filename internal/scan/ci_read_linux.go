package scan

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// readCIFile reads a CI configuration file like readLimited, with the same
// errors (*os.PathError around the errno; errTooLarge with the size past
// limit), but with bare system calls: open, fstat, read until EOF, close.
// os.Open also registers every file with the runtime poller (four fcntl
// calls and a failing epoll_ctl per regular file), which was a tenth of
// the system time of a 2,000-workflow scan. O_NONBLOCK keeps a FIFO named
// like a workflow from blocking the open; anything but a regular file is
// refused.
func readCIFile(path string, limit int64) ([]byte, int64, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file")}
	}
	if st.Size > limit {
		return nil, st.Size, errTooLarge
	}
	// One byte past the size catches a file that grew meanwhile.
	buf := make([]byte, 0, st.Size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return nil, 0, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, int64(len(buf)), nil
		}
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, int64(len(buf)), errTooLarge
		}
	}
}
