package advisory

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// plainServer is a plain http server on 127.0.0.1 that counts requests:
// a refused source must never be contacted.
func plainServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write(body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestUpdateRefusesInsecureSources(t *testing.T) {
	body := zipBytes(t, corpus(t))
	plain, hits := plainServer(t, body)
	redirect := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/all.zip", http.StatusFound)
	})
	tests := []struct {
		name, from string
		client     *http.Client
		wantMsg    string
	}{
		{"plain_http", plain.URL + "/all.zip", nil, "refusing plain http source"},
		{"plain_http_upper_case", strings.Replace(plain.URL, "http://", "HTTP://", 1) + "/all.zip", nil, "refusing plain http source"},
		{"ftp", "ftp://mirror.example/all.zip", nil, `unsupported source scheme "ftp"`},
		{"file_url", "file:///etc/passwd", nil, `unsupported source scheme "file"`},
		{"https_redirect_to_http", redirect.URL + "/all.zip", redirect.Client(), "redirect to " + plain.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := seedIndex(t, dir)
			_, err := Update(context.Background(), UpdateOptions{Dir: dir, From: tt.from, Client: tt.client, Attempts: 2, Backoff: time.Millisecond})
			if !errors.Is(err, ErrInsecureSource) {
				t.Fatalf("Update error = %v, want ErrInsecureSource", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Update error %q does not say %q", err, tt.wantMsg)
			}
			checkOldIndex(t, dir, old)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the plain http server received %d requests, want none", n)
	}
}

func TestUpdateVerifiesChecksum(t *testing.T) {
	body := zipBytes(t, corpus(t))
	good := sha256Hex(body)
	bad := strings.Repeat("0", 64)
	tests := []struct {
		name      string
		sha256    string            // --sha256
		published map[string]string // path -> body of the checksum file
		wantErr   error
		wantFrom  string // ChecksumFrom on success, relative to the server URL
	}{
		{name: "flag_matches", sha256: strings.ToUpper(good), wantFrom: "--sha256"},
		{name: "flag_mismatch", sha256: bad, wantErr: ErrChecksumMismatch},
		{name: "flag_mismatch_even_when_published_matches", sha256: bad, published: map[string]string{"/all.zip.sha256": good}, wantErr: ErrChecksumMismatch},
		{name: "flag_malformed", sha256: "abc", wantErr: ErrInvalidOptions},
		{name: "published_sha256sum_line", published: map[string]string{"/all.zip.sha256": good + "  all.zip\n"}, wantFrom: "/all.zip.sha256"},
		{name: "published_bare_digest", published: map[string]string{"/all.zip.sha256": good}, wantFrom: "/all.zip.sha256"},
		{name: "published_several_files", published: map[string]string{"/all.zip.sha256": bad + "  other.zip\n" + good + " *all.zip\n"}, wantFrom: "/all.zip.sha256"},
		{name: "published_mismatch", published: map[string]string{"/all.zip.sha256": bad + "  all.zip\n"}, wantErr: ErrChecksumMismatch},
		{name: "published_malformed", published: map[string]string{"/all.zip.sha256": "<html>\x1b[31m::error::hello</html>"}, wantErr: ErrChecksumMismatch},
		{name: "none_published", wantFrom: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var archives atomic.Int32
			srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
				archives.Add(1)
				w.Write(body)
			}, tt.published)
			dir := t.TempDir()
			old := seedIndex(t, dir)
			var progress strings.Builder
			res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: srv.URL + "/all.zip", SHA256: tt.sha256, Client: srv.Client(), Progress: &progress})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\x1b\n") || strings.Contains(err.Error(), "::error") {
					t.Errorf("error echoes the server's text: %q", err)
				}
				checkOldIndex(t, dir, old)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantFrom
			if strings.HasPrefix(want, "/") {
				want = srv.URL + want
			}
			if res.ChecksumFrom != want || res.SHA256 != good {
				t.Errorf("ChecksumFrom, SHA256 = %q, %q; want %q, %q", res.ChecksumFrom, res.SHA256, want, good)
			}
			notVerified := strings.Contains(progress.String(), "the archive is not verified")
			if notVerified != (want == "") {
				t.Errorf("progress says not verified = %v, want %v:\n%s", notVerified, want == "", progress.String())
			}
		})
	}
}

func TestUpdateVerifiesLocalArchive(t *testing.T) {
	body := zipBytes(t, corpus(t))
	good := sha256Hex(body)
	tests := []struct {
		name, sha256, beside string // beside: content of FILE.sha256, "" for none
		wantErr              error
		wantFrom             string
	}{
		{name: "flag", sha256: good, wantFrom: "--sha256"},
		{name: "beside", beside: good + "  all.zip\n", wantFrom: "beside"},
		{name: "beside_mismatch", beside: strings.Repeat("a", 64) + "  all.zip\n", wantErr: ErrChecksumMismatch},
		{name: "none", wantFrom: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dir := t.TempDir(), t.TempDir()
			zp := filepath.Join(src, "all.zip")
			if err := os.WriteFile(zp, body, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.beside != "" {
				if err := os.WriteFile(zp+".sha256", []byte(tt.beside), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: zp, SHA256: tt.sha256})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := tt.wantFrom
			if want == "beside" {
				want = zp + ".sha256"
			}
			if res.ChecksumFrom != want {
				t.Errorf("ChecksumFrom = %q, want %q", res.ChecksumFrom, want)
			}
		})
	}
	t.Run("directory_with_sha256", func(t *testing.T) {
		src := t.TempDir()
		writeTree(t, src, corpus(t))
		_, err := Update(context.Background(), UpdateOptions{Dir: t.TempDir(), From: src, SHA256: good})
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Update error = %v, want ErrInvalidOptions", err)
		}
	})
}

// TestUpdateNeverEchoesServerText: a hostile server's status line and
// body (escape sequences, a workflow command) do not reach errors or
// progress output.
func TestUpdateNeverEchoesServerText(t *testing.T) {
	srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 503 \x1b]0;owned\x07::error::reason\r\nContent-Length: 30\r\n\r\n\x1b[2J::error file=x::body text!!\n")
		bw.Flush()
	})
	var progress strings.Builder
	_, err := Update(context.Background(), UpdateOptions{Dir: t.TempDir(), From: srv.URL + "/all.zip", Client: srv.Client(), Progress: &progress, Attempts: 2, Backoff: time.Millisecond})
	if !errors.Is(err, ErrDownload) {
		t.Fatalf("Update error = %v, want ErrDownload", err)
	}
	for _, s := range []string{err.Error(), progress.String()} {
		if strings.ContainsAny(s, "\x1b\x07") || strings.Contains(s, "::error") || strings.Contains(s, "owned") {
			t.Errorf("server text echoed: %q", s)
		}
	}
	if !strings.Contains(err.Error(), "server answered 503 Service Unavailable") {
		t.Errorf("error %q does not name the status", err)
	}
}

// TestUpdateUntrustedCertificateNotRetried: a server whose certificate
// does not verify fails at once, without retries.
func TestUpdateUntrustedCertificateNotRetried(t *testing.T) {
	var requests atomic.Int32
	srv := zipServer(t, func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	start := time.Now()
	_, err := Update(context.Background(), UpdateOptions{Dir: t.TempDir(), From: srv.URL + "/all.zip", Backoff: time.Second})
	if !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Update error = %v, want a certificate ErrDownload", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("took %v: the certificate error was retried", d)
	}
	if requests.Load() != 0 {
		t.Errorf("%d requests reached the handler", requests.Load())
	}
}
