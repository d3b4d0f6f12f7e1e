package resolve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	shaLight  = "1111111111111111111111111111111111111111"
	shaTagObj = "2222222222222222222222222222222222222222"
	shaAnnot  = "3333333333333333333333333333333333333333"
	shaBranch = "4444444444444444444444444444444444444444"
)

// fakeGitHub serves the git refs API for octo/act: a lightweight tag v1, an
// annotated tag v2 (tag object → commit), a branch main, and action.yml at
// shaLight. It records the Authorization header it saw last.
type fakeGitHub struct {
	auth  atomic.Value
	fails atomic.Int32 // answer this many requests with 503 first
	calls atomic.Int32
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.auth.Store(r.Header.Get("Authorization"))
	if f.fails.Load() > 0 {
		f.fails.Add(-1)
		w.Header().Set("Retry-After", "0")
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/repos/octo/act/git/ref/tags/v1":
		w.Write([]byte(`{"ref":"refs/tags/v1","object":{"type":"commit","sha":"` + shaLight + `"}}`))
	case "/repos/octo/act/git/ref/tags/v2":
		w.Write([]byte(`{"ref":"refs/tags/v2","object":{"type":"tag","sha":"` + shaTagObj + `"}}`))
	case "/repos/octo/act/git/tags/" + shaTagObj:
		w.Write([]byte(`{"tag":"v2","object":{"type":"commit","sha":"` + shaAnnot + `"}}`))
	case "/repos/octo/act/git/ref/heads/main":
		w.Write([]byte(`{"ref":"refs/heads/main","object":{"type":"commit","sha":"` + shaBranch + `"}}`))
	case "/repos/octo/act/git/ref/heads/feature/x":
		w.Write([]byte(`{"ref":"refs/heads/feature/x","object":{"type":"commit","sha":"` + strings.ToUpper(shaBranch) + `"}}`))
	case "/repos/octo/act/contents/action.yml":
		if r.URL.Query().Get("ref") != shaLight {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("runs:\n  using: composite\n"))
	default:
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	}
}

func newTestResolver(api, git string) *Resolver {
	return New(Options{GitHubAPI: api, GitBase: git, Token: "t0ken", Backoff: time.Millisecond, Timeout: 10 * time.Second})
}

func TestCommitGitHubAPI(t *testing.T) {
	fake := &fakeGitHub{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	r := newTestResolver(srv.URL, "-")
	tests := []struct {
		ref, want string
		notFound  bool
	}{
		{ref: "v1", want: shaLight},
		{ref: "v2", want: shaAnnot}, // annotated: the commit, not the tag object
		{ref: "main", want: shaBranch},
		{ref: "feature/x", want: shaBranch},
		{ref: "v9", notFound: true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.ref, "/", "_"), func(t *testing.T) {
			got, err := r.Commit(context.Background(), "octo", "act", tt.ref)
			if tt.notFound {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Commit(%s) = %q, %v; want ErrNotFound", tt.ref, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Commit(%s) (-want +got):\n%s", tt.ref, diff)
			}
		})
	}
	if got := fake.auth.Load(); got != "Bearer t0ken" {
		t.Errorf("Authorization = %q, want the token", got)
	}
}

func TestCommitRetries(t *testing.T) {
	fake := &fakeGitHub{}
	fake.fails.Store(2)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	r := newTestResolver(srv.URL, "-")
	got, err := r.Commit(context.Background(), "octo", "act", "v1")
	if err != nil || got != shaLight {
		t.Fatalf("Commit = %q, %v; want %s after two 503s", got, err, shaLight)
	}
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
	// Cached: no new request.
	if _, err := r.Commit(context.Background(), "octo", "act", "v1"); err != nil {
		t.Fatal(err)
	}
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("cached answer made a request (%d)", n)
	}

	// Retries run out: the error says so.
	fake.fails.Store(100)
	r = New(Options{GitHubAPI: srv.URL, GitBase: "-", Retries: 2, Backoff: time.Millisecond})
	_, err = r.Commit(context.Background(), "octo", "act", "v1")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("Commit with a failing API = %v, want a 503 after 3 attempts", err)
	}
}

func TestFile(t *testing.T) {
	srv := httptest.NewServer(&fakeGitHub{})
	defer srv.Close()
	r := newTestResolver(srv.URL, "-")
	got, err := r.File(context.Background(), "octo", "act", "action.yml", shaLight)
	if err != nil || string(got) != "runs:\n  using: composite\n" {
		t.Fatalf("File = %q, %v", got, err)
	}
	if _, err := r.File(context.Background(), "octo", "act", "action.yaml", shaLight); !errors.Is(err, ErrNotFound) {
		t.Errorf("File(missing) = %v, want ErrNotFound", err)
	}
}

func TestRetryAfter429(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			// An HTTP date in the past: retry at once.
			w.Header().Set("Retry-After", "Mon, 02 Jan 2006 15:04:05 GMT")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"object":{"type":"commit","sha":"` + shaLight + `"}}`))
	}))
	defer srv.Close()
	r := New(Options{GitHubAPI: srv.URL, GitBase: "-", Backoff: time.Hour, MaxBackoff: time.Hour})
	got, err := r.Commit(context.Background(), "o", "r", "v1")
	if err != nil || got != shaLight {
		t.Fatalf("Commit = %q, %v; want a retry after the 429", got, err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestNotFoundIsNotRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	r := New(Options{GitHubAPI: srv.URL, GitBase: "-", Backoff: time.Millisecond})
	if _, err := r.Commit(context.Background(), "o", "r", "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Commit = %v, want ErrNotFound", err)
	}
	if n.Load() != 2 { // tags, then heads; no retries
		t.Errorf("%d requests, want 2", n.Load())
	}
}
