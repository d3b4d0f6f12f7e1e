package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/report"
)

// The kernel-surface and process bypass table (issue 9, classes 2, 3 and
// 5): each case runs a build through the real binary in block mode, as
// root and as nobody, that tries one way around the sandbox, and checks
// that the attempt failed, what the report and the events stream say, and
// buildwall's exit code. Every case also checks that the report, the
// events file and the step summary are complete at the requested paths.

// Where the run's own files go: each in a directory of its own, so a case
// can swap one directory without touching the others.
const (
	reportPath  = "out/r/run.json"
	eventsPath  = "out/e/events.jsonl"
	summaryPath = "out/s/summary.md"
)

type bypassCase struct {
	name   string
	policy string // lines added to "mode: block\nallow: []\n"
	// args is the command; $P is the probe helper, $A the directory of
	// the ABI probes, $S a unix socket the test serves under /run.
	args []string
	pty  bool
	// needs names a prerequisite: "abi" (gcc built the ABI probes) or
	// "unshare" (util-linux's unshare(1)).
	needs string
	// wantExit is buildwall's exit status: 1 when something was blocked
	// and the command exited 0, the command's own status otherwise.
	wantExit int
	// wantOut are substrings of the command's output (per user when the
	// map has the user's name, else under "").
	wantOut map[string][]string
	// wantReason, when set, is a substring of a process event's reason
	// that the report and the events stream must both hold, with
	// wantVerdict.
	wantReason  string
	wantVerdict event.Verdict
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func out(s ...string) map[string][]string { return map[string][]string{"": s} }

var bypassCases = []bypassCase{
	{name: "vsock_socket", args: []string{"$P", "vsock"}, wantExit: 1, wantOut: out("vsock: EAFNOSUPPORT"),
		wantReason: "socket(AF_VSOCK) refused (EAFNOSUPPORT)", wantVerdict: event.VerdictBlock},
	{name: "vsock_socketpair", args: []string{"$P", "vsock-pair"}, wantExit: 1, wantOut: out("vsock-pair: EAFNOSUPPORT"),
		wantReason: "socketpair(AF_VSOCK) refused", wantVerdict: event.VerdictBlock},
	{name: "packet_socket", args: []string{"$P", "packet"}, wantExit: 1, wantOut: out("packet: EAFNOSUPPORT"),
		wantReason: "socket(AF_PACKET) refused", wantVerdict: event.VerdictBlock},
	{name: "alg_socket", args: []string{"$P", "alg"}, wantExit: 1, wantOut: out("alg: EAFNOSUPPORT"),
		wantReason: "socket(AF_ALG) refused", wantVerdict: event.VerdictBlock},
	{name: "raw_inet_socket", args: []string{"$P", "raw"}, wantExit: 1, wantOut: out("raw: EPERM"),
		wantReason: "socket(AF_INET, SOCK_RAW) refused (EPERM)", wantVerdict: event.VerdictBlock},
	{name: "io_uring", args: []string{"$P", "io_uring"}, wantExit: 1, wantOut: out("io_uring: ENOSYS"),
		wantReason: "io_uring_setup refused (ENOSYS)", wantVerdict: event.VerdictBlock},
	{name: "i386_socketcall", needs: "abi", args: sh("$A/i386; echo i386=$?"), wantExit: 1, wantOut: out("i386=38"),
		wantReason: "i386 socketcall refused (ENOSYS)", wantVerdict: event.VerdictBlock},
	{name: "x32_socket", needs: "abi", args: sh("$A/x32; echo x32=$?"), wantExit: 1, wantOut: out("x32=38"),
		wantReason: "x32 syscall 41 refused (ENOSYS)", wantVerdict: event.VerdictBlock},
	// MPTCP is downgraded: the client's fallback to TCP goes through the
	// proxy like any connection, so nothing fails the run.
	{name: "mptcp_downgraded", args: []string{"$P", "mptcp", "tcp"}, wantExit: 0, wantOut: out("mptcp: EPROTONOSUPPORT", "tcp: ok"),
		wantReason: "IPPROTO_MPTCP) refused (EPROTONOSUPPORT): downgraded", wantVerdict: event.VerdictAllow},
	// Prevented, not reported: the kernel says nothing about a write to a
	// read-only mount or a lookup that finds nothing.
	{name: "sysctl_write", args: []string{"$P", "sysctl"}, wantExit: 0,
		wantOut: map[string][]string{"root": {"sysctl: EROFS"}, "rootless": {"sysctl: EACCES"}}},
	{name: "run_socket_hidden", args: []string{"$P", "unix=$S"}, wantExit: 0, wantOut: out("unix: ENOENT")},
	{name: "run_socket_listed", policy: "unix-sockets: [$S]\n", args: []string{"$P", "unix=$S"}, wantExit: 0, wantOut: out("unix: ok")},
	{name: "tiocsti", pty: true, args: []string{"$P", "tiocsti", "tiocsti-tty"}, wantExit: 1, wantOut: out("tiocsti: EPERM", "tiocsti-tty: EPERM"),
		wantReason: "ioctl(TIOCSTI) refused (EPERM)", wantVerdict: event.VerdictBlock},
	{name: "tioclinux", pty: true, args: []string{"$P", "tioclinux"}, wantExit: 1, wantOut: out("tioclinux: EPERM"),
		wantReason: "ioctl(TIOCLINUX) refused (EPERM)", wantVerdict: event.VerdictBlock},
	{name: "kill_KILL_0", args: sh("kill -KILL 0"), wantExit: 137,
		wantReason: "kill(0, SIGKILL)", wantVerdict: event.VerdictAllow},
	{name: "kill_STOP_0", args: sh("kill -STOP 0; echo continued"), wantExit: 137,
		wantReason: "command stopped by SIGSTOP for 5s", wantVerdict: event.VerdictBlock},
	{name: "kill_TERM_all", args: sh("kill -TERM -1; echo survived"), wantExit: 0, wantOut: out("survived"),
		wantReason: "kill(-1, SIGTERM)", wantVerdict: event.VerdictAllow},
	{name: "kill_KILL_all", args: sh("kill -KILL -1; echo survived"), wantExit: 0, wantOut: out("survived"),
		wantReason: "kill(-1, SIGKILL)", wantVerdict: event.VerdictAllow},
	{name: "kill_TERM_init", args: sh("kill -TERM 1; kill -ABRT 1; kill -SEGV 1; echo init-alive"), wantExit: 0, wantOut: out("init-alive")},
	// The run's own files: direct attempts fail inside the sandbox...
	{name: "report_rm_and_write", args: sh("rm -f " + reportPath + " || echo rm-failed; echo '{}' > " + reportPath + " || echo write-failed; cat " + reportPath + "; echo end"),
		wantExit: 0, wantOut: out("rm-failed", "write-failed")},
	{name: "events_and_summary_rm", args: sh("rm -f " + eventsPath + " " + summaryPath + " || echo rm-failed"), wantExit: 0, wantOut: out("rm-failed")},
	// A nested user and mount namespace gives the build every capability
	// over a copy of the sandbox's mounts, but the copies are locked: the
	// covers cannot be taken off.
	{name: "nested_namespace_unmount", needs: "unshare", args: sh(`unshare -Urm sh -c 'umount ` + reportPath + `; echo umount-report=$?; umount /run; echo umount-run=$?; echo x > ` + reportPath + `; echo write=$?'`),
		wantExit: 0, wantOut: out("umount-report=32", "umount-run=32", "write=2")},
	// ... and getting around the hiding (the directory above swapped) is
	// detected, recorded and undone.
	{name: "report_deleted", args: sh("mv out/r out/r.old && mkdir out/r && echo swapped"), wantExit: 1, wantOut: out("swapped"),
		wantReason: "report path tampered: deleted", wantVerdict: event.VerdictBlock},
	{name: "report_replaced", args: sh(`mv out/r out/r.old && mkdir out/r && echo '{"schema":"buildwall.run/v1","exit_code":0,"events":[]}' > ` + reportPath + " && echo forged"),
		wantExit: 1, wantOut: out("forged"), wantReason: "report path tampered: replaced", wantVerdict: event.VerdictBlock},
	{name: "events_deleted", args: sh("mv out/e out/e.old && mkdir out/e && echo swapped"), wantExit: 1, wantOut: out("swapped"),
		wantReason: "report path tampered: deleted", wantVerdict: event.VerdictBlock},
	{name: "step_summary_deleted", args: sh("mv out/s out/s.old && echo swapped"), wantExit: 1, wantOut: out("swapped"),
		wantReason: "report path tampered: deleted", wantVerdict: event.VerdictBlock},
}

var (
	abiOnce sync.Once
	abiDir  string
	abiErr  error
)

// abiProbes builds the i386 and x32 probes (testdata/abi.S) with gcc into
// the directory of the binary, which every user can read.
func abiProbes() (string, error) {
	abiOnce.Do(func() {
		dir := filepath.Dir(bin)
		for _, p := range []string{"i386", "x32"} {
			c := exec.Command("gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-e,"+p+"_start", "-o", filepath.Join(dir, p), "testdata/abi.S")
			if b, err := c.CombinedOutput(); err != nil {
				abiErr = fmt.Errorf("gcc: %v: %s", err, b)
				return
			}
		}
		abiDir = dir
	})
	return abiDir, abiErr
}

var (
	probeOnce sync.Once
	probeBin  string
)

// probeHelper is a copy of the test binary that every user can run.
func probeHelper(t *testing.T) string {
	probeOnce.Do(func() {
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			p := filepath.Join(filepath.Dir(bin), "probe")
			if os.WriteFile(p, b, 0o755) == nil {
				probeBin = p
			}
		}
	})
	if probeBin == "" {
		t.Fatal("cannot copy the test binary for the probe helper")
	}
	return probeBin
}

// runSocket serves a unix socket under /run for the run_socket cases.
func runSocket(t *testing.T) string {
	t.Helper()
	p := fmt.Sprintf("/run/buildwall-e2e-%d-%d.sock", os.Getpid(), time.Now().UnixNano())
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Skipf("cannot serve a socket under /run: %v", err)
	}
	os.Chmod(p, 0o777)
	t.Cleanup(func() { l.Close(); os.Remove(p) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return p
}

func TestKernelBypassTable(t *testing.T) {
	skipWithoutUserns(t)
	if os.Getuid() != 0 {
		t.Skip("needs root: the table runs as root and as nobody, and serves a socket under /run")
	}
	helper := probeHelper(t)
	sock := runSocket(t)
	abstract := abstractSocket(t)
	users := []struct {
		name string
		uid  int
	}{{"root", 0}, {"rootless", 65534}}
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			for _, tc := range append(bypassCases, redteamCases...) {
				t.Run(tc.name, func(t *testing.T) {
					abi := ""
					if tc.needs == "unshare" {
						if _, err := exec.LookPath("unshare"); err != nil {
							t.Skip("no unshare(1)")
						}
					}
					if tc.needs == "abi" {
						d, err := abiProbes()
						if err != nil {
							t.Skipf("cannot build the ABI probes: %v", err)
						}
						abi = d
					}
					expand := strings.NewReplacer("$P", helper, "$A", abi, "$S", sock, "$U", abstract)
					args := make([]string, len(tc.args))
					for i, a := range tc.args {
						args[i] = expand.Replace(a)
					}
					runBypassCase(t, u.name, u.uid, tc, expand.Replace(tc.policy), args)
				})
			}
		})
	}
}

func runBypassCase(t *testing.T, user string, uid int, tc bypassCase, policy string, args []string) {
	dir := workdir(t, uid)
	for _, d := range []string{"out/r", "out/e", "out/s"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "policy.yml"), []byte("mode: block\nallow: []\n"+policy), 0o644)
	os.WriteFile(filepath.Join(dir, summaryPath), []byte("earlier step\n"), 0o644)
	filepath.Walk(filepath.Join(dir, "out"), func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, uid) })
	var cred *syscall.Credential
	if uid != os.Getuid() {
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	}
	env := []string{"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, summaryPath), "HOME=" + dir, helperEnv + "=probe"}
	full := append([]string{"run", "--policy", "policy.yml", "--report", reportPath, "--events", eventsPath, "--"}, args...)
	var r result
	if tc.pty {
		r = buildwallPTY(t, dir, cred, env, full...)
	} else {
		r = buildwall(t, dir, cred, env, full...)
	}
	if r.code != tc.wantExit {
		t.Errorf("exit %d, want %d", r.code, tc.wantExit)
	}
	want := tc.wantOut[user]
	if want == nil {
		want = tc.wantOut[""]
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("command output lacks %q", w)
		}
	}
	checkOutputs(t, dir, tc)
}

// checkOutputs: the report, the events stream and the step summary are
// buildwall's own and complete, at the requested paths.
func checkOutputs(t *testing.T, dir string, tc bypassCase) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, reportPath))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if rep.ExitCode != tc.wantExit || rep.End.IsZero() || rep.Policy == nil {
		t.Errorf("report incomplete or not buildwall's: exit %d end %v policy %v", rep.ExitCode, rep.End, rep.Policy)
	}
	ef, err := os.Open(filepath.Join(dir, eventsPath))
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	defer ef.Close()
	events, err := event.ReadJSONLines(bufio.NewReader(ef))
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(events) != len(rep.Events) {
		t.Errorf("events file holds %d events, the report %d", len(events), len(rep.Events))
	}
	if tc.wantReason != "" {
		for what, evs := range map[string][]event.Event{"report": rep.Events, "events file": events} {
			found := false
			for _, e := range evs {
				if e.Kind == event.KindProcess && strings.Contains(e.Reason, tc.wantReason) && e.Verdict == tc.wantVerdict {
					found = true
				}
			}
			if !found {
				t.Errorf("%s has no %s process event with reason %q: %+v", what, tc.wantVerdict, tc.wantReason, evs)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, summaryPath))
	if err != nil {
		t.Fatalf("step summary: %v", err)
	}
	if !bytes.HasPrefix(md, []byte("earlier step\n")) || !bytes.Contains(md, []byte("### buildwall run")) {
		t.Errorf("step summary is not the earlier steps' plus buildwall's:\n%s", md)
	}
}

// buildwallPTY runs the binary as the foreground of a new terminal (as in
// an interactive shell) and returns what the terminal showed as stdout.
// It also checks that nothing was pushed into that terminal's input.
func buildwallPTY(t *testing.T, dir string, cred *syscall.Credential, env []string, args ...string) result {
	t.Helper()
	master, slave := openPTY(t)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&buf, master)
	}()
	err := cmd.Wait()
	if n, ierr := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ); ierr != nil || n != 0 {
		t.Errorf("the caller's terminal has %d bytes of input pending (%v): something was pushed into it", n, ierr)
	}
	slave.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("terminal output did not end")
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(buf.String(), "\r", "")
	t.Logf("buildwall %s (on a terminal) → exit %d\n%s", strings.Join(args, " "), code, s)
	return result{code: code, stdout: s}
}

// TestTerminalSizeFollowsCaller: on a terminal, the command's pty starts
// with the caller's window size and follows it when it changes; the
// caller's terminal is in raw mode meanwhile and back as it was after.
func TestTerminalSizeFollowsCaller(t *testing.T) {
	skipWithoutUserns(t)
	master, slave := openPTY(t)
	before, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--", probeHelper(t), "winsize")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), helperEnv+"=probe")
	lines := startOnTerminal(t, cmd, master, slave)
	var got []string
	for l := range lines {
		got = append(got, l)
		if strings.HasSuffix(l, "ready") {
			if raw, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS); err != nil || raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
				t.Errorf("caller's terminal not in raw mode during the run: lflag %#x (%v)", raw.Lflag, err)
			}
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 120})
		}
	}
	cmd.Wait()
	after, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	if err != nil || after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("caller's terminal not restored: before %+v after %+v (%v)", before, after, err)
	}
	text := strings.Join(got, "\n")
	if !strings.Contains(text, "size 40x100") || !strings.Contains(text, "size 50x120") {
		t.Errorf("the command saw other sizes than 40x100 then 50x120:\n%s", text)
	}
}

// TestOutputTerminalIsRelayed: with stdin not a terminal but stdout one
// (`buildwall run -- cmd < /dev/null` in a shell), the command still never
// holds the caller's terminal: its stdout is buildwall's pty, relayed.
func TestOutputTerminalIsRelayed(t *testing.T) {
	skipWithoutUserns(t)
	master, slave := openPTY(t)
	callers, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", slave.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--", probeHelper(t), "stdout-tty", "tiocsti")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), helperEnv+"=probe")
	cmd.Stdout, cmd.Stderr = slave, slave // stdin: /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&buf, master)
	}()
	cmd.Wait()
	<-done
	text := strings.ReplaceAll(buf.String(), "\r", "")
	if !strings.Contains(text, "stdout is /dev/pts/") || strings.Contains(text, "stdout is "+callers+"\n") {
		t.Errorf("the command's stdout is not a pty of buildwall's (caller's is %s):\n%s", callers, text)
	}
	if !strings.Contains(text, "tiocsti: EPERM") {
		t.Errorf("TIOCSTI on stdin not refused:\n%s", text)
	}
}
