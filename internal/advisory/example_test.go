package advisory_test

import (
	"fmt"

	"github.com/buildwall/buildwall/internal/advisory"
)

// Look a locked package up in the curated set compiled into the binary. A
// scan would use advisory.Open(dir) to add the local index.
func ExampleDB_Lookup() {
	db := advisory.Embedded()
	for _, m := range db.Lookup("npm", "axios", "1.14.1") {
		fmt.Println(m.ID, m.Aliases, m.Summary)
	}
	// A compromised action, by tag and by the malicious commit.
	for _, ref := range []string{"v45.0.7", "0e58ed8671d6b60d0890c21b07f8835ace038e67", "v46.0.1"} {
		fmt.Println(ref, len(db.Lookup(advisory.EcosystemGitHubActions, "tj-actions/changed-files", ref)))
	}
	// Output:
	// MAL-2026-2307 [GHSA-fw8c-xr5c-95f9] Malicious code in axios (npm)
	// v45.0.7 1
	// 0e58ed8671d6b60d0890c21b07f8835ace038e67 1
	// v46.0.1 0
}
