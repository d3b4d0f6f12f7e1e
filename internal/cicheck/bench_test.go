package cicheck_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/cicheck/citest"
	"github.com/buildwall/buildwall/internal/ciconfig"
)

// benchWorkflow returns a realistic ~6.5 kB workflow: three jobs of twelve
// steps mixing pinned and unpinned actions and multi-line run: blocks with
// expressions, a few of them unsafe.
func benchWorkflow(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: workflow %d\non:\n  push:\n    branches: [main]\n  pull_request:\npermissions:\n  contents: read\njobs:\n", i)
	for j := range 3 {
		fmt.Fprintf(&b, "  job%d:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    strategy:\n      matrix:\n        node: [18, 20, 22]\n    steps:\n", j)
		for k := range 12 {
			switch k % 4 {
			case 0:
				b.WriteString("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n        with:\n          persist-credentials: false\n")
			case 1:
				fmt.Fprintf(&b, "      - name: setup %d\n        uses: actions/setup-node@v4\n        with:\n          node-version: ${{ matrix.node }}\n", k)
			default:
				fmt.Fprintf(&b, "      - name: build step %d\n        run: |\n          echo \"building ${{ github.sha }} for ${{ matrix.node }}\"\n          npm ci\n          npm run build -- --mode production\n          if [ \"${{ github.event_name }}\" = \"push\" ]; then\n            npm test -- --coverage --ci\n          fi\n          echo \"pr ${{ github.event.pull_request.number }} ${{ github.event.pull_request.title }}\"\n        env:\n          NODE_ENV: production\n          TOKEN: ${{ secrets.NPM_TOKEN }}\n", k)
			}
		}
	}
	return []byte(b.String())
}

// BenchmarkWorkflow parses and checks 100 generated workflows per
// iteration; bytes/s is the parse+check throughput of one core.
func BenchmarkWorkflow(b *testing.B) {
	var files [][]byte
	size := 0
	for i := range 100 {
		files = append(files, benchWorkflow(i))
		size += len(files[i])
	}
	db := advisory.Embedded()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range files {
			w, err := ciconfig.ParseWorkflow(data)
			if err != nil {
				b.Fatal(err)
			}
			if len(cicheck.CheckWorkflow(&cicheck.Context{Path: "x.yml", Advisories: db}, w)) == 0 {
				b.Fatal("no findings")
			}
		}
	}
}

// BenchmarkCheckCI runs every rule on 200 pre-parsed workflows of the
// scan benchmark's corpus (citest.Workflow) per iteration: the rules'
// share of a scan, without parsing.
func BenchmarkCheckCI(b *testing.B) {
	var ws []*ciconfig.Workflow
	for i := range 200 {
		w, err := ciconfig.ParseWorkflow(citest.Workflow(i))
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
	}
	db := advisory.Embedded()
	b.ReportAllocs()
	for b.Loop() {
		for _, w := range ws {
			cicheck.CheckWorkflow(&cicheck.Context{Path: "x.yml", Advisories: db}, w)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200, "ns/workflow")
}
