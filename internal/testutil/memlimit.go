package testutil

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const memLimitEnv = "BUILDWALL_TEST_MEMLIMIT"

// UnderMemoryLimit runs the calling test again in a child process of the
// test binary whose address space may grow by limit bytes at most
// (RLIMIT_AS, set to its size at the test's start plus limit),
// so that a regression that needs much memory fails there (the runtime
// cannot get memory and the child dies) instead of going unnoticed or
// exhausting the machine. It returns true in the child, where the caller
// runs the test's body, and false in the parent, which has checked the
// child's result by then:
//
//	if !testutil.UnderMemoryLimit(t, 1<<30) {
//		return
//	}
//	... body ...
//
// Where limits are not supported the body runs in the test process itself.
func UnderMemoryLimit(t *testing.T, limit uint64) bool {
	t.Helper()
	if v := os.Getenv(memLimitEnv); v != "" {
		if v != t.Name() {
			t.Skip("another test's memory-limited child")
		}
		if err := setMemoryLimit(limit); err != nil {
			t.Fatalf("set memory limit: %v", err)
		}
		return true
	}
	if !memoryLimitWorks {
		return true
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run", strings.Join(parts, "/"), "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), memLimitEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("under a limit of %d MB more address space: %v\n%s", limit>>20, err, head(out, 3000))
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the memory-limited child did not pass %s:\n%s", t.Name(), tail(out, 4000))
	}
	t.Logf("passed in a child process limited to %s MB more address space", strconv.FormatUint(limit>>20, 10))
	return false
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
