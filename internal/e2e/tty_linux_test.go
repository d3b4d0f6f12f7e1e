package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper command (run inside the
// sandbox) instead of running the tests.
const helperEnv = "BUILDWALL_E2E_HELPER"

// sigcount prints "ready", waits for a SIGINT, then keeps counting SIGINTs
// for a while (a duplicate forwarded by buildwall arrives within
// milliseconds) and prints "sigint N".
func sigcount() int {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGINT)
	fmt.Println("ready")
	<-ch
	n := 1
	settle := time.After(time.Second)
	for {
		select {
		case <-ch:
			n++
		case <-settle:
			fmt.Printf("sigint %d\n", n)
			return 0
		}
	}
}

// openPTY returns the master and the slave of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	return m, s
}

// TestCtrlCReachesCommandOnce: on a terminal, Ctrl-C sends SIGINT to the
// whole foreground process group, buildwall and the command alike. The
// command must see it once, not once from the terminal and again
// forwarded by buildwall (and by the sandbox's init).
func TestCtrlCReachesCommandOnce(t *testing.T) {
	skipWithoutUserns(t)
	master, slave := openPTY(t)
	cmd := exec.Command(bin, "run", "--", os.Args[0])
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), helperEnv+"=sigcount")
	lines := startOnTerminal(t, cmd, master, slave)
	var out []string
	for l := range lines {
		out = append(out, l)
		if l == "ready" {
			break
		}
	}
	if _, err := master.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	got := ""
	for l := range lines {
		out = append(out, l)
		if i := strings.Index(l, "sigint "); i >= 0 { // after the echoed ^C
			got = l[i:]
		}
	}
	cmd.Wait()
	if got != "sigint 1" {
		t.Errorf("command saw %q, want \"sigint 1\"; terminal output:\n%s", got, strings.Join(out, "\n"))
	}
}

// TestSIGINTToBuildwallIsForwardedOnce: without a terminal (a CI runner
// stopping the job), SIGINT sent to buildwall alone reaches the command,
// exactly once (the init no longer forwards on its own).
func TestSIGINTToBuildwallIsForwardedOnce(t *testing.T) {
	skipWithoutUserns(t)
	cmd := exec.Command(bin, "run", "--", os.Args[0])
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), helperEnv+"=sigcount")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		t.Fatalf("command did not start: %q %s", sc.Text(), stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	cmd.Wait()
	if strings.Join(rest, "\n") != "sigint 1" {
		t.Errorf("output after ready %q, want \"sigint 1\"\n%s", rest, stderr.String())
	}
}

// startOnTerminal starts cmd as the foreground of the pty (a new session
// whose controlling terminal, stdin, stdout and stderr are slave, so its
// process group is the terminal's foreground group, as in a shell), closes
// our copy of slave and streams what the terminal shows, a line at a time
// with carriage returns trimmed; the channel closes when the terminal does.
func startOnTerminal(t *testing.T, cmd *exec.Cmd, master, slave *os.File) <-chan string {
	t.Helper()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return lines
}
