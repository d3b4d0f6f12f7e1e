package cli

import (
	"strings"
	"testing"
)

// TestScanResolvedBackslashHost: npm parses resolved URLs with the WHATWG
// URL parser, which reads '\' as '/', so the tarball of
// "https://evil.example\@registry.example/..." comes from evil.example.
// Scan must see that host, not the one after the '@'.
func TestScanResolvedBackslashHost(t *testing.T) {
	useTestRegistry(t)
	lock := strings.Replace(cleanLock, "https://registry.example/left-pad",
		`https://evil.example\\@registry.example/left-pad`, 1)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": lock})
	got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "json")
	if got.code != 1 || !strings.Contains(got.stdout, `"untrusted-registry"`) || !strings.Contains(got.stdout, "evil.example") {
		t.Fatalf("want untrusted-registry naming evil.example, exit 1; got exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
}
