package trust

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo creates a repository in a new temp dir whose main branch holds
// files (slash path -> content; a value starting with "symlink:" is a
// symbolic link to the rest), and returns its directory.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "symlink:"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "base")
	return dir
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCheckRef(t *testing.T) {
	for _, ok := range []string{"origin/main", "main", "v1.2.3", "HEAD~1", "release/2026-12", "0123abcd", "HEAD^", "@{u}"} {
		if err := CheckRef(ok); err != nil {
			t.Errorf("CheckRef(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "--upload-pack=touch /tmp/pwned", "--output=/tmp/x", "main --all", "a\nb", "a;b", "$(id)", "a:b", strings.Repeat("a", 300)} {
		if err := CheckRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("CheckRef(%q) = %v, want ErrBadRef", bad, err)
		}
	}
}

func TestOpenAndRead(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		"buildwall.yml":     "scan:\n  fail-on: high\n",
		"app/.npmrc":        "registry=https://npm.corp.example/\n",
		"app/buildwall.yml": "scan: {}\n",
		"app/link/.npmrc":   "symlink:../.npmrc",
		"other.txt":         "not listed",
	})
	// The work tree changes after the commit: the revision must not see it.
	if err := os.WriteFile(filepath.Join(dir, "buildwall.yml"), []byte("scan:\n  fail-on: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rev, err := Open(ctx, filepath.Join(dir, "app"), "main", []string{"buildwall.yml", ".npmrc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Commit) != 40 {
		t.Errorf("Commit = %q, want a full object name", rev.Commit)
	}
	data, err := rev.ReadFile(ctx, "buildwall.yml", 1<<10)
	if err != nil || string(data) != "scan:\n  fail-on: high\n" {
		t.Errorf("ReadFile(buildwall.yml) = %q, %v; want the committed content", data, err)
	}
	if p, ok := rev.FindUp("app/sub", "buildwall.yml"); !ok || p != "app/buildwall.yml" {
		t.Errorf("FindUp(app/sub) = %q, %v; want app/buildwall.yml", p, ok)
	}
	if _, err := rev.ReadFile(ctx, "other.txt", 1<<10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of an unlisted name: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := rev.ReadFile(ctx, "app/link/.npmrc", 1<<10); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a symlink entry: err = %v, want a not-a-regular-file error", err)
	}
	if _, err := rev.ReadFile(ctx, "buildwall.yml", 5); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("ReadFile over the limit: err = %v, want too large", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := gitRepo(t, map[string]string{"buildwall.yml": "scan: {}\n"})
	ctx := context.Background()
	marker := filepath.Join(dir, "pwned")
	tests := []struct {
		name, dir, ref string
		want           error
	}{
		{"unknown_ref", dir, "origin/nope", ErrUnknownRef},
		{"path_spec", dir, "main^{tree}", ErrUnknownRef},
		{"upload_pack", dir, "--upload-pack=touch " + marker, ErrBadRef},
		{"output_option", dir, "--output=" + marker, ErrBadRef},
		{"dash", dir, "-x", ErrBadRef},
		{"not_a_repository", t.TempDir(), "main", ErrNotRepository},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.dir, tt.ref, []string{"buildwall.yml"})
			if !errors.Is(err, tt.want) {
				t.Errorf("Open(%q) = %v, want %v", tt.ref, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a hostile ref made git write a file")
	}
}

func TestOpenCancelled(t *testing.T) {
	dir := gitRepo(t, map[string]string{"buildwall.yml": "scan: {}\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, dir, "main", []string{"buildwall.yml"}); err == nil {
		t.Error("Open with a cancelled context succeeded")
	}
}

// TestOpenBoundsListing: a revision with more configuration files than the
// bound is an error, not an unbounded map.
func TestOpenBoundsListing(t *testing.T) {
	dir := gitRepo(t, map[string]string{"a/.npmrc": "x", "b/.npmrc": "x", "c/.npmrc": "x", "d/other": "x"})
	old := maxEntries
	maxEntries = 2
	t.Cleanup(func() { maxEntries = old })
	if _, err := Open(context.Background(), dir, "main", []string{".npmrc"}); err == nil || !strings.Contains(err.Error(), "more than 2 configuration files") {
		t.Errorf("Open = %v, want the listing bound", err)
	}
	maxEntries = 3
	if _, err := Open(context.Background(), dir, "main", []string{".npmrc"}); err != nil {
		t.Errorf("Open at the bound = %v", err)
	}
}

// TestOpenTimeout: a git that never answers is stopped by the timeout.
func TestOpenTimeout(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\nsleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	old := commandTimeout
	commandTimeout = 200 * time.Millisecond
	t.Cleanup(func() { commandTimeout = old })
	start := time.Now()
	_, err := Open(context.Background(), t.TempDir(), "main", nil)
	if err == nil {
		t.Fatal("Open succeeded with a git that never answers")
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("Open took %v; the timeout is 200ms (plus 250ms for the pipes)", d)
	}
}

// TestOpenFromSubmodule: a directory inside a checked-out submodule is read
// from the superproject's revision, not from the submodule's own (whose
// origin belongs to whoever the submodule URL names).
func TestOpenFromSubmodule(t *testing.T) {
	sub := gitRepo(t, map[string]string{"buildwall.yml": "scan:\n  fail-on: none\n"})
	git(t, sub, "update-ref", "refs/remotes/origin/main", "main")
	super := gitRepo(t, map[string]string{"buildwall.yml": "scan:\n  fail-on: low\n"})
	git(t, super, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "web")
	git(t, super, "commit", "-q", "-m", "submodule")
	git(t, super, "update-ref", "refs/remotes/origin/main", "main")
	git(t, filepath.Join(super, "web"), "update-ref", "refs/remotes/origin/main", "main")
	rev, err := Open(context.Background(), filepath.Join(super, "web"), "origin/main", []string{"buildwall.yml"})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(super)
	if rev.Top != real {
		t.Errorf("Top = %s, want the superproject %s", rev.Top, real)
	}
	data, err := rev.ReadFile(context.Background(), "buildwall.yml", 1<<10)
	if err != nil || !strings.Contains(string(data), "fail-on: low") {
		t.Errorf("read %q, %v; want the superproject's buildwall.yml", data, err)
	}
	if rev.Has("web/buildwall.yml") {
		t.Error("the submodule's files are listed as the superproject's")
	}
}

// A build step that can write .git plants a replace ref (swapping the
// base's buildwall.yml blob for its own) and a graft, and sets the
// environment knobs that would re-enable them: the trusted read must
// still return the committed content.
func TestOpenIgnoresReplaceRefs(t *testing.T) {
	dir := gitRepo(t, map[string]string{"buildwall.yml": "scan:\n  fail-on: high\n"})
	orig := strings.TrimSpace(git(t, dir, "rev-parse", "main:buildwall.yml"))
	evil := filepath.Join(dir, "evil.yml")
	if err := os.WriteFile(evil, []byte("scan:\n  fail-on: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forged := strings.TrimSpace(git(t, dir, "hash-object", "-w", evil))
	git(t, dir, "replace", orig, forged)
	// Sanity: plain git now shows the forged content.
	if got := git(t, dir, "show", "main:buildwall.yml"); !strings.Contains(got, "none") {
		t.Fatalf("replace ref not effective for plain git: %q", got)
	}
	head := strings.TrimSpace(git(t, dir, "rev-parse", "main"))
	if err := os.WriteFile(filepath.Join(dir, ".git", "info", "grafts"), []byte(head+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_REPLACE_REF_BASE", "refs/replace/")
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "core.useReplaceRefs")
	t.Setenv("GIT_CONFIG_VALUE_0", "true")
	t.Setenv("GIT_GRAFT_FILE", evil)
	ctx := context.Background()
	rev, err := Open(ctx, dir, "main", []string{"buildwall.yml"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := rev.ReadFile(ctx, "buildwall.yml", 1<<10)
	if err != nil || string(data) != "scan:\n  fail-on: high\n" {
		t.Errorf("ReadFile through a replace ref = %q, %v; want the committed content", data, err)
	}
}
