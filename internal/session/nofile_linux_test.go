package session

import (
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/buildwall/buildwall/internal/tcpproxy"
)

func TestSplitNoFile(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	cmd, raise := splitNoFile()
	var during syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &during)
	ours := raise()
	var after syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after)
	if during.Cur != cmd || cmd > before.Max/2 && cmd > 256 || cmd > maxCommandNoFile {
		t.Errorf("command soft limit %d (set %d), hard %d", cmd, during.Cur, before.Max)
	}
	if ours != before.Max || after.Cur != before.Max || after.Max != before.Max {
		t.Errorf("after raise: ours %d, limit %d/%d, want the hard limit %d", ours, after.Cur, after.Max, before.Max)
	}
	if ours <= cmd {
		t.Errorf("buildwall's limit %d is not above the command's %d", ours, cmd)
	}
}

func TestMaxConns(t *testing.T) {
	for noFile, want := range map[uint64]int{
		0: tcpproxy.DefaultMaxConns, 1024: 32, 20000: 3162, 65536: 4096, 1 << 40: 4096,
	} {
		if got := maxConns(noFile); got != want {
			t.Errorf("maxConns(%d) = %d, want %d", noFile, got, want)
		}
	}
}

// TestCommandGetsItsNoFile: the command starts with the soft limit the
// report names, below buildwall's own.
func TestCommandGetsItsNoFile(t *testing.T) {
	w := newWorld(t)
	oc := w.run(t, blockPolicy, []string{"sh", "-c", "ulimit -n"})
	if oc.report == nil || oc.report.Limits == nil {
		t.Fatalf("no report: %v", oc.err)
	}
	l := oc.report.Limits
	if got := strings.TrimSpace(oc.out); got != strconv.FormatUint(l.CommandNoFile, 10) {
		t.Errorf("command's ulimit -n = %q, report says %d", got, l.CommandNoFile)
	}
	if l.NoFile <= l.CommandNoFile {
		t.Errorf("buildwall's %d not above the command's %d", l.NoFile, l.CommandNoFile)
	}
}
