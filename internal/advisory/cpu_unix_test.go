//go:build unix

package advisory

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time this process has used. On a
// shared machine it measures the work done, where wall-clock time also
// counts the time other processes held the CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
