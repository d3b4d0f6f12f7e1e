//go:build unix

package session

import (
	"os"
	"syscall"
)

// oNoFollow: a run's file is never opened through a symlink planted at
// its path.
const oNoFollow = syscall.O_NOFOLLOW

// linkCount is the number of names the file has (1 when unknown).
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
