package sandbox

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// kernelEvents collects OnKernel calls.
type kernelEvents struct {
	mu  sync.Mutex
	evs []KernelEvent
}

func (k *kernelEvents) add(e KernelEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.evs = append(k.evs, e)
}

func (k *kernelEvents) find(what string) (KernelEvent, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.evs {
		if strings.Contains(e.What, what) {
			return e, true
		}
	}
	return KernelEvent{}, false
}

// TestStoppedCommandIsKilled: a command that stays stopped past StopGrace
// is killed with everything in the sandbox and the reason reported; one
// continued within the grace runs on.
func TestStoppedCommandIsKilled(t *testing.T) {
	var k kernelEvents
	start := time.Now()
	code, _, _ := run(t, Config{Args: []string{"sh", "-c", "sleep 30 & kill -STOP $$; echo continued"}, StopGrace: 300 * time.Millisecond, OnKernel: k.add}, nil)
	if code != 137 {
		t.Errorf("exit %d, want 137 (killed)", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the background sleep outlived the kill", d)
	}
	e, ok := k.find("command stopped by SIGSTOP for 300ms")
	if !ok || !e.Refused {
		t.Errorf("no stop event: %+v", k.evs)
	}

	var k2 kernelEvents
	code, out, _ := run(t, Config{Args: []string{"sh", "-c", "(sleep 0.2; kill -CONT $$) & kill -STOP $$; echo continued"}, StopGrace: 3 * time.Second, OnKernel: k2.add}, nil)
	if code != 0 || !strings.Contains(out, "continued") {
		t.Errorf("continued command: exit %d output %q", code, out)
	}
	if _, ok := k2.find("stopped"); ok {
		t.Errorf("a command continued within the grace was reported stopped: %+v", k2.evs)
	}
}

// TestGroupKillsAreReportedAndProceed: kill(0) and kill(-1) reach the
// build's own processes, and the supervisor names the caller.
func TestGroupKillsAreReportedAndProceed(t *testing.T) {
	var k kernelEvents
	code, out, _ := run(t, Config{Args: []string{"sh", "-c", "trap 'echo got-usr1' USR1; kill -USR1 0; kill -0 -1; echo done"}, OnKernel: k.add}, nil)
	if code != 0 || !strings.Contains(out, "got-usr1") || !strings.Contains(out, "done") {
		t.Errorf("exit %d output %q", code, out)
	}
	e, ok := k.find("kill(0, SIGUSR1)")
	if !ok || e.Refused || e.PID == 0 || !strings.HasPrefix(e.Cmdline, "sh -c") {
		t.Errorf("kill(0) event %+v (found %v)", e, ok)
	}
	if _, ok := k.find("kill(-1, 0)"); !ok {
		t.Errorf("no kill(-1) event: %+v", k.evs)
	}
}
