package lockcheck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestGolden scans every case directory testdata/<rule>/<format>-<case>/
// (a tiny repository) with the real parsers, the embedded malicious-package
// database and https://registry.example/ as the package managers' default
// registry, and compares the findings of <rule> with expected.golden.
// A buildwall.yml in the case directory is applied. Adding a case needs no
// Go code; run with -update to write its golden file.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, r := range lockcheck.Rules() {
		known[r.ID] = true
	}
	covered := map[string]map[string]bool{} // rule -> "bad"/"good"
	for _, dir := range dirs {
		rule := filepath.Base(filepath.Dir(dir))
		name := filepath.Base(dir)
		if !known[rule] {
			t.Errorf("testdata/%s: no such rule", rule)
			continue
		}
		if covered[rule] == nil {
			covered[rule] = map[string]bool{}
		}
		covered[rule][name[strings.LastIndexByte(name, '-')+1:]] = true
		t.Run(rule+"/"+name, func(t *testing.T) {
			got := scanCase(t, dir, rule)
			testutil.Golden(t, filepath.Join(dir, "expected.golden"), []byte(got))
			bad := strings.HasSuffix(name, "-bad")
			if bad == (got == "no findings\n") {
				t.Errorf("case %s: a -bad case must have findings of %s and any other case none", name, rule)
			}
		})
	}
	for _, r := range lockcheck.Rules() {
		if !covered[r.ID]["bad"] || !covered[r.ID]["good"] {
			t.Errorf("rule %s needs at least one -bad and one -good case under testdata/%s/", r.ID, r.ID)
		}
	}
	testutil.CheckUnusedGoldens(t, filepath.Join("testdata", "*", "*", "expected.golden"))
}

func scanCase(t *testing.T, dir, rule string) string {
	t.Helper()
	// Scan a copy outside the repository so that files above the case
	// (a repository-level .npmrc or lockfile) cannot change its outcome.
	tmp := t.TempDir()
	if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	opts := scan.Options{
		Paths:      []string{tmp},
		Advisories: advisory.Embedded(),
		Defaults:   lockcheck.StaticDefaults("https://registry.example/"),
	}
	if cfgPath := filepath.Join(dir, config.FileName); fileExists(cfgPath) {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		opts.Config = cfg
	}
	res, err := scan.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range res.Findings {
		if f.Rule != rule {
			continue
		}
		b.WriteString(render(f))
	}
	if b.Len() == 0 {
		return "no findings\n"
	}
	return b.String()
}

// render writes a finding as stable text: location, severity, rule and
// package on the first line, then the message and the fix.
func render(f finding.Finding) string {
	pkg := "-"
	if f.Package != nil {
		pkg = f.Package.Ecosystem + ":" + f.Package.String()
	}
	out := fmt.Sprintf("%s:%d:%d %s %s %s\n  %s\n  fix: %s\n", f.Path, f.Line, f.Column, f.Severity, f.Rule, pkg, f.Message, f.Fix)
	if f.Suppressed != nil {
		out += fmt.Sprintf("  suppressed (%s): %s\n", f.Suppressed.Kind, f.Suppressed.Reason)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
