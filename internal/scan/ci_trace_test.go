package scan

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScanCITracesLocalActionInputs: an untrusted value passed to a local
// composite action's input is an injection where the action expands the
// input in a script; a trusted value, or an input the action only passes
// through env:, is not.
func TestScanCITracesLocalActionInputs(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".github/workflows/pr.yml": `on: pull_request_target
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/greet
        with:
          who: ${{ github.event.pull_request.title }}
          count: ${{ github.event.pull_request.number }}
      - uses: ./.github/actions/safe
        with:
          who: ${{ github.event.pull_request.title }}
`,
		".github/actions/greet/action.yml": `name: greet
inputs:
  who: {}
  count: {}
runs:
  using: composite
  steps:
    - run: echo "hello ${{ inputs.who }}"
      shell: bash
    - run: echo "${{ inputs.count }}"
      shell: bash
`,
		".github/actions/safe/action.yml": `name: safe
inputs:
  who: {}
runs:
  using: composite
  steps:
    - env:
        WHO: ${{ inputs.who }}
      run: echo "hello $WHO"
      shell: bash
`,
		".github/actions/uncalled/action.yml": `name: uncalled
runs:
  using: composite
  steps:
    - run: echo "${{ inputs.who }}"
      shell: bash
`,
	})
	res := run(t, Options{Paths: []string{dir}})
	var got []string
	for _, f := range res.Findings {
		if f.Rule == "template-injection" {
			got = append(got, f.Path+":"+strconv.Itoa(f.Line)+" "+f.Message)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], ".github/actions/greet/action.yml:8 ") ||
		!strings.Contains(got[0], "github.event.pull_request.title, passed by .github/workflows/pr.yml:10") {
		t.Errorf("template-injection findings:\n%s", cmp.Diff([]string{".github/actions/greet/action.yml:8 ... passed by .github/workflows/pr.yml:10"}, got))
	}
}

// TestScanCITracesReusableWorkflowInputs: a workflow_call input is
// reported as medium (whoever calls the workflow sets it) until a caller
// in the repository is seen passing it an outsider's text: then it is
// high, and names the caller.
func TestScanCITracesReusableWorkflowInputs(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".github/workflows/pr.yml": `on: pull_request_target
permissions:
  contents: read
jobs:
  call:
    uses: ./.github/workflows/reusable.yml
    with:
      title: ${{ github.event.pull_request.title }}
      sha: ${{ github.event.pull_request.head.sha }}
`,
		".github/workflows/reusable.yml": `on:
  workflow_call:
    inputs:
      title:
        type: string
      sha:
        type: string
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ inputs.title }}"
      - run: git show "${{ inputs.sha }}"
`,
	})
	res := run(t, Options{Paths: []string{dir}})
	var got []string
	for _, f := range res.Findings {
		if f.Rule == "template-injection" {
			got = append(got, f.Path+":"+strconv.Itoa(f.Line)+" "+f.Severity.String()+" "+f.Message)
		}
	}
	if len(got) != 2 ||
		!strings.HasPrefix(got[0], ".github/workflows/reusable.yml:14 high ") || !strings.Contains(got[0], "passed by .github/workflows/pr.yml:8") ||
		!strings.HasPrefix(got[1], ".github/workflows/reusable.yml:15 medium ") {
		t.Errorf("template-injection findings:\n%s", strings.Join(got, "\n"))
	}
}
