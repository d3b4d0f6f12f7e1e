package cli

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// assertCleanLog fails when out has raw control characters (other than
// line breaks) or a line a CI runner would read as a workflow command.
func assertCleanLog(t *testing.T, what, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "::") {
			t.Errorf("%s line %d starts a workflow command: %q", what, i+1, line)
		}
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x202e || r == 0x2028 {
				t.Errorf("%s line %d has raw control character %U: %q", what, i+1, r, line)
				break
			}
		}
	}
}

// A workflow may name refs and paths built to walk the GitHub API
// (uses: o/r@../../../../user/keys): they are reported unresolvable and
// never requested; the valid reference next to them is still pinned.
func TestPinNeverRequestsTraversal(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RawPath+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/repos/actions/setup-go/git/ref/tags/v5" {
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv5 + `"}}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	hostile := []string{
		"o/r@../../../../user/keys",
		"o/r@v1/../../../../user/keys",
		"o/r/../../../user/keys@v1",
		"o/..@v1",
		"o/r@..%2f..%2fuser%2fkeys",
		"o/r@v1%5c..",
		`o/r@v1\..\..\user`,
	}
	wf := "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
	for _, h := range hostile {
		wf += "      - uses: '" + h + "'\n"
	}
	wf += "      - uses: actions/setup-go@v5\n"
	dir := writeTree(t, map[string]string{
		".github/workflows/ci.yml": wf,
		"Dockerfile":               "FROM registry.example/../../../v2/x:1\nFROM registry.example/a%2f..%2fb:1\nFROM node:..\n",
	})
	code, _, stderr := runPinCLI(t, srv.URL, dir)
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if strings.Contains(p, "..") || strings.Contains(strings.ToLower(p), "%2") || strings.Contains(strings.ToLower(p), "%5c") || strings.Contains(p, `\`) {
			t.Errorf("the API was asked for %q", p)
		}
	}
	if len(paths) != 1 {
		t.Errorf("API requests = %q, want only the valid reference's", paths)
	}
	if got := strings.Count(stderr, "invalid name"); got != len(hostile)+3 {
		t.Errorf("%d references reported as invalid names, want %d; stderr:\n%s", got, len(hostile)+3, stderr)
	}
	if !strings.Contains(stderr, "pinned 1 reference in 1 of 2 files; 10 left unpinned") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
	assertCleanLog(t, "stderr", stderr)
}

// A registry that never answers cannot hold pin beyond --timeout: the run
// ends with exit 3 and nothing written, however long each request may take.
func TestPinOverallTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasPrefix(r.URL.Path, "/repos/") {
			// Trickle: headers at once, then a byte every 100ms.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for {
				select {
				case <-r.Context().Done():
					return
				case <-release:
					return
				case <-time.After(100 * time.Millisecond):
					w.Write([]byte(" "))
					w.(http.Flusher).Flush()
				}
			}
		}
		select { // the registry: never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	files := map[string]string{
		"Dockerfile":               "FROM node:20\nFROM node:21\nFROM node:22\nFROM node:23\nFROM node:24\n",
		".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n",
	}
	dir := writeTree(t, files)
	start := time.Now()
	code, _, stderr := runPinCLI(t, srv.URL, dir, "--timeout", "1s", "--request-timeout", "1m", "--retries", "3")
	took := time.Since(start)
	if code != ExitInternal {
		t.Errorf("exit %d, want 3; stderr:\n%s", code, stderr)
	}
	if took > 4*time.Second {
		t.Errorf("pin took %s with --timeout 1s", took)
	}
	if !strings.Contains(stderr, "--timeout 1s expired") {
		t.Errorf("stderr does not say the timeout expired:\n%s", stderr)
	}
	if calls.Load() == 0 {
		t.Error("the slow server was never asked: the test tests nothing")
	}
	for name, content := range files {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != content {
			t.Errorf("%s changed:\n%s", name, got)
		}
	}
}

// A registry whose token realm points at an "internal" loopback service is
// refused; the service never sees a request, listed or not, unless
// --allow-private-registry is given.
func TestPinRealmToInternal(t *testing.T) {
	var internalCalls atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalCalls.Add(1)
		w.Write([]byte(`{"token":"internal-secret"}`))
	}))
	defer internal.Close()
	iu, _ := url.Parse(internal.URL)
	var sawInternalToken, sawGitHubToken atomic.Bool
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer internal-secret" {
			sawInternalToken.Store(true)
		}
		if strings.Contains(r.Header.Get("Authorization"), "gh-test-token") {
			sawGitHubToken.Store(true)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+internal.URL+`/latest/meta-data",service="x",scope="repository:library/node:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("::error::unauthorized\x1b[31m\n::add-mask::x"))
	}))
	defer reg.Close()
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM node:20\n"})
	for _, args := range [][]string{
		nil,
		{"--registry-auth-host", iu.Host},
		{"--registry-auth-host", iu.Hostname()},
	} {
		code, _, stderr := runPinCLI(t, reg.URL, dir, args...)
		if code != ExitFindings {
			t.Errorf("%v: exit %d, want 1; stderr:\n%s", args, code, stderr)
		}
		if !strings.Contains(stderr, "forbidden host") {
			t.Errorf("%v: stderr does not name the refusal:\n%s", args, stderr)
		}
		assertCleanLog(t, "stderr", stderr)
	}
	if n := internalCalls.Load(); n != 0 {
		t.Errorf("the internal service got %d requests", n)
	}
	if sawInternalToken.Load() {
		t.Error("a token from the internal service was relayed to the registry")
	}
	if sawGitHubToken.Load() {
		t.Error("the registry got the GitHub token")
	}
}

// GITHUB_TOKEN goes to the API host only: an API answer that redirects to
// another port is followed without it.
func TestPinTokenNotForwardedOnRedirect(t *testing.T) {
	var otherAuth atomic.Value
	otherAuth.Store("unset")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv5 + `"}}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-test-token" {
			t.Errorf("API request without the token: %s", r.URL)
		}
		http.Redirect(w, r, other.URL+"/moved"+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer api.Close()
	dir := writeTree(t, map[string]string{"action.yml": "runs:\n  using: composite\n  steps:\n    - uses: actions/setup-go@v5\n"})
	code, _, stderr := runPinCLI(t, api.URL, dir)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := otherAuth.Load(); got != "" {
		t.Errorf("the redirect target got Authorization %q", got)
	}
}

func TestPinAuthHostFlag(t *testing.T) {
	srv, _ := fakePinServer(t)
	for _, bad := range []string{"https://auth.example", "auth.example/token", "auth.example:99999", "", "a b"} {
		dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch\n"})
		if code, _, stderr := runPinCLI(t, srv.URL, dir, "--registry-auth-host", bad); code != ExitUsage {
			t.Errorf("--registry-auth-host %q: exit %d, want 2; stderr:\n%s", bad, code, stderr)
		}
	}
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	if code, _, stderr := runPinCLI(t, srv.URL, dir, "--registry-auth-host", "auth.example:5000", "--registry-auth-host", "[::1]:443", "--allow-private-registry"); code != ExitOK {
		t.Errorf("good flags: exit %d, want 0; stderr:\n%s", code, stderr)
	}
}

// Names and server answers printed by pin cannot inject lines, escape
// sequences or workflow commands into the CI log.
func TestPinOutputEscaped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("::error title=pwned::rate limited\x1b]0;title\x07\r\n::stop-commands::x" + strings.Repeat("B", 10000)))
	}))
	defer srv.Close()
	name := ".github/workflows/\x1b[2J::error::x\nci.yml"
	dir := writeTree(t, map[string]string{name: "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: octo/act@v1\n"})
	code, stdout, stderr := runPinCLI(t, srv.URL, dir, "--dry-run")
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	assertCleanLog(t, "stdout", stdout)
	assertCleanLog(t, "stderr", stderr)
	if !strings.Contains(stderr, `\x1b[2J::error::x\nci.yml`) {
		t.Errorf("stderr does not show the escaped file name:\n%s", stderr)
	}
	if len(stderr) > 2000 {
		t.Errorf("stderr is %d bytes: the server body was not cut", len(stderr))
	}
}

// A dry run's diff shows lines of a file the attacker wrote, under a name
// the attacker chose: both come out escaped (tabs kept).
func TestPinDryRunDiffEscaped(t *testing.T) {
	srv, _ := fakePinServer(t)
	name := "Dockerfile.\x1b[2J\n::error::x"
	content := "# \x1b]0;title\x07\u202e\nFROM node:20\n::error::x\nRUN\tmake\n"
	dir := writeTree(t, map[string]string{name: content})
	code, stdout, stderr := runPinCLI(t, srv.URL, dir, "--dry-run")
	if code != ExitFindings { // the unknown instruction is reported
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	assertCleanLog(t, "stdout", stdout)
	assertCleanLog(t, "stderr", stderr)
	for _, want := range []string{
		`--- a/Dockerfile.\x1b[2J\n::error::x`,
		` # \x1b]0;title\x07\u202e`,
		"+FROM node:20@" + pinDigest,
		"\n \\x3a:error::x\n",
		"\n RUN\tmake\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, stdout)
		}
	}
}
