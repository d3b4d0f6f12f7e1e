package scan_test

import (
	"context"
	"fmt"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/scan"
)

// Scan the bundled example repository with the embedded malicious-package
// database. Real callers pass scan.ClientDefaults(ctx, nil) as Defaults so
// that the machine's npm default registry is allowed; the example fixes it
// for a stable output.
func ExampleRun() {
	res, err := scan.Run(context.Background(), scan.Options{
		Paths:      []string{"../../examples/vulnerable-app"},
		Advisories: advisory.Embedded(),
		Defaults:   lockcheck.StaticDefaults("https://registry.example/"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Findings {
		fmt.Printf("%s:%d %s %s %s\n", f.Path, f.Line, f.Severity, f.Rule, f.Package)
	}
	// Output:
	// package-lock.json:18 critical malicious-package axios@1.14.1
	// package-lock.json:26 medium install-script esbuild@0.19.2
	// package-lock.json:32 high insecure-source is-number@7.0.0
	// package-lock.json:37 high missing-integrity left-pad@1.3.0
	// package-lock.json:41 high untrusted-registry lodash@4.17.21
	// package-lock.json:46 critical malicious-package plain-crypto-js@4.2.1
	// package-lock.json:46 medium install-script plain-crypto-js@4.2.1
}
