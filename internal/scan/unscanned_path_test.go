package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnscannedMessageNamesRepositoryPath: an unscanned-path finding's
// message names the path as its location does, from the repository's top,
// not from the scan root (scanning a/b must not say "package-lock.json was
// not scanned" for a/b/package-lock.json).
func TestUnscannedMessageNamesRepositoryPath(t *testing.T) {
	dir := writeTree(t, map[string]string{"a/b/package.json": testManifest, "outside/package-lock.json": lock})
	if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: /elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "outside", "package-lock.json"), filepath.Join(dir, "a", "b", "package-lock.json")); err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Paths: []string{filepath.Join(dir, "a", "b")}})
	var n int
	for _, f := range res.Findings {
		if f.Rule != unscannedPathRule.ID {
			continue
		}
		n++
		if f.Path != "a/b/package-lock.json" || !strings.HasPrefix(f.Message, "a/b/package-lock.json was not scanned: ") {
			t.Errorf("unscanned-path at %q: %q, want both to name a/b/package-lock.json", f.Path, f.Message)
		}
	}
	if n != 1 {
		t.Errorf("%d unscanned-path findings, want 1 for the link leaving a/b: %+v", n, res.Findings)
	}
}
