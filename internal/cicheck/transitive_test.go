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

// composite returns action metadata whose steps use each of refs.
func composite(refs ...string) string {
	var b strings.Builder
	b.WriteString("runs:\n  using: composite\n  steps:\n")
	for _, r := range refs {
		b.WriteString("    - uses: " + r + "\n")
	}
	return b.String()
}

// runTransitive checks an action that uses refs and returns its findings
// as "rule: message" lines.
func runTransitive(t *testing.T, tr *Transitive, refs ...string) []string {
	t.Helper()
	a, err := ciconfig.ParseAction([]byte(composite(refs...)))
	if err != nil {
		t.Fatal(err)
	}
	got, errs := tr.CheckAction(context.Background(), &Context{Path: "action.yml"}, a)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var lines []string
	for _, g := range got {
		lines = append(lines, g.Rule+": "+g.Message)
	}
	return lines
}

func TestTransitiveLoop(t *testing.T) {
	// a@v1 uses b@v1 uses a@v1: each is fetched once, each inner
	// reference reported once, and the loop is no limit.
	f := &mapFetcher{files: map[string]string{
		"o/a/action.yml@v1": composite("o/b@v1"),
		"o/b/action.yml@v1": composite("o/a@v1"),
	}}
	got := runTransitive(t, &Transitive{Fetch: f, MaxDepth: 3}, "o/a@v1")
	want := []string{
		"unpinned-action: o/a@v1 runs o/b@v1, which is not pinned to a full commit SHA (chain: action.yml → o/a@v1 → o/b@v1)",
		"unpinned-action: o/a@v1 runs o/a@v1, which is not pinned to a full commit SHA (chain: action.yml → o/a@v1 → o/b@v1 → o/a@v1)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("fetched %d files, want 2", n)
	}
}

func TestTransitiveDepthBound(t *testing.T) {
	// a1 → a2 → … → a6, MaxDepth 3: a1..a3 are read, a4 is reported (it
	// is in a3) but not fetched, and the cut is a finding.
	files := map[string]string{}
	for i := 1; i < 6; i++ {
		files[fmt.Sprintf("o/a%d/action.yml@v1", i)] = composite(fmt.Sprintf("o/a%d@v1", i+1))
	}
	f := &mapFetcher{files: files}
	got := runTransitive(t, &Transitive{Fetch: f, MaxDepth: 3}, "o/a1@v1")
	want := []string{
		"unpinned-action: o/a1@v1 runs o/a2@v1, which is not pinned to a full commit SHA (chain: action.yml → o/a1@v1 → o/a2@v1)",
		"unpinned-action: o/a1@v1 runs o/a3@v1, which is not pinned to a full commit SHA (chain: action.yml → o/a1@v1 → o/a2@v1 → o/a3@v1)",
		"unpinned-action: o/a1@v1 runs o/a4@v1, which is not pinned to a full commit SHA (chain: action.yml → o/a1@v1 → o/a2@v1 → o/a3@v1 → o/a4@v1)",
		"online-check-incomplete: the actions below o/a1@v1 were not all checked: 1 actions more than 3 levels down were not fetched",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("fetched %d files, want 3 (depth bound)", n)
	}
}

// denseGraph returns n actions o/a0..o/a<n-1>@v1 that each use all n: the
// shape that made a 1.3 KB action.yml give 2.6 million findings when
// every chain was followed and reported.
func denseGraph(n int) (map[string]string, []string) {
	refs := make([]string, n)
	for i := range refs {
		refs[i] = fmt.Sprintf("o/a%d@v1", i)
	}
	files := map[string]string{}
	for i := range refs {
		files[fmt.Sprintf("o/a%d/action.yml@v1", i)] = composite(refs...)
	}
	return files, refs
}

func TestTransitiveAmplification(t *testing.T) {
	files, refs := denseGraph(40)
	f := &mapFetcher{files: files}
	got := runTransitive(t, &Transitive{Fetch: f}, refs...)
	if n := f.calls.Load(); n != 40 {
		t.Errorf("fetched %d files, want 40 (each action once)", n)
	}
	// Each of the 40 outer uses: reports each of the 40 inner references
	// once, capped at maxFindingsPerScalar with a count of the rest.
	perTop := map[string]int{}
	elided := 0
	for _, l := range got {
		top, _, _ := strings.Cut(strings.TrimPrefix(l, "unpinned-action: "), " ")
		perTop[top]++
		if strings.Contains(l, "(and ") {
			elided++
		}
	}
	if len(got) != 40*40 || len(perTop) != 40 || elided != 0 {
		t.Errorf("%d findings over %d outer uses (%d elided notes), want 1600 over 40 (0)", len(got), len(perTop), elided)
	}

	files, refs = denseGraph(60)
	got = runTransitive(t, &Transitive{Fetch: &mapFetcher{files: files}}, refs[0])
	if len(got) != maxFindingsPerScalar || !strings.Contains(got[len(got)-1], "(and 10 more like it") {
		t.Errorf("%d findings, the last %q; want %d, the last saying 10 more", len(got), got[len(got)-1], maxFindingsPerScalar)
	}
}

func TestTransitiveActionAndFetchBounds(t *testing.T) {
	files, refs := denseGraph(30)
	f := &mapFetcher{files: files}
	got := runTransitive(t, &Transitive{Fetch: f, MaxActions: 10}, refs[0])
	last := got[len(got)-1]
	if n := f.calls.Load(); n != 10 || last != "online-check-incomplete: the actions below o/a0@v1 were not all checked: 20 actions were not fetched after 10 distinct actions for this file" {
		t.Errorf("fetched %d, last finding %q; want 10 and the action bound reported", n, last)
	}

	f = &mapFetcher{files: files}
	tr := &Transitive{Fetch: f, MaxFetches: 12}
	runTransitive(t, tr, refs[0])
	got = runTransitive(t, tr, refs[1]) // a second file: the scan-wide bound holds
	last = got[len(got)-1]
	if n := f.calls.Load(); n != 12 || last != "online-check-incomplete: the actions below o/a1@v1 were not all checked: 18 actions were not fetched after 12 fetches in this scan" {
		t.Errorf("fetched %d, last finding %q; want 12 and the fetch bound reported", n, last)
	}
}

func TestTransitiveLargeAction(t *testing.T) {
	// One remote action with 5,000 uses:, used on 200 lines: the walk
	// below it is done once, and follows at most maxRefsPerAction.
	refs := make([]string, 5000)
	for i := range refs {
		refs[i] = fmt.Sprintf("o/x%d@%s", i, sha1a)
	}
	files := map[string]string{"o/big/action.yml@v1": composite(refs...)}
	for i := range refs {
		files[fmt.Sprintf("o/x%d/action.yml@%s", i, sha1a)] = "runs:\n  using: node20\n  main: x.js\n"
	}
	f := &mapFetcher{files: files}
	top := make([]string, 200)
	for i := range top {
		top[i] = "o/big@v1"
	}
	tr := &Transitive{Fetch: f, MaxActions: 1000, MaxFetches: 10000}
	got := runTransitive(t, tr, top...)
	incomplete := 0
	for _, l := range got {
		if strings.HasPrefix(l, "online-check-incomplete: ") {
			incomplete++
			if !strings.Contains(l, fmt.Sprintf("o/big@v1 has more than %d uses:, the rest were not followed", maxRefsPerAction)) {
				t.Errorf("limit finding %q does not name the cut", l)
			}
		}
	}
	if incomplete != 200 {
		t.Errorf("%d online-check-incomplete findings, want 200 (one per line)", incomplete)
	}
	if n := f.calls.Load(); n != 1+maxRefsPerAction {
		t.Errorf("fetched %d files, want %d (the action and the uses: followed in it)", n, 1+maxRefsPerAction)
	}
}
