// Command cigen writes a synthetic CI-configuration monorepo for the CI-scan
// benchmark (bench/ciscan.sh): -n workflows under .github/workflows plus
// local actions, Dockerfiles and a .gitlab-ci.yml (see internal/cicheck/citest).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/buildwall/buildwall/internal/cicheck/citest"
)

func main() {
	n := flag.Int("n", 2000, "number of workflows")
	out := flag.String("o", "", "output directory (created)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "cigen: -o DIR is required")
		os.Exit(2)
	}
	total, err := citest.Write(*out, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cigen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d workflows, %d bytes\n", *n, total)
}
