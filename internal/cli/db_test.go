package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// useDBClient makes db update download with c (one that trusts the
// test's TLS server).
func useDBClient(t *testing.T, c *http.Client) {
	t.Helper()
	old := dbClient
	dbClient = c
	t.Cleanup(func() { dbClient = old })
}

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
		if strings.HasSuffix(r.URL.Path, ".sha256") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	defer srv.Close()
	useDBClient(t, srv.Client())

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
	goodZip := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(goodZip, recordsZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	recordsDir := t.TempDir()
	writeRecords(t, recordsDir)
	zeros := strings.Repeat("0", 64)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"update_plain_http", []string{"db", "update", "--from", "http://127.0.0.1:9/all.zip", "--db", t.TempDir()}, ExitUsage, "refusing plain http source http://127.0.0.1:9/all.zip: use https"},
		{"update_other_scheme", []string{"db", "update", "--from", "ftp://mirror.example/all.zip", "--db", t.TempDir()}, ExitUsage, `unsupported source scheme "ftp"`},
		{"update_sha256_malformed", []string{"db", "update", "--from", goodZip, "--sha256", "xyz", "--db", t.TempDir()}, ExitUsage, "--sha256 wants 64 hex digits"},
		{"update_sha256_with_directory", []string{"db", "update", "--from", recordsDir, "--sha256", zeros, "--db", t.TempDir()}, ExitUsage, "is a directory"},
		{"update_sha256_mismatch", []string{"db", "update", "--from", goodZip, "--sha256", zeros, "--db", t.TempDir()}, ExitInternal, "checksum mismatch"},
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

// TestDBUpdatePublishedChecksum: db update fetches URL.sha256 and says
// whether the archive was verified; a mismatch keeps the old index.
func TestDBUpdatePublishedChecksum(t *testing.T) {
	body := recordsZip(t)
	sum := sha256.Sum256(body)
	published := map[string]string{
		"/good/all.zip.sha256": hex.EncodeToString(sum[:]) + "  all.zip\n",
		"/bad/all.zip.sha256":  strings.Repeat("ab", 32) + "  all.zip\n",
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".sha256") {
			if s, ok := published[r.URL.Path]; ok {
				w.Write([]byte(s))
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	defer srv.Close()
	useDBClient(t, srv.Client())

	dir := t.TempDir()
	r := runDB(t, nil, "db", "update", "--from", srv.URL+"/good/all.zip", "--db", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if want := "  sha256:   " + hex.EncodeToString(sum[:]) + " (matches " + srv.URL + "/good/all.zip.sha256)\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	old, err := os.ReadFile(filepath.Join(dir, "index.bwdb"))
	if err != nil {
		t.Fatal(err)
	}

	r = runDB(t, nil, "db", "update", "--from", srv.URL+"/bad/all.zip", "--db", dir)
	if r.code != ExitInternal || !strings.Contains(r.stderr, "checksum mismatch") || !strings.Contains(r.stderr, "the previous index is still in use") {
		t.Errorf("mismatch: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "index.bwdb")); !bytes.Equal(now, old) {
		t.Error("a checksum mismatch replaced the index")
	}

	r = runDB(t, nil, "db", "update", "--from", srv.URL+"/none/all.zip", "--db", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if want := "no checksum: " + srv.URL + "/none/all.zip.sha256 not published: the archive is not verified; pass --sha256 HEX to require one"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if !strings.Contains(r.stdout, "(not verified: no checksum given or published)") {
		t.Errorf("stdout does not say the archive was not verified:\n%s", r.stdout)
	}
}

// TestDBUpdateEscapesHostileText: an archive entry name with escape
// sequences and a workflow command reaches stderr escaped.
func TestDBUpdateEscapesHostileText(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("\x1b[2J\n::error::pwned.json")
	w.Write(bytes.Repeat([]byte(" "), 5<<20))
	zw.Close()
	zp := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(zp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runDB(t, nil, "db", "update", "--from", zp, "--db", t.TempDir())
	if r.code != ExitInternal || !strings.Contains(r.stderr, "too large") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.ContainsRune(r.stderr, 0x1b) || strings.Contains(r.stderr, "\n::") {
		t.Errorf("stderr carries the entry name raw: %q", r.stderr)
	}
}
