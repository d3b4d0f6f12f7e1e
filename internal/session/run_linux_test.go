package session

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/event"
)

// TestAuditMode lets what block mode would refuse through (to the test
// world only: the dialer refuses everything else) and flags it.
func TestAuditMode(t *testing.T) {
	w := newWorld(t)
	oc := w.run(t, "mode: audit\nallow: [allowed.test]\n", helperArgs("get", "http://evil.test/z"))
	if oc.err != nil || oc.res.ExitCode != 0 {
		t.Fatalf("exit %+v, %v", oc.res, oc.err)
	}
	if !strings.Contains(oc.out, "200 hello from evil.test") {
		t.Errorf("output %q: audit mode must let the request through", oc.out)
	}
	for _, want := range []event.Event{
		{Kind: event.KindDNS, Verdict: event.VerdictAudit, Name: "evil.test", Reason: "not in policy"},
		{Kind: event.KindConnect, Verdict: event.VerdictAudit, Name: "evil.test", Port: 80, Reason: "not in policy"},
	} {
		if len(find(oc.events, want)) == 0 {
			t.Errorf("no event like %+v:\n%s", want, dumpEvents(oc.events))
		}
	}
	if oc.res.Blocked != 0 {
		t.Errorf("blocked = %d in audit mode", oc.res.Blocked)
	}
}

// TestExitCodes: the command's status passes through; block mode turns a
// successful command that had something blocked into ExitBlocked unless
// FailOnBlock is off.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		policy      string
		args        []string
		failOnBlock bool
		want        int
	}{
		{"command_status", blockPolicy, []string{"sh", "-c", "exit 42"}, true, 42},
		{"killed_by_signal", blockPolicy, []string{"sh", "-c", "kill -KILL $$"}, true, 128 + 9},
		{"blocked_fails_run", blockPolicy, []string{"sh", "-c", os.Args[0] + " __helper tcp 192.0.2.1:443; exit 0"}, true, ExitBlocked},
		{"no_fail_on_block", blockPolicy, []string{"sh", "-c", os.Args[0] + " __helper tcp 192.0.2.1:443; exit 0"}, false, 0},
		{"command_failure_wins", blockPolicy, []string{"sh", "-c", os.Args[0] + " __helper tcp 192.0.2.1:443; exit 5"}, true, 5},
		{"audit_never_fails", "mode: audit\nallow: []\n", []string{"sh", "-c", os.Args[0] + " __helper udp 192.0.2.1:9; exit 0"}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			oc := w.run(t, tc.policy, tc.args, func(o *Options) { o.FailOnBlock = tc.failOnBlock })
			if oc.err != nil {
				t.Fatalf("Run: %v", oc.err)
			}
			if oc.res.ExitCode != tc.want {
				t.Errorf("exit code %d, want %d", oc.res.ExitCode, tc.want)
			}
			if oc.report == nil || oc.report.Schema != "buildwall.run/v1" || oc.report.ExitCode != tc.want {
				t.Errorf("report %+v, want schema buildwall.run/v1 and exit code %d", oc.report, tc.want)
			}
		})
	}
}

// TestSignalIsForwardedAndReportWritten: SIGTERM reaches the command, the
// processes it left are killed, and the report still lists what happened.
func TestSignalIsForwardedAndReportWritten(t *testing.T) {
	w := newWorld(t)
	sigs := make(chan os.Signal, 1)
	pr, pw := io.Pipe()
	go func() {
		// Signal once the command is up and has done something.
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sleeping") {
				sigs <- syscall.SIGTERM
			}
		}
	}()
	script := fmt.Sprintf("%[1]s __helper dig 8.8.8.8 evil.test; %[1]s __helper sleep & %[1]s __helper sleep", os.Args[0])
	oc := w.run(t, blockPolicy, []string{"sh", "-c", script}, func(o *Options) {
		o.Signals = sigs
		o.Stdout = pw
	})
	pw.Close()
	if oc.err != nil {
		t.Fatalf("Run: %v", oc.err)
	}
	if oc.res.CommandExit != 128+int(syscall.SIGTERM) {
		t.Errorf("command exit %d, want %d", oc.res.CommandExit, 128+int(syscall.SIGTERM))
	}
	if oc.report == nil || len(find(oc.report.Events, event.Event{Kind: event.KindDNS, Name: "evil.test"})) == 0 {
		t.Errorf("report lacks the DNS query made before the signal")
	}
	if out := psHelpers(t); out != "" {
		t.Errorf("sandboxed processes survived: %s", out)
	}
}

// psHelpers lists processes running the test helper's sleep.
func psHelpers(t *testing.T) string {
	t.Helper()
	var found []string
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range pids {
		b, _ := os.ReadFile(p)
		if s := strings.ReplaceAll(string(b), "\x00", " "); strings.HasPrefix(s, os.Args[0]+" __helper sleep") {
			found = append(found, p)
		}
	}
	return strings.Join(found, " ")
}

// TestNothingLeftBehind: after Run returns, the run's network namespace is
// gone (so are its nftables rules and listeners), no process survived and
// no temporary file was written.
func TestNothingLeftBehind(t *testing.T) {
	skipWithoutSandbox(t)
	tmpBefore := dirNames(os.TempDir())
	w := newWorld(t)
	oc := w.run(t, blockPolicy, []string{"sh", "-c", "readlink /proc/self/ns/net; " + os.Args[0] + " __helper sleep & " + os.Args[0] + " __helper get http://allowed.test/"})
	if oc.err != nil || oc.res.CommandExit != 0 {
		t.Fatalf("Run: %+v %v", oc.res, oc.err)
	}
	netns, _, _ := strings.Cut(oc.out, "\n")
	if !strings.HasPrefix(netns, "net:[") {
		t.Fatalf("output %q does not start with the sandbox's netns", oc.out)
	}
	if netns == mustReadlink(t, "/proc/self/ns/net") {
		t.Fatal("the command ran in the host's network namespace")
	}
	deadline := time.Now().Add(10 * time.Second)
	for netnsSet()[netns] {
		if time.Now().After(deadline) {
			t.Fatalf("network namespace %s still exists", netns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := psHelpers(t); out != "" {
		t.Errorf("sandboxed processes survived: %s", out)
	}
	if extra := diff(dirNames(os.TempDir()), tmpBefore); len(extra) != 0 {
		t.Errorf("temporary files left behind: %v", extra)
	}
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// netnsSet is every network namespace referenced by a process or an fd.
func netnsSet() map[string]bool {
	out := map[string]bool{}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		if l, err := os.Readlink(p + "/ns/net"); err == nil {
			out[l] = true
		}
		fds, _ := filepath.Glob(p + "/fd/*")
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "net:[") {
				out[l] = true
			}
		}
	}
	return out
}

func dirNames(dir string) map[string]bool {
	out := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		// Other packages' tests may run at the same time: only names a
		// run of ours could have written count.
		if n := e.Name(); strings.Contains(n, "buildwall") && !strings.HasPrefix(n, "buildwall-e2e-") || strings.Contains(n, "resolv") || strings.Contains(n, "sandbox") {
			out[e.Name()] = true
		}
	}
	return out
}

func diff(now, before map[string]bool) []string {
	var out []string
	for k := range now {
		if !before[k] {
			out = append(out, k)
		}
	}
	return out
}

// TestDropAggregation: repeated drops to one destination add up, the first
// is reported at once, and the counts sum to the packets dropped.
func TestDropAggregation(t *testing.T) {
	rec := event.NewRecorder(nil, nil)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newDropAggregator(rec, func() time.Time { return clock })
	a.listening = func(port uint16) bool { return port == 5432 }
	udp := sandboxDrop("udp", "192.0.2.1:9")
	for i := 0; i < 5; i++ {
		a.add(udp)
		clock = clock.Add(300 * time.Millisecond) // 0, .3, .6, .9, 1.2 s
	}
	a.add(refusedDrop("127.0.0.1:5432")) // the runner serves 5432: reported
	a.add(refusedDrop("127.0.0.1:8080")) // nobody does: the build's own business
	a.flush()
	var got []string
	for _, e := range rec.Events() {
		got = append(got, fmt.Sprintf("%s %s %s:%d count=%d %s", e.Verdict, e.Proto, e.IP, e.Port, e.Count, e.Reason))
	}
	want := []string{
		"block udp 192.0.2.1:9 count=1 protocol not proxied",
		"block udp 192.0.2.1:9 count=4 protocol not proxied",
		"block tcp 127.0.0.1:5432 count=1 loopback port not in host-ports (the runner serves this port; the sandbox has its own loopback)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}
