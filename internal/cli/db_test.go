package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/testutil"
)

// dbRecords is a tiny OSV export: two malicious records, an ordinary
// vulnerability and a file that is not an OSV record.
var dbRecords = map[string]string{
	"npm/evil/MAL-2026-9001.json": `{"id":"MAL-2026-9001","modified":"2026-04-05T10:00:00Z","summary":"Malicious code in evil (npm)",
		"affected":[{"package":{"ecosystem":"npm","name":"evil"},"versions":["1.0.0"]}]}`,
	"pypi/bad/MAL-2026-9002.json": `{"id":"MAL-2026-9002","modified":"2026-04-08T10:00:00Z","summary":"Malicious code in bad (PyPI)",
		"affected":[{"package":{"ecosystem":"PyPI","name":"bad"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`,
	"ghsa/GHSA-vuln-vuln-vuln.json": `{"id":"GHSA-vuln-vuln-vuln","modified":"2026-04-09T10:00:00Z","summary":"ReDoS in lodash",
		"affected":[{"package":{"ecosystem":"npm","name":"lodash"},"versions":["4.17.20"]}]}`,
	"notes/readme.json": `{"hello": "world"}`,
}

var dbClock = time.Date(2026, 4, 11, 9, 0, 0, 0, time.UTC) // 3 days after the newest embedded record

func useDBClock(t *testing.T) {
	t.Helper()
	old := dbNow
	dbNow = func() time.Time { return dbClock }
	t.Cleanup(func() { dbNow = old })
}

type dbRun struct {
	code           int
	stdout, stderr string
}

// runDB runs buildwall in-process with env as the whole environment.
func runDB(t *testing.T, env map[string]string, args ...string) dbRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr, Dir: t.TempDir(),
		Getenv: func(k string) string { return env[k] },
	})
	return dbRun{code, stdout.String(), stderr.String()}
}

func writeRecords(t *testing.T, root string) {
	t.Helper()
	for name, data := range dbRecords {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func recordsZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"npm/evil/MAL-2026-9001.json", "pypi/bad/MAL-2026-9002.json", "ghsa/GHSA-vuln-vuln-vuln.json", "notes/readme.json"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(dbRecords[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scrub replaces the test's temporary paths so output can be compared
// with golden files.
func scrub(s string, repl ...string) string {
	return strings.NewReplacer(repl...).Replace(s)
}

func TestDBUpdateFromDirectoryThenStatus(t *testing.T) {
	dbGoldenRan[t.Name()] = true
	useDBClock(t)
	src, dir := t.TempDir(), t.TempDir()
	writeRecords(t, src)
	r := runDB(t, nil, "db", "update", "--from", src, "--db", dir)
	if r.code != ExitOK {
		t.Fatalf("db update exit %d, stderr:\n%s", r.code, r.stderr)
	}
	repl := []string{dir, "$DB", src, "$SRC"}
	testutil.Golden(t, "testdata/db/update_dir.golden", []byte(scrub(r.stdout, repl...)))

	// BUILDWALL_DB selects the same directory.
	env := map[string]string{"BUILDWALL_DB": dir}
	r = runDB(t, env, "db", "status")
	if r.code != ExitOK {
		t.Fatalf("db status exit %d, stderr:\n%s", r.code, r.stderr)
	}
	got := scrub(r.stdout, repl...)
	got = regexpUpdated(got)
	testutil.Golden(t, "testdata/db/status_index.golden", []byte(got))

	r = runDB(t, env, "db", "status", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("db status --format json exit %d, stderr:\n%s", r.code, r.stderr)
	}
	testutil.Golden(t, "testdata/db/status_index.json.golden", []byte(regexpUpdated(scrub(r.stdout, repl...))))
}

// regexpUpdated masks the index's write time (wall clock) in status output.
func regexpUpdated(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "  updated:  "):
			_, from, _ := strings.Cut(l, " from ")
			l = "  updated:  $TIME from " + from
		case strings.HasPrefix(l, `  "updated_at": `):
			l = `  "updated_at": "$TIME",`
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestDBStatusEmbeddedOnly(t *testing.T) {
	dbGoldenRan[t.Name()] = true
	useDBClock(t)
	dir := t.TempDir()
	r := runDB(t, nil, "db", "status", "--db", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	testutil.Golden(t, "testdata/db/status_embedded.golden", []byte(scrub(r.stdout, dir, "$DB")))
	if !strings.Contains(r.stdout, "(3 days old)") {
		t.Errorf("status does not say how old the data is:\n%s", r.stdout)
	}
}

func TestDBUpdateFromZipAndURL(t *testing.T) {
	body := recordsZip(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	zipPath := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(zipPath, body, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string]string{"zip": zipPath, "url": srv.URL + "/npm/all.zip"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := runDB(t, nil, "db", "update", "--from", from, "--db", dir)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			want := "  records:  2 (PyPI 1, npm 1)\n  left out: 1 ordinary vulnerabilities (not malicious)\n  skipped:  1 entries that are not usable OSV records\n"
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
			if name == "url" && !strings.Contains(r.stderr, "(100%)") {
				t.Errorf("no download progress on stderr:\n%s", r.stderr)
			}
		})
	}
}

func TestDBExitCodes(t *testing.T) {
	corruptZip := filepath.Join(t.TempDir(), "corrupt.zip")
	if err := os.WriteFile(corruptZip, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	badIndex := t.TempDir()
	if err := os.WriteFile(filepath.Join(badIndex, "index.bwdb"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"update_without_from", []string{"db", "update", "--db", t.TempDir()}, ExitUsage, "--from FILE|DIR|URL is required"},
		{"update_extra_argument", []string{"db", "update", "x", "--from", "y"}, ExitUsage, "unknown command"},
		{"update_unknown_flag", []string{"db", "update", "--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{"update_corrupt_zip", []string{"db", "update", "--from", corruptZip, "--db", t.TempDir()}, ExitInternal, "corrupt archive"},
		{"update_missing_source", []string{"db", "update", "--from", filepath.Join(t.TempDir(), "nope.zip"), "--db", t.TempDir()}, ExitInternal, "no such file"},
		{"status_bad_format", []string{"db", "status", "--format", "yaml"}, ExitUsage, `unknown --format "yaml"`},
		{"status_corrupt_index", []string{"db", "status", "--db", badIndex}, ExitInternal, "corrupt advisory index"},
		{"db_unknown_subcommand", []string{"db", "frobnicate"}, ExitUsage, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDB(t, nil, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr does not say %q:\n%s", tt.wantErr, r.stderr)
			}
		})
	}
}

// dbGoldenRan records which golden-writing tests ran, so that the unused
// golden check only runs when all of them did (not under -run subsets).
var dbGoldenRan = map[string]bool{}

func TestDBGoldensUsed(t *testing.T) {
	for _, name := range []string{"TestDBUpdateFromDirectoryThenStatus", "TestDBStatusEmbeddedOnly"} {
		if !dbGoldenRan[name] {
			t.Skipf("%s did not run", name)
		}
	}
	testutil.CheckUnusedGoldens(t, "testdata/db/*.golden")
}
