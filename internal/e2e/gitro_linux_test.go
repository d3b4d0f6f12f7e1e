package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// gitWrites tries, from inside the sandbox, what an earlier build step
// would do to forge the base a later trusted comparison reads: move a
// remote-tracking ref with git, write a ref file directly, point the
// remote elsewhere in .git/config. Each prints OK-<what> when it worked.
const gitWrites = `git update-ref refs/remotes/origin/main HEAD~0 && echo OK-update-ref
(echo 0000000000000000000000000000000000000000 > .git/refs/remotes/origin/evil) && echo OK-ref-file
(echo "[remote \"origin\"] url = https://evil.example/x" >> .git/config) && echo OK-config
mkdir -p sub && cd sub && git rev-parse --git-dir >/dev/null && echo OK-read`

// TestRunGitDirReadOnly: inside buildwall run the repository's .git is
// read-only (EROFS), found from a subdirectory of the work tree too; the
// policy key git-writable: true lets the build write it.
func TestRunGitDirReadOnly(t *testing.T) {
	skipWithoutUserns(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	for _, u := range []struct {
		name string
		uid  int
	}{{"root", 0}, {"rootless", 65534}} {
		t.Run(u.name, func(t *testing.T) {
			if os.Getuid() != 0 && u.uid != os.Getuid() {
				t.Skip("needs root to switch users")
			}
			var cred *syscall.Credential
			if u.uid != os.Getuid() {
				cred = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.uid)}
			}
			for _, tc := range []struct {
				name, policy string
				want         []string
			}{
				{"default", "run:\n  allow: []\n", []string{"OK-read"}},
				{"git_writable", "run:\n  allow: []\n  git-writable: true\n", []string{"OK-update-ref", "OK-ref-file", "OK-config", "OK-read"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dir := workdir(t, u.uid)
					repo := filepath.Join(dir, "repo")
					gitSetup(t, dir, repo, u.uid)
					if err := os.WriteFile(filepath.Join(repo, "buildwall.yml"), []byte(tc.policy), 0o644); err != nil {
						t.Fatal(err)
					}
					before, _ := os.ReadFile(filepath.Join(repo, ".git", "config"))
					env := []string{"HOME=" + dir, "GITHUB_BASE_REF=", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=", "GIT_CONFIG_NOSYSTEM=1"}
					r := buildwall(t, repo, cred, env, "run", "--report", filepath.Join(dir, "report.json"), "--", "sh", "-c", gitWrites)
					var got []string
					for _, line := range strings.Split(r.stdout, "\n") {
						if strings.HasPrefix(line, "OK-") {
							got = append(got, line)
						}
					}
					if strings.Join(got, " ") != strings.Join(tc.want, " ") {
						t.Errorf("writes that worked: %v, want %v\nstderr:\n%s", got, tc.want, r.stderr)
					}
					after, _ := os.ReadFile(filepath.Join(repo, ".git", "config"))
					if changed := string(after) != string(before); changed != (tc.name == "git_writable") {
						t.Errorf(".git/config changed on the host: %v", changed)
					}
					if tc.name == "default" && strings.Count(r.stderr, "Read-only file system") < 3 {
						t.Errorf("want every write to fail with EROFS; stderr:\n%s", r.stderr)
					}
				})
			}
		})
	}
}

// gitSetup makes a repository with one commit at repo, owned by uid.
func gitSetup(t *testing.T, home, repo string, uid int) {
	t.Helper()
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "f"},
		{"commit", "-q", "-m", "base"},
		{"update-ref", "refs/remotes/origin/main", "HEAD"},
	} {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if uid != os.Getuid() {
		err := filepath.Walk(repo, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, uid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
