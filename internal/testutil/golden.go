// Package testutil holds helpers shared by tests: golden files with -update,
// a check that every golden file in a directory was used, and fuzz seeds
// read from files.
package testutil

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update rewrites golden files instead of comparing: go test ./... -update
var Update = flag.Bool("update", false, "rewrite golden files")

var (
	mu   sync.Mutex
	used = map[string]bool{}
)

// Golden compares got with the golden file at path (rewriting it with
// -update) and records that path was used.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	used[abs] = true
	mu.Unlock()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// CheckUnusedGoldens fails t when a file matching pattern (a filepath.Glob
// pattern) was not passed to Golden during the test run. Call it at the end
// of a test that ran all golden sub-tests (or from TestMain after m.Run).
func CheckUnusedGoldens(t testing.TB, pattern string) {
	t.Helper()
	if *Update {
		return
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	mu.Lock()
	defer mu.Unlock()
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		if !used[abs] {
			t.Errorf("golden file %s was not used by any test: delete it or add its case", f)
		}
	}
}
