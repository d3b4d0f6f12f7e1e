package cicheck

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/ciconfig"
)

// mapFetcher serves files from a map keyed "owner/repo/path@ref"; "boom"
// repositories fail with a non-missing error.
type mapFetcher struct {
	files map[string]string
	calls atomic.Int32
}

func (m *mapFetcher) File(_ context.Context, owner, repo, path, ref string) ([]byte, error) {
	m.calls.Add(1)
	if repo == "boom" {
		return nil, fmt.Errorf("GET contents: 502 Bad Gateway")
	}
	key := owner + "/" + repo + "/" + path + "@" + ref
	if s, ok := m.files[key]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("fetch %s: %w", key, fs.ErrNotExist)
}

const sha1a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestTransitive(t *testing.T) {
	f := &mapFetcher{files: map[string]string{
		// trivy-action pinned by SHA, but it pulls setup-trivy by tag, which
		// in turn uses a pinned action whose own inner action is a branch.
		"aquasec/trivy-action/action.yml@" + sha1a: "runs:\n  using: composite\n  steps:\n    - uses: aquasec/setup-trivy@v0.2.1\n    - uses: actions/cache@" + sha1a + " # v4\n    - uses: ./local\n",
		"aquasec/setup-trivy/action.yaml@v0.2.1":   "runs:\n  using: composite\n  steps:\n    - uses: docker://alpine:3\n",
		"actions/cache/action.yml@" + sha1a:        "runs:\n  using: node20\n  main: index.js\n",
		"octo/clean/sub/action.yml@v1":             "runs:\n  using: composite\n  steps:\n    - uses: actions/cache@" + sha1a + "\n",
		"octo/ci/.github/workflows/reuse.yml@v3":   "on: workflow_call\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: octo/tool@main\n",
		"octo/tool/action.yml@main":                "runs:\n  using: node20\n  main: x.js\n",
	}}
	src := "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - uses: aquasec/trivy-action@" + sha1a + " # 0.28.0\n" +
		"      - uses: octo/clean/sub@v1\n" +
		"      - uses: octo/boom@v1\n" +
		"      - uses: octo/nometa@v1\n" +
		"  reuse:\n    uses: octo/ci/.github/workflows/reuse.yml@v3\n"
	w, err := ciconfig.ParseWorkflow([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transitive{Fetch: f}
	c := &Context{Path: ".github/workflows/scan.yml"}
	got, errs := tr.CheckWorkflow(context.Background(), c, w)
	var lines []string
	for _, g := range got {
		lines = append(lines, fmt.Sprintf("%d:%d %s %s: %s", g.Location.Line, g.Location.Column, g.Rule, g.Severity, g.Message))
	}
	want := []string{
		"6:15 unpinned-action high: aquasec/trivy-action@" + sha1a + " runs aquasec/setup-trivy@v0.2.1, which is not pinned to a full commit SHA (chain: .github/workflows/scan.yml → aquasec/trivy-action@" + sha1a + " → aquasec/setup-trivy@v0.2.1)",
		"6:15 unpinned-action high: aquasec/trivy-action@" + sha1a + " runs docker://alpine:3, which is not pinned by digest (chain: .github/workflows/scan.yml → aquasec/trivy-action@" + sha1a + " → aquasec/setup-trivy@v0.2.1 → docker://alpine:3)",
		"11:11 unpinned-action high: octo/ci/.github/workflows/reuse.yml@v3 runs octo/tool@main, which is not pinned to a full commit SHA (chain: .github/workflows/scan.yml → octo/ci/.github/workflows/reuse.yml@v3 → octo/tool@main)",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	joined := strings.Join(msgs, "\n")
	if len(errs) != 2 || !strings.Contains(joined, "octo/boom@v1: GET contents: 502") || !strings.Contains(joined, "octo/nometa@v1 has no action.yml or action.yaml") {
		t.Errorf("errors = %q, want one for octo/boom (502) and one for octo/nometa (no metadata)", msgs)
	}

	// The cache answers a second file without fetching again.
	before := f.calls.Load()
	if _, errs := tr.CheckWorkflow(context.Background(), c, w); len(errs) != 2 {
		t.Errorf("second check: %d errors, want 2", len(errs))
	}
	if after := f.calls.Load(); after != before {
		t.Errorf("second check fetched %d more files, want 0 (cached)", after-before)
	}
}

func TestTransitiveDepthBound(t *testing.T) {
	// a@v1 uses b@v1 uses a@v1: a cycle, cut by MaxDepth.
	f := &mapFetcher{files: map[string]string{
		"o/a/action.yml@v1": "runs:\n  using: composite\n  steps:\n    - uses: o/b@v1\n",
		"o/b/action.yml@v1": "runs:\n  using: composite\n  steps:\n    - uses: o/a@v1\n",
	}}
	a, err := ciconfig.ParseAction([]byte("runs:\n  using: composite\n  steps:\n    - uses: o/a@v1\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transitive{Fetch: f, MaxDepth: 3}
	got, errs := tr.CheckAction(context.Background(), &Context{Path: "action.yml"}, a)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(got) != 3 {
		t.Errorf("got %d findings, want 3 (one per level):\n%v", len(got), got)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("fetched %d files, want 3 (depth bound)", n)
	}
}
