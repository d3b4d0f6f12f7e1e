package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/policy"
)

const trustBaseYML = "run:\n  mode: block\n  allow: [allowed.test:443]\n"

// prRepo makes a git repository in dir (owned by uid) whose main branch,
// also refs/remotes/origin/main, holds buildwall.yml = base, and checks
// out branch "pr" where buildwall.yml = branch.
func prRepo(t *testing.T, dir string, uid int, base, branch string) {
	t.Helper()
	prRepoFiles(t, dir, uid, map[string]string{"buildwall.yml": base}, map[string]string{"buildwall.yml": branch})
}

// prRepoFiles is prRepo with whole files (name -> content) for each side.
func prRepoFiles(t *testing.T, dir string, uid int, base, branch map[string]string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false", "-c", "safe.directory=*"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(files map[string]string) {
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	git("init", "-q", "-b", "main")
	write(base)
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	git("update-ref", "refs/remotes/origin/main", "main")
	git("checkout", "-q", "-b", "pr")
	write(branch)
	git("add", "-A")
	git("commit", "-q", "-m", "pr")
	// git refuses a repository another user owns: the build's user owns
	// its checkout, as on a runner.
	if uid != os.Getuid() {
		err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
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

// TestRunPRTrust runs the binary as root and as nobody in a pull request
// (GITHUB_BASE_REF) whose branch switches the policy to audit and allows
// *.attacker.test: the base's block policy applies, the lookup is
// blocked, and the report and stderr say the branch weakened the policy.
// A clean branch runs under its own policy; a hostile --config-from is
// exit 2 before anything runs.
func TestRunPRTrust(t *testing.T) {
	skipWithoutUserns(t)
	for _, u := range []struct {
		name string
		uid  int
	}{{"root", 0}, {"rootless", 65534}} {
		t.Run(u.name, func(t *testing.T) {
			cred := credFor(t, u.uid)
			script := "getent hosts x.attacker.test || echo lookup-failed"

			dir := workdir(t, u.uid)
			prRepo(t, dir, u.uid, trustBaseYML, "run:\n  mode: audit\n  allow: [allowed.test:443, \"*.attacker.test\"]\n")
			env := []string{"HOME=" + dir, "GITHUB_BASE_REF=main", "GITHUB_STEP_SUMMARY="}
			r := buildwall(t, dir, cred, env, "run", "--report", "run.json", "--", "sh", "-c", script)
			if r.code != 1 || r.stdout != "lookup-failed\n" {
				t.Errorf("exit %d, stdout %q; want 1 and lookup-failed (origin/main's block policy)", r.code, r.stdout)
			}
			const note = "policy weakened by the branch: mode: audit replaces block; the run policy of origin/main applies"
			if !strings.Contains(r.stderr, "buildwall: warning: "+note+"\n") {
				t.Errorf("stderr lacks the weakening")
			}
			rep := readReport(t, filepath.Join(dir, "run.json"))
			if rep.Mode != policy.ModeBlock || rep.Policy == nil || rep.Policy.File != "origin/main:buildwall.yml" || !slices.Equal(rep.Policy.Allow, []string{"allowed.test:443"}) {
				t.Errorf("report mode %s policy %+v; want origin/main's", rep.Mode, rep.Policy)
			}
			want := []string{note, "policy weakened by the branch: allow adds *.attacker.test; the run policy of origin/main applies"}
			if !slices.Equal(rep.Warnings, want) {
				t.Errorf("report warnings %q, want %q", rep.Warnings, want)
			}

			clean := workdir(t, u.uid)
			prRepo(t, clean, u.uid, trustBaseYML, "run:\n  mode: block\n  allow: []\n")
			r = buildwall(t, clean, cred, []string{"HOME=" + clean, "GITHUB_BASE_REF=main", "GITHUB_STEP_SUMMARY="}, "run", "--report", "run.json", "--", "true")
			if r.code != 0 || strings.Contains(r.stderr, "weakened") {
				t.Errorf("clean branch: exit %d, stderr %q", r.code, r.stderr)
			}
			if rep := readReport(t, filepath.Join(clean, "run.json")); rep.Policy == nil || rep.Policy.File != filepath.Join(clean, "buildwall.yml") || len(rep.Warnings) != 0 {
				t.Errorf("clean branch: report policy %+v warnings %q; want the branch's", rep.Policy, rep.Warnings)
			}

			// The branch's .npmrc adds a registry for the npm preset: the
			// base's .npmrc applies, and the build cannot reach it.
			npm := workdir(t, u.uid)
			prRepoFiles(t, npm, u.uid,
				map[string]string{"buildwall.yml": "run:\n  allow: [npm]\n", ".npmrc": "registry=https://npm.corp.test/\n", "package.json": "{}\n"},
				map[string]string{".npmrc": "registry=https://npm.corp.test/\n@evil:registry=https://npm.evil.test/\n"})
			r = buildwall(t, npm, cred, []string{"HOME=" + npm, "GITHUB_BASE_REF=main", "GITHUB_STEP_SUMMARY="}, "run", "--report", "run.json",
				"--", "sh", "-c", "getent hosts npm.evil.test || echo lookup-failed")
			if r.code != 1 || r.stdout != "lookup-failed\n" {
				t.Errorf("npmrc: exit %d, stdout %q; want 1 and lookup-failed", r.code, r.stdout)
			}
			rep = readReport(t, filepath.Join(npm, "run.json"))
			if want := []string{"policy weakened by the branch: preset npm reaches npm.evil.test:443; the run policy of origin/main applies"}; !slices.Equal(rep.Warnings, want) {
				t.Errorf("npmrc: report warnings %q, want %q", rep.Warnings, want)
			}

			for _, ref := range []string{"--upload-pack=touch pwned", "origin/nope"} {
				r = buildwall(t, clean, cred, []string{"HOME=" + clean, "GITHUB_STEP_SUMMARY="}, "run", "--config-from", ref, "--", "touch", "ran")
				if r.code != 2 {
					t.Errorf("--config-from %q: exit %d, want 2", ref, r.code)
				}
				if _, err := os.Stat(filepath.Join(clean, "ran")); err == nil {
					t.Errorf("--config-from %q: the command ran", ref)
				}
			}
		})
	}
}
