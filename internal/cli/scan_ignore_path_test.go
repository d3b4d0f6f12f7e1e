package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIgnorePathIsRepositoryRelative: a scan.ignore path glob matches the
// paths findings report, relative to the repository's top, wherever the
// buildwall.yml lies and from whatever directory the scan runs. A glob
// written relative to the scanned subdirectory matches nothing there, so
// the finding stays in force (fail closed) rather than being hidden.
func TestIgnorePathIsRepositoryRelative(t *testing.T) {
	useTestRegistry(t)
	for _, tc := range []struct {
		glob       string
		wantCode   int
		suppressed bool
	}{
		{"a/b/package-lock.json", ExitOK, true},
		{"a/**", ExitOK, true},
		{"package-lock.json", ExitFindings, false},
	} {
		cfg := "scan:\n  fail-on: high\n  ignore:\n    - rule: missing-integrity\n      path: \"" + tc.glob + "\"\n      reason: vendored, reviewed\n"
		dir := writeTree(t, map[string]string{
			"a/b/package.json": cleanManifest, "a/b/package-lock.json": highLock, "a/b/buildwall.yml": cfg,
		})
		if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
			t.Fatal(err)
		}
		db := t.TempDir()
		for _, run := range []struct{ cwd, arg string }{{dir, "a/b"}, {filepath.Join(dir, "a", "b"), "."}, {filepath.Join(dir, "a"), "b"}} {
			got := runCLI(t, run.cwd, "scan", "--db", db, "--format", "json", run.arg)
			if got.code != tc.wantCode {
				t.Errorf("glob %q, scan %s from %s: exit %d, want %d; stderr: %s", tc.glob, run.arg, run.cwd, got.code, tc.wantCode, got.stderr)
			}
			if s := strings.Contains(got.stdout, `"source": "a/b/buildwall.yml:4"`); s != tc.suppressed {
				t.Errorf("glob %q, scan %s from %s: suppressed by a/b/buildwall.yml:4 = %v, want %v\n%s", tc.glob, run.arg, run.cwd, s, tc.suppressed, got.stdout)
			}
			if !strings.Contains(got.stdout, `"path": "a/b/package-lock.json"`) {
				t.Errorf("scan %s from %s: findings not named a/b/package-lock.json:\n%s", run.arg, run.cwd, got.stdout)
			}
		}
	}
}
