package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scanRun is one buildwall scan run as a subprocess.
type scanRun struct {
	code           int
	stdout, stderr string
}

// scanEnv keeps a scan from reading the machine's npm configuration or
// starting npm, and gives it an empty cache.
func scanEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"npm_config_registry=https://registry.example/", "YARN_REGISTRY=https://registry.example/",
		"BUILDWALL_DB=" + filepath.Join(home, "db"), "GITHUB_TOKEN=",
	}
}

// scanAddressSpace is the address-space limit (RLIMIT_AS) scans run
// under: the Go runtime reserves about 700 MB of address space at start,
// so 2 GiB leaves room for a normal scan and none for reading /dev/zero
// or a stream without bound. A scan over it dies, and the test fails.
const scanAddressSpace = 2 << 30

// runScan runs the binary with stdout and stderr as pipes (as in CI, so a
// link to /proc/self/fd/1 is the scan's own output pipe), under
// scanAddressSpace when prlimit(1) is installed, kills it after limit and
// fails the test if it had to. (The rusage of a child cannot bound its
// memory here: Linux charges a child the parent's peak RSS up to exec.)
func runScan(t *testing.T, dir string, cred *syscall.Credential, env []string, limit time.Duration, args ...string) scanRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if prlimit, err := exec.LookPath("prlimit"); err == nil {
		cmd = exec.Command(prlimit, append([]string{"--as=" + strconv.Itoa(scanAddressSpace), "--", bin}, args...)...)
	} else {
		t.Log("prlimit not installed: memory not bounded in this run")
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("buildwall %s did not finish in %v (killed)", strings.Join(args, " "), limit)
	}
	r := scanRun{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.stderr, "out of memory") || strings.Contains(r.stderr, "fatal error") {
		t.Errorf("buildwall %s ran out of its %d-byte address space or crashed:\n%s", strings.Join(args, " "), scanAddressSpace, r.stderr)
	}
	return r
}

type scanReport struct {
	Findings []struct {
		Rule, Path, Message string
	}
	Incomplete bool
}

func decodeReport(t *testing.T, out string) scanReport {
	t.Helper()
	var rep scanReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan output is not JSON: %v\n%s", err, out)
	}
	return rep
}

// cleanText reports the first control character other than newline in s.
func cleanText(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return r, false
		}
	}
	return 0, true
}

const outsideSecret = "OUTSIDE-SECRET-9c1e"

// TestScanHostileFiles runs the binary over trees where one file the scan
// reads (registry configuration, buildwall.yml, the lockfile) is a link to
// the scan's own stdout, to a FIFO, to /dev/zero or to a file outside the
// tree: no hang (each run is bounded), no crash, within a 2 GiB address
// space (RLIMIT_AS), the documented unscanned-path finding in JSON and
// text, nothing of the outside file printed, no control characters.
func TestScanHostileFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("registry=https://"+outsideSecret+".example/\nscan:\n  fail-on: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", "buildwall.yml", "package-lock.json"}
	targets := map[string]string{"stdout": "/proc/self/fd/1", "fifo": "fifo", "devzero": "/dev/zero", "outside": outside}
	env := scanEnv(t)
	for _, name := range names {
		for kind, target := range targets {
			t.Run(strings.TrimPrefix(name, ".")+"_"+kind, func(t *testing.T) {
				dir := t.TempDir()
				files := map[string]string{"package.json": `{"name": "app", "dependencies": {"left-pad": "^1.3.0"}}`}
				if name != "package-lock.json" {
					files["package-lock.json"] = `{"lockfileVersion": 3, "packages": {"": {"name": "app", "dependencies": {"left-pad": "^1.3.0"}}, "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.example/left-pad/-/left-pad-1.3.0.tgz", "integrity": "sha512-AAAA"}}}`
				}
				for n, c := range files {
					if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
				for _, format := range []string{"json", "text"} {
					r := runScan(t, dir, nil, env, 20*time.Second, "scan", "--format", format, ".")
					if r.code != 1 {
						t.Errorf("%s: exit %d, want 1 (an unscanned-path finding is high)\nstdout:\n%s\nstderr:\n%s", format, r.code, r.stdout, r.stderr)
					}
					if strings.Contains(r.stdout+r.stderr, outsideSecret) {
						t.Errorf("%s: output quotes the file outside the tree:\n%s%s", format, r.stdout, r.stderr)
					}
					if c, ok := cleanText(r.stdout + r.stderr); !ok {
						t.Errorf("%s: output holds control character %U", format, c)
					}
					if !strings.Contains(r.stdout, "unscanned-path") || !strings.Contains(r.stdout, name+" was not scanned: ") {
						t.Errorf("%s: no unscanned-path finding for %s:\n%s", format, name, r.stdout)
					}
					if format == "json" {
						rep := decodeReport(t, r.stdout)
						if rep.Incomplete {
							t.Error("complete scan marked incomplete")
						}
					}
				}
			})
		}
	}
}

// TestScanUnreadableDirectoryAsNobody: a directory the scanning user
// cannot list is an unscanned-path finding and fails the gate (it used to
// be a warning on stderr and exit 0).
func TestScanUnreadableDirectoryAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the scan as nobody")
	}
	dir, err := os.MkdirTemp("", "buildwall-scan-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "hidden"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"package.json", "hidden/package.json"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(`{"name": "app"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A lockfile nobody may read: not scanned, and not a syntax error.
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{"lockfileVersion": 3, "packages": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(scanEnv(t), "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "BUILDWALL_DB="+filepath.Join(dir, "nodb"))
	r := runScan(t, dir, &syscall.Credential{Uid: 65534, Gid: 65534}, env, 20*time.Second, "scan", "--format", "json", ".")
	if r.code != 1 {
		t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rep := decodeReport(t, r.stdout)
	for _, path := range []string{"hidden", "package-lock.json"} {
		found := false
		for _, f := range rep.Findings {
			found = found || (f.Rule == "unscanned-path" && f.Path == path && strings.Contains(f.Message, "permission denied"))
		}
		if !found {
			t.Errorf("no unscanned-path finding for %s (permission denied):\n%s", path, r.stdout)
		}
	}
}

// TestScanSIGTERM: a scan waiting on a server that never answers (--online
// against a hanging API) ends within a second of SIGTERM with exit 3 and
// the partial report marked incomplete, the offline findings in it.
func TestScanSIGTERM(t *testing.T) {
	apiURL, certFile := hangingServer(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	workflow := "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/tool@v1\n"
	if err := os.WriteFile(filepath.Join(wf, "ci.yml"), []byte(workflow), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "text"} {
		cmd := exec.Command(bin, "scan", "--online", "--timeout", "10m", "--format", format, ".")
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), scanEnv(t)...), "GITHUB_API_URL="+apiURL, "SSL_CERT_FILE="+certFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the scan is now waiting on the server
		sent := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		err := cmd.Wait()
		took := time.Since(sent)
		if !timer.Stop() {
			t.Fatalf("%s: scan still running 10 s after SIGTERM", format)
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		t.Logf("%s: exit %d %v after SIGTERM", format, code, took)
		if code != 3 {
			t.Errorf("%s: exit %d after SIGTERM, want 3\nstdout:\n%s\nstderr:\n%s", format, code, stdout.String(), stderr.String())
		}
		if took > time.Second {
			t.Errorf("%s: exited %v after SIGTERM, want within a second", format, took)
		}
		if format == "json" {
			rep := decodeReport(t, stdout.String())
			if !rep.Incomplete || len(rep.Findings) == 0 {
				t.Errorf("partial report: incomplete=%v with %d findings, want incomplete with the offline findings\n%s", rep.Incomplete, len(rep.Findings), stdout.String())
			}
		} else if !strings.Contains(stdout.String(), "INCOMPLETE") {
			t.Errorf("text report does not say it is incomplete:\n%s", stdout.String())
		}
	}
}

// TestPinAndDBUpdateSIGTERM: pin waiting on a GitHub API and db update
// waiting on a download, both hanging, end within a second of SIGTERM with
// exit 3, saying they were interrupted, and change nothing.
func TestPinAndDBUpdateSIGTERM(t *testing.T) {
	apiURL, certFile := hangingServer(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	workflow := "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/tool@v1\n"
	if err := os.WriteFile(filepath.Join(wf, "ci.yml"), []byte(workflow), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	cases := map[string][]string{
		"pin":       {"pin", "--timeout", "10m", "."},
		"db_update": {"db", "update", "--db", db, "--from", apiURL + "/all.zip"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			cmd.Env = append(append(os.Environ(), scanEnv(t)...), "GITHUB_API_URL="+apiURL, "SSL_CERT_FILE="+certFile)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			sent := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			err := cmd.Wait()
			took := time.Since(sent)
			if !timer.Stop() {
				t.Fatalf("still running 10 s after SIGTERM")
			}
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			t.Logf("exit %d %v after SIGTERM; stderr:\n%s", code, took, stderr.String())
			if code != 3 || took > time.Second {
				t.Errorf("exit %d %v after SIGTERM, want 3 within a second", code, took)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say the command was interrupted:\n%s", stderr.String())
			}
			if got, _ := os.ReadFile(filepath.Join(wf, "ci.yml")); string(got) != workflow {
				t.Errorf("workflow changed by an interrupted command:\n%s", got)
			}
		})
	}
}

// hangingServer starts an HTTPS server on loopback that never answers and
// returns its URL and a file holding its certificate for SSL_CERT_FILE, so
// that commands get as far as waiting for it even where they require https.
func hangingServer(t *testing.T) (url, certFile string) {
	t.Helper()
	hung := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hung) })
	certFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, certFile
}
