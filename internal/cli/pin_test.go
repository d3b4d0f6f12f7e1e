package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/testutil"
)

const (
	pinSHAv4   = "08c6903cd8c0fde910a37f88322edcfb5dd907a8"
	pinSHAtag  = "1111111111111111111111111111111111111111"
	pinSHAv5   = "0ad4b8fadaa221de15dcec353f45205ec38ea70b"
	pinSHABad  = "0e58ed8671d6b60d0890c21b07f8835ace038e67" // the commit GHSA-mrrh-fwg8-r2c3 lists
	pinDigest  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	pinWorkflw = "on: push\r\njobs:\r\n  a:\r\n    runs-on: ubuntu-latest\r\n    container: 'node:20'\r\n    steps:\r\n      - uses: actions/checkout@v4 # checkout\r\n      - uses: \"actions/setup-go@v5\"\r\n      - uses: ./local\r\n"
)

// fakePinServer is the GitHub API (actions/checkout v4 is an annotated tag,
// actions/setup-go v5 a lightweight one; everything else is missing) and an
// OCI registry (node:20) on one loopback server.
func fakePinServer(t *testing.T) (*httptest.Server, *atomic.Value) {
	t.Helper()
	asked := &compromisedAsked
	var auth atomic.Value
	auth.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repos/actions/checkout/git/ref/tags/v4":
			auth.Store(r.Header.Get("Authorization"))
			w.Write([]byte(`{"object":{"type":"tag","sha":"` + pinSHAtag + `"}}`))
		case "/repos/actions/checkout/git/tags/" + pinSHAtag:
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv4 + `"}}`))
		case "/repos/actions/setup-go/git/ref/tags/v5":
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv5 + `"}}`))
		case "/repos/tj-actions/changed-files/git/ref/tags/v45":
			asked.Add(1)
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv5 + `"}}`))
		case "/repos/tj-actions/changed-files/git/ref/tags/v47":
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHABad + `"}}`))
		case "/repos/tj-actions/changed-files/git/ref/tags/v46.0.1":
			w.Write([]byte(`{"object":{"type":"commit","sha":"` + pinSHAv4 + `"}}`))
		case "/v2/library/node/manifests/20":
			w.Header().Set("Docker-Content-Digest", pinDigest)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &auth
}

func runPinCLI(t *testing.T, srvURL, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	vars := map[string]string{
		"GITHUB_API_URL":            srvURL,
		"BUILDWALL_GIT_BASE":        "-", // never fall back to a real host
		"BUILDWALL_REGISTRY_MIRROR": srvURL,
		"GITHUB_TOKEN":              "gh-test-token",
		"BUILDWALL_DB":              filepath.Join(t.TempDir(), "db"), // the embedded records only
	}
	var out, errb bytes.Buffer
	code = Main(context.Background(), append([]string{"pin", "--retries", "0"}, args...), Env{
		Stdout: &out, Stderr: &errb, Dir: dir,
		Getenv: func(k string) string { return vars[k] },
	})
	return code, out.String(), errb.String()
}

func TestPinRewrites(t *testing.T) {
	srv, auth := fakePinServer(t)
	dir := writeTree(t, map[string]string{".github/workflows/ci.yml": pinWorkflw, "README.md": "not CI\n"})
	code, stdout, stderr := runPinCLI(t, srv.URL, dir)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	got, err := os.ReadFile(filepath.Join(dir, ".github/workflows/ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"'node:20'", "'node:20@"+pinDigest+"'",
		"actions/checkout@v4 # checkout", "actions/checkout@"+pinSHAv4+" # v4 checkout",
		`"actions/setup-go@v5"`, `"actions/setup-go@`+pinSHAv5+`" # v5`,
	).Replace(pinWorkflw)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("pinned workflow (-want +got):\n%s", diff)
	}
	if a := auth.Load(); a != "Bearer gh-test-token" {
		t.Errorf("Authorization = %q, want the GITHUB_TOKEN", a)
	}
	if !strings.Contains(stderr, "pinned 3 references in 1 of 1 file; 0 left unpinned") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
}

func TestPinDryRun(t *testing.T) {
	srv, _ := fakePinServer(t)
	files := map[string]string{
		".github/workflows/ci.yml": pinWorkflw,
		"Dockerfile":               "FROM node:20\nFROM registry.example/gone:1\n",
	}
	dir := writeTree(t, files)
	code, stdout, stderr := runPinCLI(t, srv.URL, dir, "--dry-run")
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1 (gone:1 cannot be resolved); stderr:\n%s", code, stderr)
	}
	testutil.Golden(t, "testdata/pin/dry-run.golden", []byte(stdout))
	testutil.Golden(t, "testdata/pin/dry-run-stderr.golden", []byte(strings.ReplaceAll(stderr, srv.URL, "http://SERVER")))
	for name, content := range files {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if string(got) != content {
			t.Errorf("--dry-run changed %s", name)
		}
	}
}

func TestPinExitCodes(t *testing.T) {
	srv, _ := fakePinServer(t)
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  int
	}{
		{name: "nothing_to_pin", files: map[string]string{"Dockerfile": "FROM scratch\n"}, want: ExitOK},
		{name: "unresolvable", files: map[string]string{"action.yml": "runs:\n  using: composite\n  steps:\n    - uses: octo/gone@v1\n"}, want: ExitFindings},
		{name: "expression", files: map[string]string{".gitlab-ci.yml": "job:\n  image: $IMG\n  script: [make]\n"}, want: ExitFindings},
		{name: "no_such_path", args: []string{"missing"}, want: ExitUsage},
		{name: "bad_timeout", args: []string{"--timeout", "0s"}, want: ExitUsage},
		{name: "bad_flag", args: []string{"--nope"}, want: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			code, _, stderr := runPinCLI(t, srv.URL, dir, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
			for name, content := range tt.files {
				if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != content {
					t.Errorf("%s changed:\n%s", name, got)
				}
			}
		})
	}
}

// compromisedAsked counts requests for tj-actions/changed-files@v45, which
// pin must refuse from the database without asking.
var compromisedAsked atomic.Int64

// TestPinRefusesCompromised: a tag the database lists, and a tag that
// resolves to a listed commit, are left unpinned (exit 1) with the
// advisory and the known-good release; the fixed release is pinned.
func TestPinRefusesCompromised(t *testing.T) {
	srv, _ := fakePinServer(t)
	const wf = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: tj-actions/changed-files@v45\n      - uses: tj-actions/changed-files@v47\n      - uses: tj-actions/changed-files@v46.0.1\n"
	dir := writeTree(t, map[string]string{".github/workflows/ci.yml": wf})
	before := compromisedAsked.Load()
	code, _, stderr := runPinCLI(t, srv.URL, dir)
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		".github/workflows/ci.yml:6:15: tj-actions/changed-files@v45 left unpinned: known compromised reference: tj-actions/changed-files@v45 is listed by GHSA-mrrh-fwg8-r2c3 (CVE-2025-30066): tj-actions/changed-files tags pointed to a commit that leaks CI secrets; known-good release: 46.0.1 (move to one and pin it)",
		".github/workflows/ci.yml:7:15: tj-actions/changed-files@v47 left unpinned: known compromised reference: tj-actions/changed-files@v47 (commit " + pinSHABad + ") is listed by GHSA-mrrh-fwg8-r2c3",
		".github/workflows/ci.yml:8:15: tj-actions/changed-files@v46.0.1 -> tj-actions/changed-files@" + pinSHAv4 + "\n",
		"pinned 1 reference in 1 of 1 file; 2 left unpinned",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := compromisedAsked.Load() - before; n != 0 {
		t.Errorf("the listed tag was resolved %d times, want 0", n)
	}
	got, _ := os.ReadFile(filepath.Join(dir, ".github/workflows/ci.yml"))
	want := strings.Replace(wf, "changed-files@v46.0.1", "changed-files@"+pinSHAv4+" # v46.0.1", 1)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("workflow (-want +got):\n%s", diff)
	}
}

func TestPinGoldensUsed(t *testing.T) {
	TestPinDryRun(t)
	testutil.CheckUnusedGoldens(t, "testdata/pin/*.golden")
}

func TestGitBaseOf(t *testing.T) {
	for api, want := range map[string]string{
		"https://ghe.example/api/v3":  "https://ghe.example",
		"https://ghe.example/api/v3/": "https://ghe.example",
		"https://api.github.example":  "https://github.example",
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
	} {
		if got := gitBaseOf(api); got != want {
			t.Errorf("gitBaseOf(%q) = %q, want %q", api, got, want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := progressLine(&b)
	p(0, 2, "actions/checkout@v4")
	p(1, 2, "node:20")
	p(2, 2, "")
	want := "\r\033[K[1/2] resolving actions/checkout@v4\r\033[K[2/2] resolving node:20\r\033[K"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}
