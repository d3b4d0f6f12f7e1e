package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// AddFileSeeds adds the contents of every file matching the glob pattern to
// f's seed corpus, one seed per file; a bad pattern or an unreadable file
// fails the fuzz test.
func AddFileSeeds(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
