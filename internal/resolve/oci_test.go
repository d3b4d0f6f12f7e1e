package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRegistry is an OCI distribution registry with anonymous token auth:
// library/node:20 is a multi-platform index (digest in the header),
// team/app:1 a single manifest answered without Docker-Content-Digest (the
// digest is the body's sha256), team/nohead:1 refuses HEAD.
type fakeRegistry struct {
	srv      *httptest.Server
	tokens   atomic.Int32
	accepted atomic.Value
}

const nodeIndexDigest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

var appManifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		if r.URL.Query().Get("service") != "registry.test" || !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:") {
			http.Error(w, "bad token request", http.StatusBadRequest)
			return
		}
		f.tokens.Add(1)
		w.Write([]byte(`{"token":"anon-123"}`))
		return
	}
	if r.Header.Get("Authorization") != "Bearer anon-123" {
		repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/"+r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+f.srv.URL+`/token",service="registry.test",scope="repository:`+repo+`:pull"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.accepted.Store(r.Header.Get("Accept"))
	switch r.URL.Path {
	case "/v2/library/node/manifests/20":
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		w.Header().Set("Docker-Content-Digest", nodeIndexDigest)
		w.Write([]byte(`{}`))
	case "/v2/team/app/manifests/1":
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Write(appManifest)
	case "/v2/team/nohead/manifests/1":
		if r.Method == http.MethodHead {
			http.Error(w, "no HEAD", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Docker-Content-Digest", nodeIndexDigest)
		w.Write([]byte(`{}`))
	default:
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
	}
}

func TestDigest(t *testing.T) {
	f := &fakeRegistry{}
	f.srv = httptest.NewServer(f)
	defer f.srv.Close()
	r := New(Options{Registry: f.srv.URL, GitBase: "-", Backoff: time.Millisecond})
	sum := sha256.Sum256(appManifest)
	tests := []struct {
		name, tag, want string
	}{
		{name: "node", tag: "20", want: nodeIndexDigest},
		{name: "docker.io/library/node", tag: "20", want: nodeIndexDigest},
		{name: "registry.example:5000/team/app", tag: "1", want: "sha256:" + hex.EncodeToString(sum[:])},
		{name: "registry.example/team/nohead", tag: "1", want: nodeIndexDigest},
	}
	for _, tt := range tests {
		got, err := r.Digest(context.Background(), tt.name, tt.tag)
		if err != nil {
			t.Fatalf("Digest(%s:%s): %v", tt.name, tt.tag, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Digest(%s:%s) (-want +got):\n%s", tt.name, tt.tag, diff)
		}
	}
	if !strings.Contains(f.accepted.Load().(string), "application/vnd.oci.image.index.v1+json") ||
		!strings.Contains(f.accepted.Load().(string), "application/vnd.docker.distribution.manifest.list.v2+json") {
		t.Errorf("Accept = %q, want index and manifest list types", f.accepted.Load())
	}
	if f.tokens.Load() == 0 {
		t.Error("the token flow never ran")
	}
	if _, err := r.Digest(context.Background(), "node", "404"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Digest(node:404) = %v, want ErrNotFound", err)
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
	}{
		{"node", ImageRef{"docker.io", "library/node"}},
		{"bitnami/redis", ImageRef{"docker.io", "bitnami/redis"}},
		{"docker.io/node", ImageRef{"docker.io", "library/node"}},
		{"index.docker.io/library/node", ImageRef{"docker.io", "library/node"}},
		{"ghcr.io/octo/tool", ImageRef{"ghcr.io", "octo/tool"}},
		{"localhost/app", ImageRef{"localhost", "app"}},
		{"registry.example:5000/a/b/c", ImageRef{"registry.example:5000", "a/b/c"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, SplitImage(tt.in)); diff != "" {
			t.Errorf("SplitImage(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	got := parseChallenge(`realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`)
	want := map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseChallenge (-want +got):\n%s", diff)
	}
}
