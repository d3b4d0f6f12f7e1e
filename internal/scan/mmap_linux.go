package scan

import (
	"golang.org/x/sys/unix"
)

// mapFile maps the size bytes of the file open as fd read-only and pre-faulted (MAP_POPULATE: the
// page-cache pages are wired in one system call instead of one fault per
// 4 KiB page, and nothing is zeroed or copied). unmap releases the mapping;
// the bytes must not be used afterwards. ok is false when the file cannot
// be mapped; the caller then reads it.
func mapFile(fd uintptr, size int64) (data []byte, unmap func(), ok bool) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil, false
	}
	data, err := unix.Mmap(int(fd), 0, int(size), unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return nil, nil, false
	}
	return data, func() { _ = unix.Munmap(data) }, true // nothing to do if unmapping fails
}
