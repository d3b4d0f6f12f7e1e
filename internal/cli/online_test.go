package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestScanOnline(t *testing.T) {
	useTestRegistry(t)
	const sha = "cccccccccccccccccccccccccccccccccccccccc"
	var fetched atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/repos/octo/wrap/contents/action.yml" && r.URL.Query().Get("ref") == sha {
			fetched.Store(true)
			w.Write([]byte("runs:\n  using: composite\n  steps:\n    - uses: octo/inner@v2\n"))
			return
		}
		http.NotFound(w, r)
	}))
	defer api.Close()
	dir := writeTree(t, map[string]string{".github/workflows/ci.yml": "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: octo/wrap@" + sha + " # v1.0.0\n"})
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"scan", "--format", "json"}, args...), Env{
			Stdout: &out, Stderr: &errb, Dir: dir,
			Getenv: func(k string) string {
				if k == "GITHUB_API_URL" {
					return api.URL
				}
				return ""
			},
		})
		return code, out.String(), errb.String()
	}

	code, stdout, stderr := run()
	if code != ExitOK || fetched.Load() || strings.Contains(stdout, "octo/inner") {
		t.Fatalf("without --online: exit %d, fetched=%v, want 0 and no network\n%s%s", code, fetched.Load(), stdout, stderr)
	}
	code, stdout, stderr = run("--online")
	if code != ExitFindings {
		t.Errorf("--online: exit %d, want 1; stderr:\n%s", code, stderr)
	}
	want := "chain: .github/workflows/ci.yml → octo/wrap@" + sha + " → octo/inner@v2"
	if !fetched.Load() || !strings.Contains(stdout, want) || !strings.Contains(stdout, `"line": 7`) {
		t.Errorf("--online report lacks %q at line 7:\n%s", want, stdout)
	}
	if code, _, _ := run("--online", "--offline"); code != ExitUsage {
		t.Errorf("--online --offline: exit %d, want 2", code)
	}
}
