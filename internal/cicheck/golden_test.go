package cicheck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestGolden runs every rule on testdata/<rule-id>/<case>.yml and compares
// the findings of that rule with <case>.golden. Files whose name starts with
// "action" are parsed as action metadata, <case>.gitlab-ci.yml as GitLab CI,
// <case>.Dockerfile as a Dockerfile, all others as workflows. A new case
// needs no Go code: add the file and run with -update.
func TestGolden(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range cicheck.Rules() {
		ids[r.ID] = true
	}
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	db := advisory.Embedded()
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "fuzz" || d.Name() == "realworld" || d.Name() == "peercorpus" {
			continue
		}
		rule := d.Name()
		if !ids[rule] {
			t.Errorf("testdata/%s: no rule has this ID", rule)
			continue
		}
		cases, err := filepath.Glob(filepath.Join("testdata", rule, "*.y*ml"))
		if err != nil {
			t.Fatal(err)
		}
		dockerfiles, err := filepath.Glob(filepath.Join("testdata", rule, "*.Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, dockerfiles...)
		if len(cases) == 0 {
			t.Errorf("testdata/%s has no cases", rule)
		}
		// The rule's directory is the repository: workflow_run finds
		// its upstream workflows among the other cases.
		repo := workflowsIn(t, cases)
		for _, path := range cases {
			name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			t.Run(rule+"/"+name, func(t *testing.T) {
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				fs := checkIn(t, filepath.Base(path), src, db, repo)
				var b strings.Builder
				n := 0
				for _, f := range fs {
					if f.Rule == "unparseable-config" && rule != f.Rule {
						t.Errorf("case does not parse: %s", f.Message)
					}
					if f.Rule == rule {
						writeFinding(&b, f)
						n++
					}
				}
				if n == 0 {
					b.WriteString("no findings\n")
				}
				testutil.Golden(t, strings.TrimSuffix(path, filepath.Ext(path))+".golden", []byte(b.String()))
			})
		}
	}
	testutil.CheckUnusedGoldens(t, "testdata/*/*.golden")
}

// workflowsIn returns the name and triggers of each workflow among paths,
// as a scan gives them to Context.Workflows.
func workflowsIn(t *testing.T, paths []string) map[string][]string {
	out := map[string][]string{}
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "action") || strings.HasSuffix(base, ".gitlab-ci.yml") || strings.HasSuffix(base, ".Dockerfile") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := ciconfig.ParseWorkflow(src); w != nil {
			name := cicheck.WorkflowName(w, base)
			out[name] = append(out[name], cicheck.WorkflowEvents(w)...)
		}
	}
	return out
}

// check parses src as the golden harness does and runs every rule.
func check(t testing.TB, name string, src []byte, db cicheck.Advisories) []finding.Finding {
	t.Helper()
	return checkIn(t, name, src, db, nil)
}

// checkIn is check with the repository's workflows known.
func checkIn(t testing.TB, name string, src []byte, db cicheck.Advisories, repo map[string][]string) []finding.Finding {
	t.Helper()
	c := &cicheck.Context{Path: name, Advisories: db, Workflows: repo}
	var fs []finding.Finding
	switch {
	case strings.HasSuffix(name, ".Dockerfile"):
		d, err := ciconfig.ParseDockerfile(src)
		if err != nil {
			fs = append(fs, cicheck.Unparseable(name, err))
		} else {
			fs = append(fs, cicheck.CheckDockerfile(c, d)...)
		}
	case strings.HasSuffix(name, ".gitlab-ci.yml"):
		g, err := ciconfig.ParseGitLabCI(src)
		if err != nil {
			fs = append(fs, cicheck.Unparseable(name, err))
		}
		if g != nil {
			fs = append(fs, cicheck.CheckGitLab(c, g)...)
		}
	case strings.HasPrefix(name, "action"):
		a, err := ciconfig.ParseAction(src)
		if err != nil {
			fs = append(fs, cicheck.Unparseable(name, err))
		}
		if a != nil {
			fs = append(fs, cicheck.CheckAction(c, a)...)
		}
	default:
		w, err := ciconfig.ParseWorkflow(src)
		if err != nil {
			fs = append(fs, cicheck.Unparseable(name, err))
		}
		if w != nil {
			fs = append(fs, cicheck.CheckWorkflow(c, w)...)
		}
	}
	for _, f := range fs {
		if f.Line <= 0 || f.Column <= 0 {
			t.Errorf("%s finding without a position: %+v", f.Rule, f)
		}
	}
	return finding.Sort(fs)
}

func writeFinding(b *strings.Builder, f finding.Finding) {
	fmt.Fprintf(b, "%s:%d:%d %s %s\n", f.Path, f.Line, f.Column, f.Severity, f.Rule)
	if f.Package != nil {
		fmt.Fprintf(b, "  package: %s %s\n", f.Package.Ecosystem, f.Package.String())
	}
	fmt.Fprintf(b, "  message: %s\n  fix: %s\n", f.Message, f.Fix)
}
