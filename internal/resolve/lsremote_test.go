package resolve

import (
	"context"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRun runs git in dir with a fixed identity and returns its trimmed output.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitServer serves a real repository octo/act over smart HTTP on loopback
// with git http-backend, and returns its base URL and the commits of the
// lightweight tag v1, the annotated tag v2 and the branch dev.
func gitServer(t *testing.T) (base string, v1, v2, dev string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	backend := filepath.Join(gitRun(t, ".", "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git has no http-backend (%v); cannot serve a repository over HTTP", err)
	}
	work := t.TempDir()
	gitRun(t, work, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(work, "action.yml"), []byte("runs: {using: composite}\n"), 0o644)
	gitRun(t, work, "add", ".")
	gitRun(t, work, "commit", "-q", "-m", "one")
	v1 = gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "tag", "v1")
	gitRun(t, work, "commit", "-q", "--allow-empty", "-m", "two")
	v2 = gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "tag", "-a", "-m", "release two", "v2")
	gitRun(t, work, "checkout", "-q", "-b", "dev")
	gitRun(t, work, "commit", "-q", "--allow-empty", "-m", "three")
	dev = gitRun(t, work, "rev-parse", "HEAD")
	root := t.TempDir()
	gitRun(t, root, "clone", "-q", "--bare", work, filepath.Join(root, "octo", "act"))

	srv := httptest.NewServer(&cgi.Handler{
		Path: backend,
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	return srv.URL, v1, v2, dev
}

func TestCommitLsRemoteFallback(t *testing.T) {
	base, v1, v2, dev := gitServer(t)
	// The API is rate-limited (403, not retried): the resolver falls back
	// to git ls-remote.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
	}))
	defer api.Close()
	r := New(Options{GitHubAPI: api.URL, GitBase: base, Backoff: time.Millisecond, Timeout: 20 * time.Second})
	for _, tt := range []struct{ ref, want string }{
		{"v1", v1},
		{"v2", v2}, // annotated: the peeled commit, not the tag object
		{"dev", dev},
		{"main", v2},
	} {
		got, err := r.Commit(context.Background(), "octo", "act", tt.ref)
		if err != nil {
			t.Fatalf("Commit(%s): %v", tt.ref, err)
		}
		if got != tt.want {
			t.Errorf("Commit(%s) = %s, want %s", tt.ref, got, tt.want)
		}
	}
	_, err := r.Commit(context.Background(), "octo", "act", "v404")
	if err == nil || !strings.Contains(err.Error(), "rate limit") || !strings.Contains(err.Error(), "ls-remote") {
		t.Errorf("Commit(v404) = %v, want both the API and the ls-remote failure", err)
	}
	_, err = r.Commit(context.Background(), "octo", "gone", "v1")
	if err == nil || !strings.Contains(err.Error(), "git ls-remote") {
		t.Errorf("Commit(missing repo) = %v, want the ls-remote failure", err)
	}
}

func TestCommitNotFoundBoth(t *testing.T) {
	base, _, _, _ := gitServer(t)
	api := httptest.NewServer(http.NotFoundHandler())
	defer api.Close()
	r := New(Options{GitHubAPI: api.URL, GitBase: base, Backoff: time.Millisecond})
	_, err := r.Commit(context.Background(), "octo", "act", "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Commit(nope) = %v, want ErrNotFound", err)
	}
}
