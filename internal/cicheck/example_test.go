package cicheck_test

import (
	"fmt"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
)

func ExampleDownloadExec() {
	script := "set -e\ncurl -fsSL https://get.example/install.sh | sudo bash\ncurl -fsSLo tool.tgz https://dl.example/tool.tgz\n"
	for _, sp := range cicheck.DownloadExec(script) {
		fmt.Printf("%d-%d: %s\n", sp.Start, sp.End, cicheck.DownloadExecSnippet(script, sp))
	}
	// Output:
	// 7-60: curl -fsSL https://get.example/install.sh | sudo bash
}

func ExampleCheckWorkflow() {
	src := []byte(`on: issues
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "New issue: ${{ github.event.issue.title }}"
`)
	w, err := ciconfig.ParseWorkflow(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range cicheck.CheckWorkflow(&cicheck.Context{Path: ".github/workflows/greet.yml"}, w) {
		fmt.Printf("%s:%d:%d %s %s\n", f.Path, f.Line, f.Column, f.Severity, f.Rule)
	}
	// Output:
	// .github/workflows/greet.yml:9:28 high template-injection
}
