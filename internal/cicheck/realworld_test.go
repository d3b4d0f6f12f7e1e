package cicheck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestRealWorld scans the CI configuration of real public repositories
// (testdata/realworld/<name>/, source and licence in SOURCE) and compares
// every finding with expected.golden, whose findings were each judged
// true by hand (REVIEW.md): a new finding, false or true, fails the test
// until it is reviewed; a high or critical finding must be listed in
// REVIEW.md as reviewed.
func TestRealWorld(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "realworld", "*", "SOURCE"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 8 {
		t.Fatalf("%d real-world repositories, want at least 8", len(dirs))
	}
	review, err := os.ReadFile(filepath.Join("testdata", "realworld", "REVIEW.md"))
	if err != nil {
		t.Fatal(err)
	}
	db := advisory.Embedded()
	for _, src := range dirs {
		dir := filepath.Dir(src)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			res, err := scan.Run(context.Background(), scan.Options{Paths: []string{dir}, Base: dir, Advisories: db})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range finding.Sort(res.Findings) {
				fmt.Fprintf(&b, "%s:%d:%d %s %s: %s\n", f.Path, f.Line, f.Column, f.Severity, f.Rule, f.Message)
				if f.Severity == finding.SeverityHigh || f.Severity == finding.SeverityCritical {
					key := fmt.Sprintf("%s %s:%d %s", name, f.Path, f.Line, f.Rule)
					if !strings.Contains(string(review), key) {
						t.Errorf("%s finding not reviewed in REVIEW.md (want a line with %q)", f.Severity, key)
					}
				}
			}
			if b.Len() == 0 {
				b.WriteString("no findings\n")
			}
			testutil.Golden(t, filepath.Join(dir, "expected.golden"), []byte(b.String()))
		})
	}
}
