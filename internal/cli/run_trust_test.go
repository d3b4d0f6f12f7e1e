package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/npmconfig"
	"github.com/buildwall/buildwall/internal/policy"
)

// runBase is the base branch of the run trust tests: a block policy with
// the npm preset, whose registry comes from the project .npmrc.
var runBase = map[string]string{
	"buildwall.yml": runBaseYML,
	".npmrc":        "registry=https://npm.corp.example/\n",
	"package.json":  `{"name":"app","version":"1.0.0"}` + "\n",
}

const runBaseYML = `scan:
  fail-on: high
run:
  mode: block
  allow:
    - npm
    - api.corp.example:443
  dns:
    tunnel-limit: 2048
`

// hermeticNPM makes the npm preset read only the project .npmrc (the
// tree's, or the one the trusted revision supplies), never this machine's
// npm configuration.
func hermeticNPM(t *testing.T) {
	t.Helper()
	old := runPolicyEnv
	home := t.TempDir()
	runPolicyEnv = func(ctx context.Context, presets []string, dir string, project func(string) ([]byte, error)) policy.Env {
		return policy.Detector{Presets: presets, Dir: dir, NPM: func(_ context.Context, dir string) npmconfig.Registries {
			r, _ := npmconfig.Read(npmconfig.Options{Environ: []string{}, Home: home, NPM: filepath.Join(home, "no-npm"), Dir: dir, Project: project})
			return r
		}}.Detect(ctx)
	}
	t.Cleanup(func() { runPolicyEnv = old })
}

type runPolicyResult struct {
	p      *policy.Policy
	err    error
	stderr string
}

func loadRunPolicyIn(t *testing.T, dir string, vars map[string]string, fl runFlags) runPolicyResult {
	t.Helper()
	var stderr bytes.Buffer
	env := &Env{Stderr: &stderr, Dir: dir, Getenv: func(k string) string { return vars[k] }}
	p, err := loadRunPolicy(context.Background(), env, dir, fl)
	return runPolicyResult{p, err, stderr.String()}
}

func weakenedNotes(p *policy.Policy) []string {
	var out []string
	for _, w := range p.Warnings() {
		if strings.HasPrefix(w, weakenedPrefix) {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(w, weakenedPrefix), "; the run policy of origin/main applies"))
		}
	}
	return out
}

// TestRunPolicyTrust: a branch that widens the run policy (a wildcard,
// audit mode, a tcp: entry, a unix socket, a registry in its .npmrc that
// the npm preset would allow, a higher tunnel limit) runs under the base
// branch's policy, and the report's warnings say why; a clean or stricter
// branch runs under its own, except with --config-from, where the base's
// always applies.
func TestRunPolicyTrust(t *testing.T) {
	hermeticNPM(t)
	rewrite := func(old, new string) map[string]string {
		return map[string]string{"buildwall.yml": strings.Replace(runBaseYML, old, new, 1)}
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []string // weakenings; none: the branch's policy applies
	}{
		{"clean_branch", map[string]string{"README.md": "docs\n"}, nil},
		{"stricter_branch", rewrite("    - api.corp.example:443\n", ""), nil},
		{"wildcard", rewrite("    - npm\n", "    - npm\n    - \"*.attacker.example\"\n"), []string{"allow adds *.attacker.example"}},
		{"audit", rewrite("mode: block", "mode: audit"), []string{"mode: audit replaces block"}},
		{"mode_removed_means_block", rewrite("  mode: block\n", ""), nil},
		{"tcp", rewrite("  dns:\n", "  tcp: [exfil.attacker.example:443]\n  dns:\n"), []string{"tcp: exfil.attacker.example:443 adds opaque TCP"}},
		{"unix_socket", rewrite("  dns:\n", "  unix-sockets: [/run/docker.sock]\n  dns:\n"), []string{"unix-sockets adds /run/docker.sock"}},
		{"git_writable", rewrite("  dns:\n", "  git-writable: true\n  dns:\n"), []string{"git-writable: true makes the git directory writable"}},
		{"host_ports", rewrite("  dns:\n", "  host-ports: [2375]\n  dns:\n"), []string{"host-ports adds 2375"}},
		{"tunnel_limit", rewrite("2048", "65536"), []string{"dns.tunnel-limit 65536 is higher than 2048"}},
		{"upstream", rewrite("  dns:\n", "  dns:\n    upstream: 198.51.100.53\n"), []string{"dns.upstream 198.51.100.53:53 replaces the runner's resolver"}},
		{"npmrc_registry", map[string]string{".npmrc": "registry=https://npm.corp.example/\n@evil:registry=https://npm.attacker.example/\n"},
			[]string{"preset npm reaches npm.attacker.example:443"}},
		{"npmrc_replaced", map[string]string{".npmrc": "registry=https://npm.attacker.example/\n"},
			[]string{"preset npm reaches npm.attacker.example:443"}},
		{"npmrc_loopback", map[string]string{".npmrc": "registry=http://127.0.0.1:2375/\n"},
			[]string{"preset npm reaches the runner's loopback port 2375"}},
		{"run_section_deleted", map[string]string{"buildwall.yml": "scan:\n  fail-on: high\n"}, []string{"mode: audit replaces block", "dns.tunnel-limit 4096 is higher than 2048"}},
		{"config_deleted", map[string]string{"buildwall.yml": ""}, []string{"mode: audit replaces block", "dns.tunnel-limit 4096 is higher than 2048"}},
		{"together", map[string]string{
			"buildwall.yml": "run:\n  mode: audit\n  allow: [npm, \"*.attacker.example\"]\n  tcp: [\"*.attacker.example:22\"]\n",
			".npmrc":        "registry=https://npm.attacker.example/\n",
		}, []string{
			"mode: audit replaces block", "preset npm reaches npm.attacker.example:443", "allow adds *.attacker.example",
			"tcp: *.attacker.example:22 adds opaque TCP", "dns.tunnel-limit 4096 is higher than 2048",
		}},
	}
	modes := []struct {
		name string
		vars map[string]string
		fl   runFlags
	}{
		{"config_from", nil, runFlags{configFrom: "origin/main"}},
		{"github_base_ref", map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{}},
		{"gitlab_target_branch", map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}, runFlags{}},
	}
	for _, tt := range tests {
		for _, m := range modes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				dir := trustRepo(t, runBase, tt.change)
				got := loadRunPolicyIn(t, dir, m.vars, m.fl)
				if got.err != nil {
					t.Fatalf("loadRunPolicy: %v\nstderr: %s", got.err, got.stderr)
				}
				if diff := cmp.Diff(tt.want, weakenedNotes(got.p)); diff != "" {
					t.Errorf("weakenings mismatch (-want +got):\n%s\nstderr: %s", diff, got.stderr)
				}
				for _, w := range tt.want {
					if line := "buildwall: warning: " + weakenedPrefix + w + "; the run policy of origin/main applies\n"; !strings.Contains(got.stderr, line) {
						t.Errorf("stderr lacks %q:\n%s", line, got.stderr)
					}
				}
				spec := got.p.Spec()
				wantTrusted := m.fl.configFrom != "" || len(tt.want) > 0
				if wantTrusted {
					if spec.File != "origin/main:buildwall.yml" || spec.Mode != policy.ModeBlock || len(spec.Allow) != 2 || len(spec.TCP) != 0 || len(spec.UnixSockets) != 0 {
						t.Errorf("applied policy %+v, want origin/main's", spec)
					}
					if diff := cmp.Diff([]string{"npm.corp.example:443"}, got.p.Expanded()["npm"]); diff != "" {
						t.Errorf("npm preset not expanded from origin/main's .npmrc (-want +got):\n%s", diff)
					}
				} else if spec.File != filepath.Join(dir, "buildwall.yml") {
					t.Errorf("applied policy from %q, want the branch's", spec.File)
				}
			})
		}
	}
}

// TestRunPolicyTrustSubdirectory: a build in a subdirectory is compared
// with the base's buildwall.yml found upwards, as in the tree, and the npm
// preset reads the base's .npmrc of the project the build runs in.
func TestRunPolicyTrustSubdirectory(t *testing.T) {
	hermeticNPM(t)
	base := map[string]string{
		"buildwall.yml":        runBaseYML,
		"web/package.json":     "{}\n",
		"web/.npmrc":           "registry=https://npm.corp.example/\n",
		"web/src/placeholder":  "x\n",
		"other/.npmrc":         "registry=https://npm.other.example/\n",
		"other/package.json":   "{}\n",
		"web/src/package.json": "",
	}
	delete(base, "web/src/package.json")
	dir := trustRepo(t, base, map[string]string{"web/.npmrc": "registry=https://npm.attacker.example/\n"})
	got := loadRunPolicyIn(t, filepath.Join(dir, "web", "src"), map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	if diff := cmp.Diff([]string{"preset npm reaches npm.attacker.example:443"}, weakenedNotes(got.p)); diff != "" {
		t.Errorf("(-want +got):\n%s\nstderr: %s", diff, got.stderr)
	}
	if diff := cmp.Diff([]string{"npm.corp.example:443"}, got.p.Expanded()["npm"]); diff != "" {
		t.Errorf("npm preset (-want +got):\n%s", diff)
	}
}

// TestRunPolicyTrustPolicyFlag: --policy FILE is the workflow's choice and
// applies as written; only the .npmrc its presets expand from is the
// base's.
func TestRunPolicyTrustPolicyFlag(t *testing.T) {
	hermeticNPM(t)
	dir := trustRepo(t, runBase, map[string]string{".npmrc": "registry=https://npm.attacker.example/\n"})
	polFile := filepath.Join(t.TempDir(), "policy.yml")
	if err := os.WriteFile(polFile, []byte("mode: block\nallow: [npm, \"*.ci.example\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		vars map[string]string
		fl   runFlags
	}{
		{"config_from", nil, runFlags{policy: polFile, configFrom: "origin/main"}},
		{"github_base_ref", map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{policy: polFile}},
	} {
		t.Run(m.name, func(t *testing.T) {
			got := loadRunPolicyIn(t, dir, m.vars, m.fl)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if spec := got.p.Spec(); spec.File != polFile || len(spec.Allow) != 2 {
				t.Errorf("applied %+v, want the --policy file", spec)
			}
			if diff := cmp.Diff([]string{"npm.corp.example:443"}, got.p.Expanded()["npm"]); diff != "" {
				t.Errorf("npm preset (-want +got):\n%s\nstderr: %s", diff, got.stderr)
			}
			if diff := cmp.Diff([]string{"preset npm reaches npm.attacker.example:443"}, weakenedNotes(got.p)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunPolicyTrustNoBase: a base without a run policy audits
// everything; a branch that brings its first policy is compared with
// that, and an allow list it adds is recorded (the base's audit applies
// until the policy is merged).
func TestRunPolicyTrustNoBase(t *testing.T) {
	hermeticNPM(t)
	base := map[string]string{"buildwall.yml": "scan:\n  fail-on: high\n", "package.json": "{}\n"}
	t.Run("empty_block_policy", func(t *testing.T) {
		dir := trustRepo(t, base, map[string]string{"buildwall.yml": "run:\n  mode: block\n  allow: []\n"})
		got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
		if got.err != nil || got.p.Mode() != policy.ModeBlock || len(weakenedNotes(got.p)) != 0 {
			t.Errorf("err %v, mode %s, notes %q; want the branch's block policy", got.err, got.p.Mode(), weakenedNotes(got.p))
		}
	})
	t.Run("allow_list", func(t *testing.T) {
		dir := trustRepo(t, base, map[string]string{"buildwall.yml": "run:\n  allow: [\"*.attacker.example\"]\n"})
		got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
		if got.err != nil {
			t.Fatal(got.err)
		}
		if got.p.Mode() != policy.ModeAudit || len(got.p.Spec().Allow) != 0 || !strings.Contains(got.stderr, "no run policy") {
			t.Errorf("applied %+v; want origin/main's (none: audit everything)\nstderr: %s", got.p.Spec(), got.stderr)
		}
		if diff := cmp.Diff([]string{"allow adds *.attacker.example"}, weakenedNotes(got.p)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// TestRunPolicyTrustUnavailable: a base named by the CI that is not in
// the clone, or not a commit, is a warning and the tree's policy applies;
// the same given with --config-from is exit 2.
func TestRunPolicyTrustUnavailable(t *testing.T) {
	hermeticNPM(t)
	dir := trustRepo(t, runBase, map[string]string{"buildwall.yml": strings.Replace(runBaseYML, "mode: block", "mode: audit", 1)})
	got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "not-fetched"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	if !strings.Contains(got.stderr, "buildwall: warning: run policy not compared with origin/not-fetched (the trusted base, from $GITHUB_BASE_REF)") {
		t.Errorf("stderr: %s", got.stderr)
	}
	if got.p.Mode() != policy.ModeAudit {
		t.Errorf("mode %s, want the tree's audit", got.p.Mode())
	}
	// A hostile base name from the environment is refused, and printed
	// escaped.
	got = loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "x\n::error::forged\x1b[31m"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	for _, line := range strings.Split(got.stderr, "\n") {
		if strings.HasPrefix(line, "::") || strings.Contains(line, "\x1b") {
			t.Errorf("unescaped stderr line %q", line)
		}
	}
	if !strings.Contains(got.stderr, "invalid revision name") {
		t.Errorf("stderr: %s", got.stderr)
	}

	// A base whose buildwall.yml is a link is not read, and the run
	// stops: the base is there, and the branch must not choose.
	linked := trustRepo(t, map[string]string{"package.json": "{}\n"}, map[string]string{"buildwall.yml": runBaseYML})
	gitIn(t, linked, "checkout", "-q", "main")
	if err := os.Symlink("/etc/passwd", filepath.Join(linked, "buildwall.yml")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, linked, "add", "-A")
	gitIn(t, linked, "commit", "-q", "-m", "link")
	gitIn(t, linked, "update-ref", "refs/remotes/origin/main", "main")
	gitIn(t, linked, "checkout", "-q", "pr")
	got = loadRunPolicyIn(t, linked, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err == nil || codeOf(got.err) != ExitUsage || !strings.Contains(got.err.Error(), "not a regular file") {
		t.Errorf("err %v; want exit 2 naming the link", got.err)
	}

	// The build's directory is a link the branch made into .git: git
	// sees no work tree there, but the path is inside one.
	gitIn(t, dir, "checkout", "-q", "pr")
	if err := os.Symlink(".git", filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	got = loadRunPolicyIn(t, filepath.Join(dir, "web"), map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err == nil || codeOf(got.err) != ExitUsage {
		t.Errorf("err %v, stderr %s; want exit 2", got.err, got.stderr)
	}

	// Outside any checkout there is nothing to compare: a warning.
	got = loadRunPolicyIn(t, t.TempDir(), map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err != nil || !strings.Contains(got.stderr, "not a git repository") {
		t.Errorf("err %v, stderr %s; want a warning", got.err, got.stderr)
	}

	// A --policy file that does not parse is the workflow's error: exit 2
	// naming it, whatever the revision.
	bad := filepath.Join(t.TempDir(), "policy.yml")
	if err := os.WriteFile(bad, []byte("mode: block\nalow: [x]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = loadRunPolicyIn(t, dir, nil, runFlags{policy: bad, configFrom: "origin/main"})
	if got.err == nil || !strings.Contains(got.err.Error(), bad+":2:") || strings.Contains(got.err.Error(), "--config-from") {
		t.Errorf("err %v, want the policy file's position", got.err)
	}
}

// TestRunConfigFromRefused: through the command line, a refused or
// unknown --config-from revision, a directory outside any repository and
// a base buildwall.yml that is a symbolic link are exit 2, before
// anything runs.
func TestRunConfigFromRefused(t *testing.T) {
	hermeticNPM(t)
	dir := trustRepo(t, runBase, nil)
	linked := trustRepo(t, map[string]string{"real.yml": runBaseYML, "package.json": "{}\n"}, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(linked, "buildwall.yml")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, linked, "add", "-A")
	gitIn(t, linked, "commit", "-q", "-m", "link")
	gitIn(t, linked, "update-ref", "refs/remotes/origin/main", "HEAD")
	tests := []struct {
		name, dir, ref, want string
	}{
		{"option", dir, "--upload-pack=touch /tmp/pwned", "must not start with '-'"},
		{"dash", dir, "-x", "must not start with '-'"},
		{"space", dir, "main --all", "not allowed"},
		{"colon_path", dir, "main:buildwall.yml", "not allowed"},
		{"control", dir, "main\x1b[2J", "not allowed"},
		{"unknown", dir, "origin/nope", "unknown revision"},
		{"not_a_repository", t.TempDir(), "origin/main", "not a git repository"},
		{"symlinked_config", linked, "origin/main", "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"run", "--config-from", tt.ref, "--", "sh", "-c", "touch ran"}, Env{
				Stdout: &stdout, Stderr: &stderr, Dir: tt.dir, Getenv: func(string) string { return "" },
			})
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q: %s", tt.want, stderr.String())
			}
			if strings.Contains(stderr.String(), "\x1b") {
				t.Errorf("unescaped stderr: %q", stderr.String())
			}
			if _, err := os.Stat(filepath.Join(tt.dir, "ran")); err == nil {
				t.Error("the command ran")
			}
		})
	}
}

// TestRunPolicyTrustLinkedDirectory: a branch that turns the build's
// directory into a link to another project of the repository does not
// get that project's trusted policy or .npmrc.
func TestRunPolicyTrustLinkedDirectory(t *testing.T) {
	hermeticNPM(t)
	base := map[string]string{
		"web/buildwall.yml":   runBaseYML,
		"web/package.json":    "{}\n",
		"web/.npmrc":          "registry=https://npm.corp.example/\n",
		"tools/buildwall.yml": "run:\n  mode: audit\n  allow: [npm, \"*.tools.example\"]\n",
		"tools/package.json":  "{}\n",
		"tools/.npmrc":        "registry=https://npm.tools.example/\n",
	}
	dir := trustRepo(t, base, nil)
	gitIn(t, dir, "rm", "-q", "-r", "web")
	if err := os.Symlink("tools", filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "link")
	for _, fl := range []runFlags{{configFrom: "origin/main"}, {}} {
		got := loadRunPolicyIn(t, filepath.Join(dir, "web"), map[string]string{"GITHUB_BASE_REF": "main"}, fl)
		if got.err != nil {
			t.Fatal(got.err)
		}
		spec := got.p.Spec()
		if spec.File != "origin/main:web/buildwall.yml" || spec.Mode != "block" {
			t.Errorf("%+v: applied %s (mode %s), want origin/main:web/buildwall.yml\nstderr: %s", fl, spec.File, spec.Mode, got.stderr)
		}
		if diff := cmp.Diff([]string{"npm.corp.example:443"}, got.p.Expanded()["npm"]); diff != "" {
			t.Errorf("npm preset (-want +got):\n%s", diff)
		}
	}
}

// TestRunPolicyTrustEscapes: what the branch wrote reaches stderr escaped.
func TestRunPolicyTrustEscapes(t *testing.T) {
	hermeticNPM(t)
	dir := trustRepo(t, runBase, map[string]string{"buildwall.yml": strings.Replace(runBaseYML, "  dns:\n",
		"  unix-sockets: [\"/run/x\\e[2J\\n::error::forged\"]\n  dns:\n", 1)})
	got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	if len(weakenedNotes(got.p)) != 1 {
		t.Errorf("notes %q, want the unix socket", weakenedNotes(got.p))
	}
	for _, line := range strings.Split(got.stderr, "\n") {
		if strings.HasPrefix(line, "::") || strings.Contains(line, "\x1b") {
			t.Errorf("unescaped stderr line %q", line)
		}
	}
}

// TestRunPolicyTrustDetectsOnce: comparing two policies asks each
// toolchain once; only npm's project .npmrc is read for each side.
func TestRunPolicyTrustDetectsOnce(t *testing.T) {
	old := runPolicyEnv
	t.Cleanup(func() { runPolicyEnv = old })
	var calls []string
	runPolicyEnv = func(_ context.Context, presets []string, _ string, project func(string) ([]byte, error)) policy.Env {
		calls = append(calls, fmt.Sprintf("%v project=%v", presets, project != nil))
		return policy.Env{PipIndexes: []string{"https://pypi.corp.example/simple"}, GoProxies: []string{"https://goproxy.corp.example"}}
	}
	dir := trustRepo(t, map[string]string{"buildwall.yml": "run:\n  allow: [npm, pypi]\n"}, map[string]string{"buildwall.yml": "run:\n  allow: [pypi, go]\n"})
	got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	if diff := cmp.Diff([]string{"[go npm pypi] project=false", "[npm] project=true"}, calls); diff != "" {
		t.Errorf("detections (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"preset go reaches goproxy.corp.example:443"}, weakenedNotes(got.p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRunPolicyTrustManyWeakenings: a branch policy with thousands of new
// entries is one bounded list of warnings.
func TestRunPolicyTrustManyWeakenings(t *testing.T) {
	hermeticNPM(t)
	var b strings.Builder
	b.WriteString("run:\n  allow:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "    - h%d.attacker.example:443\n", i)
	}
	dir := trustRepo(t, runBase, map[string]string{"buildwall.yml": b.String()})
	got := loadRunPolicyIn(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, runFlags{})
	if got.err != nil {
		t.Fatal(got.err)
	}
	notes := weakenedNotes(got.p)
	if len(notes) != maxWeakenedNotes+1 || notes[maxWeakenedNotes] != fmt.Sprintf("%d more differences", 5000+1-maxWeakenedNotes) {
		t.Errorf("%d notes, last %q", len(notes), notes[len(notes)-1])
	}
	if n := strings.Count(got.stderr, "\n"); n > maxWeakenedNotes+5 {
		t.Errorf("%d stderr lines", n)
	}
}

// TestPolicyCheckConfigFrom: `policy check --config-from REF` prints the
// policy run would apply and, on stderr, how the tree's weakens it; an
// unknown REF is exit 2.
func TestPolicyCheckConfigFrom(t *testing.T) {
	hermeticNPM(t)
	dir := trustRepo(t, runBase, map[string]string{
		"buildwall.yml": strings.Replace(runBaseYML, "mode: block", "mode: audit", 1),
		".npmrc":        "registry=https://npm.attacker.example/\n",
	})
	code, stdout, stderr := runPolicyCLI(t, dir, "policy", "check", "--config-from", "origin/main")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	want := "origin/main:buildwall.yml: valid run policy, block mode, 2 allow entries\n  preset npm: npm.corp.example:443\n  dns tunnel-limit: 2048 bytes of unique query names per domain per minute\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	for _, w := range []string{"mode: audit replaces block", "preset npm reaches npm.attacker.example:443"} {
		if !strings.Contains(stderr, weakenedPrefix+w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if code, _, stderr := runPolicyCLI(t, dir, "policy", "check", "--config-from", "origin/nope"); code != ExitUsage || !strings.Contains(stderr, "unknown revision") {
		t.Errorf("unknown ref: exit %d, stderr %s", code, stderr)
	}
}
