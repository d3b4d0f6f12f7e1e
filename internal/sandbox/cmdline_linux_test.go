package sandbox

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openCmdlines counts this process's open /proc/PID/cmdline files.
func openCmdlines(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasSuffix(l, "/cmdline") {
			n++
		}
	}
	return n
}

// waitCmdline waits until a process just started has its command line
// (the exec may still be under way when Start returns).
func waitCmdline(t *testing.T, pid int, want string) {
	t.Helper()
	path := "/proc/" + strconv.Itoa(pid) + "/cmdline"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(path)
		if strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %q, want %q", path, b, want)
		}
	}
}

// The kept file follows the process through exec and fails once it has
// exited; it is never another process's command line.
func TestCmdlinesFollowExecAndExit(t *testing.T) {
	cmd := exec.Command("sh", "-c", "read line; exec sleep 99")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var c cmdlines
	defer c.close()
	pid := cmd.Process.Pid
	waitCmdline(t, pid, "sh -c read line; exec sleep 99")
	if got, err := c.read(pid); err != nil || got != "sh -c read line; exec sleep 99" {
		t.Fatalf("read = %q, %v, want the shell's command line", got, err)
	}
	if c.get(pid) == nil {
		t.Fatal("the file was not kept")
	} else {
		c.put(c.files[pid])
	}
	in.Write([]byte("go\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.read(pid)
		if err != nil {
			t.Fatalf("read after exec: %v", err)
		}
		if got == "sleep 99" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read = %q after exec, want %q", got, "sleep 99")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got, err := c.read(pid); err == nil && got != "" {
		t.Errorf("read after exit = %q, want an error", got)
	}
}

// At most keptCmdlines files stay open, and close releases them all.
func TestCmdlinesBounded(t *testing.T) {
	before := openCmdlines(t)
	var c cmdlines
	var cmds []*exec.Cmd
	defer func() {
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	for i := range keptCmdlines + 4 {
		// sleep adds its operands up: each process has its own line.
		cmd := exec.Command("sleep", append([]string{"99"}, strings.Fields(strings.Repeat("1 ", i+1))...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		want := "sleep 99" + strings.Repeat(" 1", i+1)
		waitCmdline(t, cmd.Process.Pid, want)
		for range 2 { // opened, then read through the kept file
			if got, err := c.read(cmd.Process.Pid); err != nil || got != want {
				t.Fatalf("read = %q, %v, want %q", got, err, want)
			}
		}
	}
	if n := len(c.files); n != keptCmdlines {
		t.Errorf("%d files kept, want %d", n, keptCmdlines)
	}
	if extra := openCmdlines(t) - before; extra != keptCmdlines {
		t.Errorf("%d more fds open, want %d", extra, keptCmdlines)
	}
	c.close()
	if extra := openCmdlines(t) - before; extra != 0 {
		t.Errorf("%d more fds open after close, want 0", extra)
	}
}
