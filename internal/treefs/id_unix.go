//go:build unix && !linux

package treefs

import (
	"os"
	"syscall"
)

// extraOpenFlags keep an open from blocking or taking a terminal.
const extraOpenFlags = syscall.O_NONBLOCK | syscall.O_NOCTTY

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
