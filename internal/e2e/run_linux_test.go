package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/report"
)

// bin is the buildwall binary built for the tests, in a directory every
// user can read (the rootless test runs it as nobody).
var bin string

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sigcount":
		os.Exit(sigcount())
	case "probe":
		os.Exit(probe(os.Args[1:]))
	}
	if os.Getenv(helperEnv) == "measure" {
		os.Exit(measureHelper())
	}
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "buildwall-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o755)
		bin = filepath.Join(dir, "buildwall")
		build := exec.Command("go", "build", "-o", bin, "github.com/buildwall/buildwall/cmd/buildwall")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build buildwall:", err)
			return 1
		}
		return m.Run()
	}())
}

type result struct {
	code           int
	stdout, stderr string
}

// buildwall runs the binary in dir; cred, if set, is the user to run as.
func buildwall(t *testing.T, dir string, cred *syscall.Credential, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run buildwall: %v", err)
	}
	r := result{code, stdout.String(), stderr.String()}
	t.Logf("buildwall %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

func skipWithoutUserns(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces unavailable")
	}
}

// workdir is a directory the given uid can write to.
func workdir(t *testing.T, uid int) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != "/" && p != "."; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			os.Chmod(p, st.Mode().Perm()|0o011)
		}
	}
	if uid != os.Getuid() {
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestRunBlocksAndReports runs the binary as root and, through a user
// namespace, as nobody: the command sees its own uid, its exit status
// passes through, a blocked lookup fails the run (exit 1), and the report,
// the event stream and the GitHub step summary all record it.
func TestRunBlocksAndReports(t *testing.T) {
	skipWithoutUserns(t)
	users := []struct {
		name string
		uid  int
	}{{"root", 0}, {"rootless", 65534}}
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			if os.Getuid() != 0 && u.uid != os.Getuid() {
				t.Skip("needs root to switch users")
			}
			var cred *syscall.Credential
			if u.uid != os.Getuid() {
				cred = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.uid)}
			}
			dir := workdir(t, u.uid)
			env := []string{"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"), "HOME=" + dir}

			r := buildwall(t, dir, cred, env, "run", "--", "sh", "-c", "exit 7")
			if r.code != 7 {
				t.Errorf("exit %d, want the command's 7", r.code)
			}

			r = buildwall(t, dir, cred, env, "run", "--mode", "block", "--report", "run.json", "--events", "events.jsonl",
				"--", "sh", "-c", "id -u; getent hosts c2.evil.test || echo lookup-failed; exit 0")
			if r.code != 1 {
				t.Errorf("exit %d, want 1 (blocked in block mode)", r.code)
			}
			if want := fmt.Sprintf("%d\nlookup-failed\n", u.uid); r.stdout != want {
				t.Errorf("stdout %q, want %q", r.stdout, want)
			}
			if !strings.Contains(r.stderr, "c2.evil.test") {
				t.Errorf("stderr summary does not name the blocked host")
			}
			f, err := os.Open(filepath.Join(dir, "run.json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := report.ReadJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Schema != "buildwall.run/v1" || rep.ExitCode != 1 || len(rep.Events) == 0 {
				t.Errorf("report: schema %q exit %d events %d", rep.Schema, rep.ExitCode, len(rep.Events))
			}
			ef, err := os.Open(filepath.Join(dir, "events.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			events, err := event.ReadJSONLines(bufio.NewReader(ef))
			if err != nil {
				t.Fatal(err)
			}
			blocked := 0
			for _, e := range events {
				if e.Kind == event.KindDNS && e.Name == "c2.evil.test" && e.Verdict == event.VerdictBlock {
					blocked++
					if !strings.Contains(e.Cmdline, "getent") {
						t.Errorf("event attributed to %q, want getent", e.Cmdline)
					}
				}
			}
			if blocked == 0 {
				j, _ := json.Marshal(events)
				t.Errorf("no blocked dns event for c2.evil.test in the stream: %s", j)
			}
			md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
			if !strings.Contains(string(md), "c2.evil.test") {
				t.Errorf("step summary does not name the blocked host:\n%s", md)
			}
		})
	}
}

// TestPolicyErrorStopsBeforeRunning: a bad policy is a usage error naming
// file:line, and the command never runs.
func TestPolicyErrorStopsBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "policy.yml"), []byte("mode: block\nallow:\n  - github.com\nalow: [x]\n"), 0o644)
	r := buildwall(t, dir, nil, nil, "run", "--policy", "policy.yml", "--", "touch", "ran")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if !strings.Contains(r.stderr, "policy.yml:4:") {
		t.Errorf("stderr %q does not name policy.yml:4", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran despite the policy error")
	}
}

// TestSandboxUnavailable: when user namespaces are refused, run exits 125
// naming the setting, and runs nothing, unless --unsafe-no-sandbox is
// given. The refusal is real: a user namespace of the test's own in which
// user.max_user_namespaces is 0.
func TestSandboxUnavailable(t *testing.T) {
	skipWithoutUserns(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	run := func(extra string) (int, string) {
		script := fmt.Sprintf("echo 0 > /proc/sys/user/max_user_namespaces && exec %s run %s -- touch ran", bin, extra)
		cmd := exec.Command("unshare", "--user", "--map-root-user", "sh", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", out)
		return code, string(out)
	}
	code, out := run("")
	if code != 125 || !strings.Contains(out, "user.max_user_namespaces") {
		t.Errorf("exit %d output %q, want 125 naming user.max_user_namespaces", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatal("the command ran without a sandbox")
	}
	code, out = run("--unsafe-no-sandbox")
	if code != 0 || !strings.Contains(out, "WITHOUT ANY NETWORK FILTERING") {
		t.Errorf("exit %d output %q, want 0 and a loud warning", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err != nil {
		t.Error("--unsafe-no-sandbox did not run the command")
	}
}

// TestSignalForwarding: SIGTERM sent to buildwall reaches the command,
// whose exit status passes through, and the report is still written.
func TestSignalForwarding(t *testing.T) {
	skipWithoutUserns(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--report", "run.json", "--", "sh", "-c",
		`trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done`)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		t.Fatalf("command did not start: %q %s", sc.Text(), stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 3 || strings.Join(rest, "\n") != "got-term" {
		t.Errorf("exit %d, output after ready %q; want 3 and got-term\n%s", code, rest, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "run.json")); err != nil {
		t.Errorf("no report after SIGTERM: %v", err)
	}
}
