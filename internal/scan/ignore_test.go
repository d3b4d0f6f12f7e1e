package scan

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
)

const inlineWorkflow = `on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      # buildwall: ignore[unpinned-action] fork pinned by the platform team
      - uses: tj-actions/changed-files@v44
      - run: echo "${{ github.event.pull_request.title }}" # buildwall: ignore[template-injection] until=2026-12-07 old
      # buildwall: ignore[excessive-permissions] nothing here
      # buildwall: ignore[unpinned-acton] typo
      # buildwall: ignore[unpinned-action]
      # buildwall: ignore[gate-weakened] nice try
`

// fixedNow is the clock of the ignore tests: 2026-12-08, the day after
// the expired ignore's until date.
func fixedNow() time.Time { return time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC) }

// suppressedSummary lists the suppressed findings with their source.
func suppressedSummary(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Suppressed != nil {
			out = append(out, fmt.Sprintf("%s:%d %s by %s %s (%s)", f.Path, f.Line, f.Rule, f.Suppressed.Kind, f.Suppressed.Source, f.Suppressed.Reason))
		}
	}
	return out
}

func TestInlineIgnores(t *testing.T) {
	dir := writeTree(t, map[string]string{".github/workflows/pr.yml": inlineWorkflow})
	res := run(t, Options{Paths: []string{dir}, Advisories: advisory.Embedded(), Now: fixedNow})
	want := []string{
		".github/workflows/pr.yml:3 excessive-permissions",
		".github/workflows/pr.yml:7 known-compromised-action",
		".github/workflows/pr.yml:8 template-injection", // its ignore expired
		".github/workflows/pr.yml:8 ignore-expired",
		".github/workflows/pr.yml:9 ignore-unused",
		".github/workflows/pr.yml:10 ignore-invalid",
		".github/workflows/pr.yml:11 ignore-invalid",
		".github/workflows/pr.yml:12 ignore-invalid",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	wantSup := []string{".github/workflows/pr.yml:7 unpinned-action by inSource .github/workflows/pr.yml:6 (fork pinned by the platform team)"}
	if diff := cmp.Diff(wantSup, suppressedSummary(res.Findings)); diff != "" {
		t.Errorf("suppressed mismatch (-want +got):\n%s", diff)
	}
	if res.Suppressed != 1 {
		t.Errorf("Suppressed = %d, want 1", res.Suppressed)
	}
	msgs := map[int]string{}
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Rule, "ignore-") {
			msgs[f.Line] = f.Message
		}
	}
	for line, want := range map[int]string{
		10: `unknown rule "unpinned-acton"; did you mean "unpinned-action"?`,
		11: "has no reason",
		12: "cannot name gate-weakened",
		8:  "expired after 2026-12-07",
	} {
		if !strings.Contains(msgs[line], want) {
			t.Errorf("line %d message %q, want it to contain %q", line, msgs[line], want)
		}
	}

	// The day before, the until date still applies (through its whole day).
	res = run(t, Options{Paths: []string{dir}, Advisories: advisory.Embedded(), Now: func() time.Time { return fixedNow().Add(-2 * time.Hour) }})
	if got := summary(res.Findings); strings.Contains(strings.Join(got, "\n"), "template-injection") {
		t.Errorf("before expiry: findings %v, want template-injection suppressed", got)
	}

	// --no-ignores: every finding, no finding about ignores.
	res = run(t, Options{Paths: []string{dir}, Advisories: advisory.Embedded(), Now: fixedNow, NoIgnores: true})
	want = []string{
		".github/workflows/pr.yml:3 excessive-permissions",
		".github/workflows/pr.yml:7 known-compromised-action",
		".github/workflows/pr.yml:7 unpinned-action",
		".github/workflows/pr.yml:8 template-injection",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" || res.Suppressed != 0 {
		t.Errorf("--no-ignores: suppressed %d, findings mismatch (-want +got):\n%s", res.Suppressed, diff)
	}
}

func TestConfigIgnoreExpiryAndUnused(t *testing.T) {
	dir := writeTree(t, map[string]string{".github/workflows/pr.yml": ciWorkflow})
	cfg := parseConfig(t, `scan:
  ignore:
    - rule: unpinned-action
      reason: pinned by the platform team
      until: 2026-12-31
    - rule: template-injection
      reason: reviewed
      until: 2026-12-07
    - path: docs/**
      reason: nothing there
`)
	res := run(t, Options{Paths: []string{dir}, Config: cfg, ConfigPath: "buildwall.yml", Advisories: advisory.Embedded(), Now: fixedNow})
	want := []string{
		".github/workflows/pr.yml:3 excessive-permissions",
		".github/workflows/pr.yml:6 known-compromised-action",
		".github/workflows/pr.yml:7 template-injection",
		"buildwall.yml:6 ignore-expired",
		"buildwall.yml:9 ignore-unused",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	wantSup := []string{".github/workflows/pr.yml:6 unpinned-action by external buildwall.yml:3 (pinned by the platform team)"}
	if diff := cmp.Diff(wantSup, suppressedSummary(res.Findings)); diff != "" {
		t.Errorf("suppressed mismatch (-want +got):\n%s", diff)
	}
	if finding.Max(res.Findings) != finding.SeverityCritical {
		t.Errorf("Max = %v, want critical (known-compromised-action)", finding.Max(res.Findings))
	}
}

// TestInlineIgnoreTrust: under a trusted revision, an inline ignore the
// revision's copy of the file lacks is gate-weakened and suppresses
// nothing; one it has applies.
func TestInlineIgnoreTrust(t *testing.T) {
	const wf = "on: pull_request\npermissions: {}\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: some/action@v1 # buildwall: ignore[unpinned-action] reviewed\n"
	dir := writeTree(t, map[string]string{".git/HEAD": "ref: refs/heads/pr\n", ".github/workflows/a.yml": wf})
	top, _ := filepath.EvalSymlinks(dir)
	res := run(t, Options{Paths: []string{top}, Trust: memTrust(top, nil, false), Now: fixedNow})
	want := []string{".github/workflows/a.yml:7 unpinned-action", ".github/workflows/a.yml:7 gate-weakened"}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("new inline ignore: findings mismatch (-want +got):\n%s", diff)
	}
	// The revision has the same ignore on the same step, two lines
	// further down: it applies.
	trusted := map[string]string{".github/workflows/a.yml": "# CI\n\n" + wf}
	res = run(t, Options{Paths: []string{top}, Trust: memTrust(top, trusted, false), Now: fixedNow})
	if got := summary(res.Findings); len(got) != 0 || res.Suppressed != 1 {
		t.Errorf("ignore in the trusted revision: findings %v, suppressed %d; want none and 1", got, res.Suppressed)
	}
	// The same comment over another step (the branch moved or copied it)
	// is a new ignore.
	trusted = map[string]string{".github/workflows/a.yml": strings.Replace(wf, "some/action@v1", "other/action@v1", 1)}
	res = run(t, Options{Paths: []string{top}, Trust: memTrust(top, trusted, false), Now: fixedNow})
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("moved inline ignore: findings mismatch (-want +got):\n%s", diff)
	}
}

func TestInlineIgnoreDockerfile(t *testing.T) {
	const df = "FROM alpine:3.20\n# buildwall: ignore[unpinned-image] base image pinned by the registry mirror\nFROM alpine:3.20 AS b\n"
	dir := writeTree(t, map[string]string{"Dockerfile": df})
	res := run(t, Options{Paths: []string{dir}, NoIgnores: true})
	all := summary(res.Findings)
	res = run(t, Options{Paths: []string{dir}, Now: fixedNow})
	if len(all) != 2 || len(summary(res.Findings)) != 1 || res.Suppressed != 1 {
		t.Errorf("findings without ignores %v; with %v (suppressed %d), want one of two suppressed", all, summary(res.Findings), res.Suppressed)
	}
}

func TestExcludes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"package.json":                        testManifest,
		"package-lock.json":                   lock,
		"testdata/bad/package-lock.json":      lock,
		"vendor/x/package-lock.json":          lock,
		"fixtures/a/package-lock.json":        lock,
		"apps/web/fixtures/package-lock.json": lock,
		"apps/web/package-lock.json":          lock,
		"apps/web/.github/workflows/x.yml":    ciWorkflow,
	})
	files := func(opts Options) []string {
		opts.Paths = []string{dir}
		return run(t, opts).Files
	}
	tests := []struct {
		name string
		opts Options
		cfg  string
		want []string
	}{
		{"default_skips_testdata_vendor", Options{}, "", []string{"apps/web/.github/workflows/x.yml", "apps/web/fixtures/package-lock.json", "apps/web/package-lock.json", "fixtures/a/package-lock.json", "package-lock.json", "package.json"}},
		{"flag_base_name_any_depth", Options{Exclude: globs(t, "fixtures")}, "", []string{"apps/web/.github/workflows/x.yml", "apps/web/package-lock.json", "package-lock.json", "package.json"}},
		{"flag_path_glob", Options{Exclude: globs(t, "apps/**/*.yml")}, "", []string{"apps/web/fixtures/package-lock.json", "apps/web/package-lock.json", "fixtures/a/package-lock.json", "package-lock.json", "package.json"}},
		{"config_key", Options{}, "scan:\n  exclude: [apps]\n", []string{"fixtures/a/package-lock.json", "package-lock.json", "package.json"}},
		{"include_vendored", Options{IncludeVendored: true, Exclude: globs(t, "apps", "fixtures")}, "", []string{"package-lock.json", "package.json", "testdata/bad/package-lock.json", "vendor/x/package-lock.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg != "" {
				tc.opts.Config = parseConfig(t, tc.cfg)
			}
			if diff := cmp.Diff(tc.want, files(tc.opts)); diff != "" {
				t.Errorf("files mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func globs(t *testing.T, patterns ...string) []config.Glob {
	t.Helper()
	var out []config.Glob
	for _, p := range patterns {
		g, err := config.CompileGlob(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// TestNoInlineIgnoresInLockfiles: lockfiles carry registry data (a
// tarball URL's fragment), so a "# buildwall: ignore" in one suppresses
// nothing.
func TestNoInlineIgnoresInLockfiles(t *testing.T) {
	hostile := strings.Replace(lock, "left-pad-1.3.0.tgz", "left-pad-1.3.0.tgz# buildwall: ignore[missing-integrity] trusted", 1)
	dir := writeTree(t, map[string]string{"package.json": testManifest, "package-lock.json": hostile})
	res := run(t, Options{Paths: []string{dir}, Now: fixedNow})
	if got := summary(res.Findings); !strings.Contains(strings.Join(got, "\n"), "package-lock.json:3 missing-integrity") || res.Suppressed != 0 {
		t.Errorf("findings %v, suppressed %d; want missing-integrity in force", got, res.Suppressed)
	}
}
