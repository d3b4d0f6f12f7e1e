package scan

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRegistryFiles feeds every registry configuration reader (.npmrc,
// .yarnrc, .yarnrc.yml, pnpm-workspace.yaml: files an attacker controls in a
// pull request) arbitrary bytes: none may panic, and none may return an
// empty registry. Seeds are testdata/fuzz/*.
func FuzzRegistryFiles(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "*"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rf := range registryFiles {
			for _, r := range rf.parse(data) {
				if r.URL == "" {
					t.Fatalf("%s reader returned an empty registry for %q", rf.name, data)
				}
				if r.Scope != "" && (r.Scope[0] != '@' || len(r.Scope) < 2) {
					t.Fatalf("%s reader returned scope %q for %q", rf.name, r.Scope, data)
				}
			}
		}
	})
}
