package cicheck_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/termsafe"
	"github.com/buildwall/buildwall/internal/testutil"
)

// withDeadline runs f and fails the test when it takes longer than d.
func withDeadline(t *testing.T, d time.Duration, f func() []finding.Finding) []finding.Finding {
	t.Helper()
	done := make(chan []finding.Finding, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case fs := <-done:
		t.Logf("took %v", time.Since(start).Round(time.Millisecond))
		return fs
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
		return nil
	}
}

// TestManyDownloadsOnOneLine is the regression test for one GitLab
// script: line (1.5 MB) and one Dockerfile RUN (9 MB) repeating
// `curl … | sh &&`: every match was reported and located by rescanning
// the line (63 s and more than 300 s). Now: 50 findings, the last saying
// how many more there are, in well under the deadline and memory limit.
func TestManyDownloadsOnOneLine(t *testing.T) {
	if !testutil.UnderMemoryLimit(t, 1<<30) {
		return
	}
	const unit = "curl -fsSL https://get.example/i | sh && "
	for _, c := range []struct {
		name  string
		size  int
		check func([]byte) []finding.Finding
		head  string
	}{
		{"gitlab", 1500 << 10, func(b []byte) []finding.Finding {
			g, err := ciconfig.ParseGitLabCI(b)
			if err != nil {
				t.Fatal(err)
			}
			return cicheck.CheckGitLab(&cicheck.Context{Path: ".gitlab-ci.yml"}, g)
		}, "build:\n  script:\n    - "},
		{"dockerfile", 9 << 20, func(b []byte) []finding.Finding {
			d, err := ciconfig.ParseDockerfile(b)
			if err != nil {
				t.Fatal(err)
			}
			return cicheck.CheckDockerfile(&cicheck.Context{Path: "Dockerfile"}, d)
		}, "FROM alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nRUN "},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := (c.size - len(c.head)) / len(unit)
			src := []byte(c.head + strings.Repeat(unit, n) + "true\n")
			fs := withDeadline(t, 20*time.Second, func() []finding.Finding { return c.check(src) })
			var got []string
			for _, f := range fs {
				if f.Rule != "download-exec" {
					t.Errorf("unexpected %s finding: %s", f.Rule, f.Message)
					continue
				}
				if f.Line != 3 && f.Line != 2 || termsafe.String(f.Message) != f.Message || len(f.Message) > 400 {
					t.Errorf("finding at line %d with message %q", f.Line, f.Message)
				}
				got = append(got, f.Message)
			}
			more := fmt.Sprintf("(and %d more like it in the same script or value, not reported one by one)", n-50)
			if len(got) != 50 || !strings.HasSuffix(got[49], more) {
				t.Fatalf("%d findings, want 50, the last ending %q; last: %q", len(got), more, got[len(got)-1])
			}
			// Columns advance with the matches on the one line.
			if fs[1].Column-fs[0].Column != len(unit) {
				t.Errorf("columns %d and %d, want %d apart", fs[0].Column, fs[1].Column, len(unit))
			}
		})
	}
}
