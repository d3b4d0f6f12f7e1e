package testutil

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const memoryLimitWorks = true

// setMemoryLimit limits the process's address space to what it uses now
// plus limit bytes: the Go runtime reserves several hundred MB of address
// space at start, which says nothing about the test.
func setMemoryLimit(limit uint64) error {
	used, err := vmSize()
	if err != nil {
		return err
	}
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: used + limit, Max: used + limit})
}

// vmSize returns the process's address-space size from /proc/self/status.
func vmSize() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}
