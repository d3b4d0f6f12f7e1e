package advisory

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var fixedNow = time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC)

// osvJSON renders a minimal OSV record.
func osvJSON(t testing.TB, id, eco, name string, versions []string, extra map[string]any) []byte {
	t.Helper()
	r := map[string]any{
		"schema_version": "1.7.4",
		"id":             id,
		"modified":       "2026-04-0" + strconv.Itoa(1+len(id)%9) + "T10:00:00Z",
		"summary":        "Malicious code in " + name,
		"affected":       []any{map[string]any{"package": map[string]any{"ecosystem": eco, "name": name}, "versions": versions}},
	}
	for k, v := range extra {
		r[k] = v
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpus is a small OSV export: malicious records, one ordinary
// vulnerability, one withdrawn record and two broken files.
func corpus(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"osv/malicious/npm/evil-pkg/MAL-2026-9001.json":     osvJSON(t, "MAL-2026-9001", "npm", "evil-pkg", []string{"1.0.0"}, nil),
		"osv/malicious/npm/@evil/scoped/MAL-2026-9002.json": osvJSON(t, "MAL-2026-9002", "npm", "@evil/scoped", []string{"2.0.0"}, map[string]any{"aliases": []string{"GHSA-9002-9002-9002"}}),
		"osv/malicious/pypi/evil-py/MAL-2026-9003.json":     osvJSON(t, "MAL-2026-9003", "PyPI", "Evil_Py", []string{"0.1"}, nil),
		"osv/malicious/npm/gone/MAL-2026-9004.json":         osvJSON(t, "MAL-2026-9004", "npm", "gone", []string{"1.0.0"}, map[string]any{"withdrawn": "2026-04-02T00:00:00Z"}),
		"advisories/GHSA-9002-9002-9002.json":               osvJSON(t, "GHSA-9002-9002-9002", "npm", "@evil/scoped", []string{"2.0.0"}, map[string]any{"database_specific": map[string]any{"cwe_ids": []string{"CWE-506"}}}),
		"advisories/GHSA-vuln-vuln-vuln.json":               osvJSON(t, "GHSA-vuln-vuln-vuln", "npm", "lodash", []string{"4.17.20"}, map[string]any{"summary": "Prototype pollution in lodash"}),
		"broken/not-json.json":                              []byte("{not json"),
		"broken/no-affected.json":                           []byte(`{"id":"MAL-2026-9999","modified":"2026-04-01T00:00:00Z"}`),
		"README.md":                                         []byte("not a record"),
	}
}

func writeTree(t testing.TB, root string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func zipBytes(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		data := files[name]
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantCorpusResult(path, source string) UpdateResult {
	return UpdateResult{
		Path: path, Source: source,
		Records: 5, Withdrawn: 1, NotMalicious: 1, Skipped: 2,
		Ecosystems: []EcosystemCount{{"PyPI", 1}, {"npm", 3}},
	}
}

func checkCorpusDB(t *testing.T, dir string) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := db.Lookup("npm", "evil-pkg", "1.0.0"); len(got) != 1 || got[0].ID != "MAL-2026-9001" {
		t.Errorf("Lookup evil-pkg = %+v", got)
	}
	if got := db.Lookup("npm", "@evil/scoped", "2.0.0"); len(got) != 1 || got[0].ID != "MAL-2026-9002" || !cmp.Equal(got[0].Aliases, []string{"GHSA-9002-9002-9002"}) {
		t.Errorf("Lookup @evil/scoped = %+v, want MAL-2026-9002 with its GHSA alias, once", got)
	}
	if got := db.Lookup("PyPI", "evil.py", "0.1.0"); len(got) != 1 {
		t.Errorf("Lookup evil.py = %+v", got)
	}
	if got := db.Lookup("npm", "gone", "1.0.0"); len(got) != 0 {
		t.Errorf("withdrawn record matched: %+v", got)
	}
	if got := db.Lookup("npm", "lodash", "4.17.20"); len(got) != 0 {
		t.Errorf("ordinary vulnerability matched: %+v", got)
	}
	// The embedded set is still there.
	if got := db.Lookup("npm", "axios", "1.14.1"); len(got) != 1 {
		t.Errorf("embedded axios record missing after update: %+v", got)
	}
}

func TestUpdateFromDirectory(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	writeTree(t, src, corpus(t))
	res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: src, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SkipReasons) != 2 {
		t.Errorf("SkipReasons = %q, want 2", res.SkipReasons)
	}
	res.SkipReasons = nil
	if diff := cmp.Diff(wantCorpusResult(filepath.Join(dir, IndexFile), src), res); diff != "" {
		t.Errorf("UpdateResult mismatch (-want +got):\n%s", diff)
	}
	checkCorpusDB(t, dir)
}

func TestUpdateFromZip(t *testing.T) {
	tmp, dir := t.TempDir(), t.TempDir()
	zp := filepath.Join(tmp, "all.zip")
	if err := os.WriteFile(zp, zipBytes(t, corpus(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: zp, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	res.SkipReasons = nil
	want := wantCorpusResult(filepath.Join(dir, IndexFile), zp)
	want.SHA256 = sha256Hex(zipBytes(t, corpus(t)))
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("UpdateResult mismatch (-want +got):\n%s", diff)
	}
	checkCorpusDB(t, dir)
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := db.Status()
	if st.EmbeddedOnly || !st.UpdatedAt.Equal(fixedNow) || st.Source != zp {
		t.Errorf("Status = %+v, want a local index updated at %v from %s", st, fixedNow, zp)
	}
}

// seedIndex installs a known index in dir and returns its bytes.
func seedIndex(t *testing.T, dir string) []byte {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"MAL-2026-8000.json": osvJSON(t, "MAL-2026-8000", "npm", "old-evil", []string{"1.0.0"}, nil)})
	if _, err := Update(context.Background(), UpdateOptions{Dir: dir, From: src, Now: func() time.Time { return fixedNow }}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkOldIndex(t *testing.T, dir string, old []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, old) {
		t.Error("old index was modified by a failed update")
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after failed update: %v", err)
	}
	if got := db.Lookup("npm", "old-evil", "1.0.0"); len(got) != 1 {
		t.Errorf("old index no longer usable: Lookup = %+v", got)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != IndexFile {
			t.Errorf("failed update left %s behind", e.Name())
		}
	}
}

func TestUpdateFailuresKeepOldIndex(t *testing.T) {
	good := zipBytes(t, corpus(t))
	corrupt := corruptEntry(t, good)
	tests := []struct {
		name    string
		file    []byte // written as the source zip; nil for a directory
		tree    map[string][]byte
		opts    UpdateOptions
		wantErr error
		wantMsg string
	}{
		{name: "garbage_not_a_zip", file: []byte("this is not a zip archive"), wantErr: ErrCorruptArchive},
		{name: "truncated_zip", file: good[:len(good)/2], wantErr: ErrCorruptArchive},
		{name: "corrupt_entry", file: corrupt, wantErr: ErrCorruptArchive},
		{name: "no_usable_records", file: zipBytes(t, map[string][]byte{"a.json": []byte("{}"), "b.json": osvJSON(t, "GHSA-x", "npm", "lodash", []string{"1"}, map[string]any{"summary": "ReDoS"})}), wantErr: ErrNoRecords, wantMsg: "1 entries skipped, 1 not malicious"},
		{name: "empty_directory", tree: map[string][]byte{"README": []byte("x")}, wantErr: ErrNoRecords},
		{name: "record_too_large", file: good, opts: UpdateOptions{MaxRecordBytes: 64}, wantErr: ErrTooLarge},
		{name: "total_too_large", file: good, opts: UpdateOptions{MaxTotalBytes: 600}, wantErr: ErrTooLarge},
		{name: "zip_bomb_entry", file: zipBytes(t, map[string][]byte{"bomb.json": bytes.Repeat([]byte(" "), 20<<20)}), wantErr: ErrTooLarge},
		{name: "directory_record_too_large", tree: corpus(t), opts: UpdateOptions{MaxRecordBytes: 64}, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := seedIndex(t, dir)
			src := filepath.Join(t.TempDir(), "src")
			if tt.file != nil {
				if err := os.WriteFile(src, tt.file, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				writeTree(t, src, tt.tree)
			}
			opts := tt.opts
			opts.Dir, opts.From = dir, src
			_, err := Update(context.Background(), opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Update error %q does not say %q", err, tt.wantMsg)
			}
			checkOldIndex(t, dir, old)
		})
	}
}

// corruptEntry flips bytes inside the compressed data of the first record:
// the archive still opens, the entry fails to inflate or its checksum.
func corruptEntry(t *testing.T, good []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(zr.File, func(f *zip.File) bool { return strings.HasSuffix(f.Name, ".json") })
	off, err := zr.File[i].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	for i := off + 2; i < off+12; i++ {
		bad[i] ^= 0x55
	}
	return bad
}

// zipServer is an https server on 127.0.0.1 whose handler h decides per
// request; requests for a published checksum (*.sha256) get 404 unless
// sums says otherwise (path -> body). Clients trust it through
// srv.Client().
func zipServer(t *testing.T, h http.HandlerFunc, sums ...map[string]string) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".sha256") {
			for _, m := range sums {
				if body, ok := m[r.URL.Path]; ok {
					w.Write([]byte(body))
					return
				}
			}
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestUpdateFromURL(t *testing.T) {
	body := zipBytes(t, corpus(t))
	var requests atomic.Int32
	srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	dir := t.TempDir()
	var progress bytes.Buffer
	url := srv.URL + "/osv/npm/all.zip?token=secret"
	res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: url, Progress: &progress, Now: func() time.Time { return fixedNow }, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != int64(len(body)) {
		t.Errorf("Downloaded = %d, want %d", res.Downloaded, len(body))
	}
	if res.Source != srv.URL+"/osv/npm/all.zip" {
		t.Errorf("Source = %q: query string (credentials) must be dropped", res.Source)
	}
	// TLS hands the body over in records, so intermediate progress lines
	// vary; the first and last ones do not.
	size := formatBytes(int64(len(body)))
	for _, want := range []string{
		"no checksum: " + srv.URL + "/osv/npm/all.zip.sha256 not published: the archive is not verified; pass --sha256 HEX to require one\ndownloading " + size + "\n",
		fmt.Sprintf("downloaded %s / %s (100%%)\nindexed 5 records (2 skipped, 1 not malicious)\n", size, size),
	} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if strings.Contains(progress.String(), "secret") {
		t.Errorf("progress shows the URL's query:\n%s", progress.String())
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests, want 1", requests.Load())
	}
	if res.SHA256 != sha256Hex(body) || res.ChecksumFrom != "" {
		t.Errorf("SHA256, ChecksumFrom = %q, %q; want %q, none", res.SHA256, res.ChecksumFrom, sha256Hex(body))
	}
	checkCorpusDB(t, dir)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUpdateFromURLRetriesServerError(t *testing.T) {
	body := zipBytes(t, corpus(t))
	var requests atomic.Int32
	srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			http.Error(w, "overloaded", http.StatusInternalServerError)
			return
		}
		w.Write(body)
	})
	dir := t.TempDir()
	var progress bytes.Buffer
	_, err := Update(context.Background(), UpdateOptions{Dir: dir, From: srv.URL + "/all.zip", Progress: &progress, Backoff: time.Millisecond, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 2 {
		t.Errorf("%d requests, want 2 (one 500, one success)", requests.Load())
	}
	if !strings.Contains(progress.String(), "attempt 1 of 4 failed: server answered 500 Internal Server Error; retrying") {
		t.Errorf("progress does not report the retry:\n%s", progress.String())
	}
	checkCorpusDB(t, dir)
}

func TestUpdateFromURLFailures(t *testing.T) {
	body := zipBytes(t, corpus(t))
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantErr      error
		wantMsg      string
		wantRequests int32
	}{
		{
			name: "interrupted_download",
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Promise the whole body, send half, then drop the connection.
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(http.StatusOK)
				w.Write(body[:len(body)/2])
				w.(http.Flusher).Flush()
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			wantErr: ErrDownload, wantMsg: "unexpected EOF", wantRequests: 3,
		},
		{
			name:    "always_500",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) },
			wantErr: ErrDownload, wantMsg: "after 3 attempts: server answered 502", wantRequests: 3,
		},
		{
			name:    "not_found_is_not_retried",
			handler: http.NotFound,
			wantErr: ErrDownload, wantMsg: "404", wantRequests: 1,
		},
		{
			name: "corrupt_archive_served",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("PK\x03\x04 definitely not a complete zip"))
			},
			wantErr: ErrCorruptArchive, wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				tt.handler(w, r)
			})
			dir := t.TempDir()
			old := seedIndex(t, dir)
			_, err := Update(context.Background(), UpdateOptions{Dir: dir, From: srv.URL + "/all.zip", Attempts: 3, Backoff: time.Millisecond, Client: srv.Client()})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Update error %q does not say %q", err, tt.wantMsg)
			}
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
			checkOldIndex(t, dir, old)
		})
	}
}

func TestUpdateHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	old := seedIndex(t, dir)
	pr := &cancelOnWrite{cancel: cancel}
	_, err := Update(ctx, UpdateOptions{Dir: dir, From: srv.URL + "/all.zip", Progress: pr, Backoff: time.Millisecond, Client: srv.Client()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update error = %v, want context.Canceled", err)
	}
	checkOldIndex(t, dir, old)
}

// cancelOnWrite cancels the context once the download has started.
type cancelOnWrite struct{ cancel context.CancelFunc }

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("downloading")) {
		c.cancel()
	}
	return len(p), nil
}

func TestProgressLines(t *testing.T) {
	tests := []struct {
		name   string
		term   bool
		total  int64
		writes []int
		want   string
	}{
		{"plain_known_size", false, 100, []int{5, 5, 30, 60}, "downloading 100 B\ndownloaded 10 B / 100 B (10%)\ndownloaded 40 B / 100 B (40%)\ndownloaded 100 B / 100 B (100%)\n"},
		{"plain_unknown_size", false, -1, []int{10 << 20, 10 << 20}, "downloading (size unknown)\ndownloaded 20.0 MiB\n"},
		{"plain_unknown_size_tail", false, -1, []int{20 << 20, 5}, "downloading (size unknown)\ndownloaded 20.0 MiB\ndownloaded 20.0 MiB\n"},
		{"terminal_known_size", true, 200, []int{1, 1, 100, 98}, "downloading 200 B\n\r\x1b[Kdownloaded 1 B / 200 B (0%)\r\x1b[Kdownloaded 2 B / 200 B (1%)\r\x1b[Kdownloaded 102 B / 200 B (51%)\r\x1b[Kdownloaded 200 B / 200 B (100%)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, tt.term, tt.total)
			for _, n := range tt.writes {
				p.Write(make([]byte, n))
			}
			p.done(true)
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("progress mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
