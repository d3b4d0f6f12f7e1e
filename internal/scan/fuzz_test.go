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
			defaults, scoped := rf.parse(data)
			for _, u := range append(defaults, scoped...) {
				if u == "" {
					t.Fatalf("%s reader returned an empty registry for %q", rf.name, data)
				}
			}
		}
	})
}
