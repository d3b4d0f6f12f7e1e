package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/advisory"
)

func TestVersionText(t *testing.T) {
	withVCS := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	got := versionText(withVCS, true)
	for _, want := range []string{
		"buildwall dev\n",
		"commit: 0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)\n",
		"built: 2026-12-01T10:00:00Z (commit time)\n",
		"embedded malicious-package database: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("versionText lacks %q:\n%s", want, got)
		}
	}
	st := advisory.Embedded().Status()
	if !strings.Contains(got, "newest "+st.Newest.UTC().Format(time.DateOnly)) {
		t.Errorf("versionText lacks the embedded database's date:\n%s", got)
	}
	// -buildvcs=false: no settings, no module version.
	got = versionText(&debug.BuildInfo{}, true)
	if !strings.Contains(got, "commit: unknown (built without VCS information)\nbuilt: unknown\n") {
		t.Errorf("without VCS:\n%s", got)
	}
	got = versionText(&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, true)
	if !strings.HasPrefix(got, "buildwall v1.4.0\n") {
		t.Errorf("module version not used:\n%s", got)
	}

	var out bytes.Buffer
	if code := Main(context.Background(), []string{"--version"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}); code != ExitOK {
		t.Fatalf("--version: exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "buildwall ") || !strings.Contains(out.String(), "embedded malicious-package database:") {
		t.Errorf("--version printed:\n%s", out.String())
	}
}

func TestDBNotes(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		st   advisory.Status
		want []string
	}{
		{"embedded_only", advisory.Status{EmbeddedOnly: true, Records: 19, Newest: time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)},
			[]string{"the malicious-package database is the 19 records built into buildwall only (newest 2026-04-07); run 'buildwall db update' for current data"}},
		{"fresh", advisory.Status{UpdatedAt: now.Add(-6 * 24 * time.Hour)}, nil},
		{"stale", advisory.Status{UpdatedAt: now.Add(-9*24*time.Hour - time.Hour)},
			[]string{"the malicious-package database was last updated 2026-11-28, 9 days ago; run 'buildwall db update'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, dbNotes(tc.st, now)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanDBNotes: with only the embedded records, scan warns on stderr
// and says so in the JSON report; a corrupt index says how to recover.
func TestScanDBNotes(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock})
	got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "json", ".")
	if got.code != ExitOK {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	if !strings.Contains(got.stderr, "buildwall: warning: the malicious-package database is the ") {
		t.Errorf("stderr lacks the warning:\n%s", got.stderr)
	}
	var doc struct {
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil || len(doc.Notes) != 1 || !strings.Contains(doc.Notes[0], "built into buildwall only") {
		t.Errorf("JSON notes = %q (%v)", doc.Notes, err)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, advisory.IndexFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = runCLI(t, dir, "scan", "--db", bad, ".")
	if got.code == ExitOK || !strings.Contains(got.stderr, "recover with 'buildwall db update'") {
		t.Errorf("corrupt index: exit %d, stderr %q", got.code, got.stderr)
	}
}
