package cicheck_test

import (
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/testutil"
)

// checkInside fails when a finding has no position or one past the end of
// a file of src.
func checkInside(t *testing.T, src []byte, fs []finding.Finding) {
	t.Helper()
	lines := strings.Count(string(src), "\n") + 1
	for _, f := range fs {
		if f.Line < 1 || f.Column < 1 || f.Line > lines {
			t.Fatalf("%s finding at %d:%d outside a %d-line file", f.Rule, f.Line, f.Column, lines)
		}
	}
}

// FuzzCheckDockerfile runs every Dockerfile rule on arbitrary parseable
// input: no rule may panic, and every finding lies inside the file.
func FuzzCheckDockerfile(f *testing.F) {
	testutil.AddFileSeeds(f, "testdata/*/*.Dockerfile")
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ciconfig.ParseDockerfile(src)
		if err != nil {
			return
		}
		checkInside(t, src, cicheck.CheckDockerfile(&cicheck.Context{Path: "Dockerfile"}, d))
	})
}

// FuzzCheckGitLab runs every GitLab CI rule on arbitrary input, the partial
// tree of a file with a shape error included.
func FuzzCheckGitLab(f *testing.F) {
	testutil.AddFileSeeds(f, "testdata/*/*.gitlab-ci.yml")
	f.Fuzz(func(t *testing.T, src []byte) {
		g, _ := ciconfig.ParseGitLabCI(src)
		if g == nil {
			return
		}
		checkInside(t, src, cicheck.CheckGitLab(&cicheck.Context{Path: ".gitlab-ci.yml"}, g))
	})
}
