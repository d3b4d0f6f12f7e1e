package session

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestGitDirs(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	main := filepath.Join(root, "main")
	if err := os.MkdirAll(filepath.Join(main, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	git(main, "init", "-q", "-b", "main")
	git(main, "commit", "-q", "--allow-empty", "-m", "base")
	git(main, "worktree", "add", "-q", filepath.Join(root, "wt"), "-b", "other")
	// A submodule-style .git file with a relative path.
	mod := filepath.Join(main, "a", "mod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(main, ".git", "modules", "mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, ".git"), []byte("gitdir: ../../.git/modules/mod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link into the tree from outside it.
	if err := os.Symlink(filepath.Join(main, "a"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(root, "none")
	if err := os.Mkdir(none, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{main, []string{filepath.Join(main, ".git")}},
		{filepath.Join(main, "a", "b"), []string{filepath.Join(main, ".git")}},
		{filepath.Join(root, "link", "b"), []string{filepath.Join(main, ".git")}},
		{filepath.Join(root, "wt"), []string{filepath.Join(main, ".git", "worktrees", "wt"), filepath.Join(main, ".git")}},
		{mod, []string{filepath.Join(main, ".git", "modules", "mod"), filepath.Join(main, ".git")}},
		{none, nil},
	} {
		if got := gitDirs(tc.dir); !slices.Equal(got, tc.want) {
			t.Errorf("gitDirs(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}
