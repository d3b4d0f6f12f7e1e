package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/buildwall/buildwall/internal/testutil"
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

	// An ignore only --online's findings match is used, not ignore-unused.
	cfg := "scan:\n  ignore:\n    - rule: unpinned-action\n      path: .github/workflows/ci.yml\n      reason: octo/inner is vetted\n"
	if err := os.WriteFile(filepath.Join(dir, "buildwall.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stdout, _ := run(); !strings.Contains(stdout, `"rule": "ignore-unused"`) {
		t.Errorf("without --online the ignore is unused:\n%s", stdout)
	}
	code, stdout, stderr = run("--online")
	if code != ExitOK || strings.Contains(stdout, "ignore-unused") {
		t.Errorf("--online with the ignore: exit %d, want 0 and no ignore-unused\n%s%s", code, stdout, stderr)
	}
}

// TestScanOnlineAmplification is the regression test for an action.yml of
// about 1.3 KB whose 40 uses: name remote actions that each use all 40: every
// chain used to be followed and reported (2.6 million findings, 6.6 GB of
// memory). Now each action is fetched once, each inner reference reported
// once per outer uses:, and the run stays small.
func TestScanOnlineAmplification(t *testing.T) {
	if !testutil.UnderMemoryLimit(t, 1<<30) {
		return
	}
	useTestRegistry(t)
	const n = 40
	var steps strings.Builder
	steps.WriteString("runs:\n  using: composite\n  steps:\n")
	for i := range n {
		fmt.Fprintf(&steps, "    - uses: octo/a%d@v1\n", i)
	}
	var requests atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/repos/octo/a%d/contents/action.yml", &i); err == nil && r.URL.Query().Get("ref") == "v1" {
			w.Write([]byte(steps.String()))
			return
		}
		http.NotFound(w, r)
	}))
	defer api.Close()
	dir := writeTree(t, map[string]string{"action.yml": steps.String()})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"scan", "--format", "json", "--online"}, Env{
		Stdout: &out, Stderr: &errb, Dir: dir,
		Getenv: func(k string) string {
			if k == "GITHUB_API_URL" {
				return api.URL
			}
			return ""
		},
	})
	runtime.ReadMemStats(&after)
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	if got := requests.Load(); got != n {
		t.Errorf("%d requests, want %d (each action once)", got, n)
	}
	var report struct {
		Findings []struct {
			Rule string `json:"rule"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range report.Findings {
		counts[f.Rule]++
	}
	// 40 local unpinned uses:, and 40 inner references below each.
	if counts["unpinned-action"] != n+n*n {
		t.Errorf("findings by rule %v, want %d unpinned-action", counts, n+n*n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 || out.Len() > 4<<20 {
		t.Errorf("allocated %d MB and wrote %d KB of JSON, want under 256 MB and 4 MB", alloc>>20, out.Len()>>10)
	}
}
