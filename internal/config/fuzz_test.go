package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every error is an
// *Error naming the file, and that an accepted configuration never holds an
// ignore without a reason. Seeds are the testdata/fuzz/*.yml files.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "*.yml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("buildwall.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "buildwall.yml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, ig := range c.Scan.Ignores {
			if strings.TrimSpace(ig.Reason) == "" {
				t.Fatalf("accepted an ignore without a reason: %+v", ig)
			}
			if ig.Rule == "" && ig.Package == "" && ig.Path == "" {
				t.Fatalf("accepted an ignore that matches everything: %+v", ig)
			}
		}
	})
}
