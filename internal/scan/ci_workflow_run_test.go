package scan

import (
	"testing"

	"github.com/buildwall/buildwall/internal/finding"
)

// TestScanCIWorkflowRunUpstream: a workflow_run workflow is rated by its
// upstream workflows, found in the scanned repository by name: low when
// they never run on pull requests, high when one does, high when the
// upstream is not in the repository.
func TestScanCIWorkflowRunUpstream(t *testing.T) {
	after := func(upstream string) string {
		return "on:\n  workflow_run:\n    workflows: [\"" + upstream + "\"]\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo done\n"
	}
	dir := writeTree(t, map[string]string{
		".github/workflows/release.yml":   "name: Release\non: push\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: make\n",
		".github/workflows/pr.yml":        "name: PR\non: [push, pull_request]\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: make\n",
		".github/workflows/a-release.yml": after("Release"),
		".github/workflows/a-pr.yml":      after("PR"),
		".github/workflows/a-other.yml":   after("Elsewhere"),
	})
	res := run(t, Options{Paths: []string{dir}})
	got := map[string]finding.Severity{}
	for _, f := range res.Findings {
		if f.Rule == "dangerous-trigger" {
			got[f.Path] = f.Severity
		}
	}
	want := map[string]finding.Severity{
		".github/workflows/a-release.yml": finding.SeverityLow,
		".github/workflows/a-pr.yml":      finding.SeverityHigh,
		".github/workflows/a-other.yml":   finding.SeverityHigh,
	}
	for p, s := range want {
		if got[p] != s {
			t.Errorf("%s: dangerous-trigger severity %q, want %q (all: %v)", p, got[p], s, got)
		}
	}
}
