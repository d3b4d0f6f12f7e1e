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

// TestScanTextNoForgedLines: a package name JSON-escaped with "\n" must not
// add lines to the text report (a forged "no findings" summary under the
// real one's place) nor start a workflow command.
func TestScanTextNoForgedLines(t *testing.T) {
	useTestRegistry(t)
	lock := strings.Replace(cleanLock, `"version": "1.3.0",`,
		`"name": "left-pad\n\n0 findings; 1 file scanned\n::error::x", "version": "1.3.0\r\n::warning::y",`, 1)
	lock = strings.Replace(lock, "https://registry.example/left-pad", "https://evil.example/left-pad", 1)
	lock = strings.Replace(lock, `"node_modules/left-pad"`, `"node_modules/left-pad\n\n0 findings; 1 file scanned"`, 1)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": lock})
	for _, format := range []string{"text", "github"} {
		got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", format)
		if got.code != 1 {
			t.Fatalf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", format, got.code, got.stdout, got.stderr)
		}
		for _, l := range strings.Split(got.stdout+got.stderr, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "0 findings") || strings.HasPrefix(strings.TrimSpace(l), "::error::x") ||
				strings.HasPrefix(strings.TrimSpace(l), "::warning::y") {
				t.Errorf("%s: forged line %q in output:\n%s", format, l, got.stdout)
			}
		}
	}
}

// TestScanDriftNoForgedLines: the same for a dependency name in package.json
// that the lockfile lacks (lockfile-drift quotes it).
func TestScanDriftNoForgedLines(t *testing.T) {
	useTestRegistry(t)
	manifest := `{"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0", "x\n\n0 findings": "1.0.0"}}`
	dir := writeTree(t, map[string]string{"package.json": manifest, "package-lock.json": cleanLock})
	got := runCLI(t, dir, "scan", "--db", t.TempDir())
	if !strings.Contains(got.stdout, "lockfile-drift") {
		t.Fatalf("want lockfile-drift; exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	for _, l := range strings.Split(got.stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "0 findings") {
			t.Errorf("forged line %q in output:\n%s", l, got.stdout)
		}
	}
}

// TestScanPathNoForgedLines: a directory name with a newline (git allows
// it) is quoted in unparseable-lockfile messages; it must not add lines.
func TestScanPathNoForgedLines(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"x\n0 findings/package-lock.json": "{bad"})
	got := runCLI(t, dir, "scan", "--db", t.TempDir())
	if !strings.Contains(got.stdout, "unparseable-lockfile") {
		t.Fatalf("want unparseable-lockfile; exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	for _, l := range strings.Split(got.stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "0 findings") {
			t.Errorf("forged line %q in output:\n%s", l, got.stdout)
		}
	}
}
