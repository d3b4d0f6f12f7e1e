package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// axiosLock locks the compromised axios 1.14.1 (built-in MAL-2026-2307).
const axiosLock = `{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"axios": "^1.14.0"}},
    "node_modules/axios": {
      "version": "1.14.1",
      "resolved": "https://registry.example/axios/-/axios-1.14.1.tgz",
      "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="
    }
  }
}
`

// TestDBPoisonedRecordCannotSilenceBuiltin is the reproduction: a
// local OSV record reusing the built-in axios id and marking it withdrawn
// (dated in the future, id in lower case) must not remove the detection;
// db update, db status and scan say what happened.
func TestDBPoisonedRecordCannotSilenceBuiltin(t *testing.T) {
	useTestRegistry(t)
	src, dir := t.TempDir(), t.TempDir()
	for name, data := range map[string]string{
		"MAL-2026-2307.json": `{"id":"MAL-2026-2307","modified":"2099-01-01T00:00:00Z","withdrawn":"2099-01-01T00:00:00Z",
			"affected":[{"package":{"ecosystem":"npm","name":"axios"},"versions":["1.14.1"]}]}`,
		"MAL-2099-1.json": `{"id":"MAL-2099-1","modified":"2099-01-01T00:00:00Z",
			"affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"versions":["0.0.0"]}]}`,
		"mal-2026-2307.json": `{"id":"mal-2026-2307","summary":"Malicious code in axios","modified":"2099-01-01T00:00:00Z","withdrawn":"2099-01-01T00:00:00Z",
			"affected":[{"package":{"ecosystem":"npm","name":"axios"},"versions":["1.14.1"]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runDB(t, nil, "db", "update", "--from", src, "--db", dir)
	if r.code != ExitOK {
		t.Fatalf("db update exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "conflicts: 3 attempts by local records to change built-in records") {
		t.Errorf("db update does not report the conflicts:\n%s", r.stdout)
	}
	r = runDB(t, nil, "db", "status", "--db", dir)
	for _, want := range []string{
		"local record MAL-2026-2307 withdraws built-in record MAL-2026-2307; the built-in record still applies",
		"local record mal-2026-2307 reuses built-in id MAL-2026-2307 in another spelling",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("db status does not say %q:\n%s", want, r.stdout)
		}
	}
	// A record dated in the future does not make the data look fresh.
	if !strings.Contains(r.stdout, "  future:   1 records dated after the index was written") || strings.Contains(r.stdout, "newest:   2099") {
		t.Errorf("db status lets a future-dated record pass for fresh data:\n%s", r.stdout)
	}
	r = runDB(t, nil, "db", "status", "--db", dir, "--format", "json")
	if !strings.Contains(r.stdout, `"reason": "withdrawn"`) {
		t.Errorf("db status --format json lacks the conflict:\n%s", r.stdout)
	}

	repo := writeTree(t, map[string]string{
		"package.json":      `{"name": "app", "version": "1.0.0", "dependencies": {"axios": "^1.14.0"}}`,
		"package-lock.json": axiosLock,
	})
	s := runCLI(t, repo, "scan", ".", "--db", dir, "--format", "json")
	if s.code != ExitFindings {
		t.Errorf("scan exit %d, want %d; stderr:\n%s", s.code, ExitFindings, s.stderr)
	}
	if !strings.Contains(s.stdout, "MAL-2026-2307") {
		t.Errorf("scan lost the built-in axios detection:\n%s", s.stdout)
	}
	if !strings.Contains(s.stderr, "try to withdraw or change built-in records") {
		t.Errorf("scan stderr has no note about the conflicting records:\n%s", s.stderr)
	}
}
