package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The base branch of the trust tests: a clean project whose @acme packages
// come from a scoped registry.
var trustBase = map[string]string{
	"buildwall.yml": "scan:\n  fail-on: high\n",
	".npmrc":        "@acme:registry=https://npm.acme.example/\n",
	"package.json":  `{"name":"app","version":"1.0.0","dependencies":{"left-pad":"1.3.0","@acme/widget":"1.0.0"}}` + "\n",
	"package-lock.json": trustLock(
		lockEntry("left-pad", "https://registry.example/left-pad/-/left-pad-1.3.0.tgz", "1.3.0"),
		lockEntry("@acme/widget", "https://npm.acme.example/@acme/widget/-/widget-1.0.0.tgz", "1.0.0"),
	),
}

// evilLock adds a package resolved from a host no trusted file allows.
var evilLock = trustLock(
	lockEntry("left-pad", "https://registry.example/left-pad/-/left-pad-1.3.0.tgz", "1.3.0"),
	lockEntry("@acme/widget", "https://npm.acme.example/@acme/widget/-/widget-1.0.0.tgz", "1.0.0"),
	lockEntry("is-odd", "https://evil.example/is-odd/-/is-odd-3.0.1.tgz", "3.0.1"),
)

const evilManifest = `{"name":"app","version":"1.0.0","dependencies":{"left-pad":"1.3.0","@acme/widget":"1.0.0","is-odd":"3.0.1"}}` + "\n"

func lockEntry(name, resolved, version string) string {
	return `"node_modules/` + name + `": {"version": "` + version + `", "resolved": "` + resolved + `", "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="}`
}

func trustLock(entries ...string) string {
	deps := []string{}
	for _, e := range entries {
		name := strings.TrimPrefix(e[:strings.Index(e, `": {`)], `"node_modules/`)
		version := e[strings.Index(e, `"version": "`)+len(`"version": "`):]
		version = version[:strings.IndexByte(version, '"')]
		deps = append(deps, `"`+name+`": "`+version+`"`)
	}
	return `{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "packages": {
"": {"name": "app", "version": "1.0.0", "dependencies": {` + strings.Join(deps, ", ") + `}},
` + strings.Join(entries, ",\n") + "}}\n"
}

// trustRepo makes a git repository whose main branch (also
// refs/remotes/origin/main) holds base, then checks out branch "pr" with
// change applied and committed ("" deletes a file). It returns the work
// tree.
func trustRepo(t *testing.T, base, change map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	write := func(files map[string]string) {
		for name, content := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if content == "" {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitIn(t, dir, "add", "-A")
		gitIn(t, dir, "commit", "-q", "--allow-empty", "-m", "change")
	}
	write(base)
	gitIn(t, dir, "update-ref", "refs/remotes/origin/main", "main")
	gitIn(t, dir, "checkout", "-q", "-b", "pr")
	write(change)
	return dir
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// runScanEnv runs scan in dir with the environment vars (and NO_COLOR).
func runScanEnv(t *testing.T, dir string, vars map[string]string, args ...string) scanRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"scan", "--db", t.TempDir()}, args...), Env{
		Stdout: &stdout, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return vars[k]
		},
	})
	return scanRun{code, stdout.String(), stderr.String()}
}

// findingLines returns "path:line rule" of every finding of a JSON report.
func findingLines(t *testing.T, got scanRun) []string {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s\nstderr: %s", err, got.stdout, got.stderr)
	}
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Path+":"+itoa(f.Line)+" "+f.Rule)
	}
	slices.Sort(out)
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestGateWeakened: a branch that lowers fail-on, adds an ignore, adds a
// registry (in .npmrc, in buildwall.yml, or by widening a scoped one) —
// each alone and all together — gets a gate-weakened finding per change,
// fails the gate, and cannot hide the package it brings in, both with
// --config-from and with the base taken from $GITHUB_BASE_REF.
func TestGateWeakened(t *testing.T) {
	useTestRegistry(t)
	lowerFailOn := "scan:\n  fail-on: none\n"
	ignoreAll := "scan:\n  fail-on: high\n  ignore:\n    - path: \"**\"\n      reason: trust me\n"
	cfgRegistry := "scan:\n  fail-on: high\n  registries: [https://evil.example/]\n"
	tests := []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{"clean_branch", map[string]string{"README.md": "docs\n"}, nil},
		{"stricter_branch", map[string]string{"buildwall.yml": "scan:\n  fail-on: low\n"}, nil},
		{"config_deleted_same_defaults", map[string]string{"buildwall.yml": ""}, nil},
		{"lower_fail_on", map[string]string{"buildwall.yml": lowerFailOn, "package.json": evilManifest, "package-lock.json": evilLock},
			[]string{"buildwall.yml:2 gate-weakened", "package-lock.json:5 untrusted-registry"}},
		{"ignore_everything", map[string]string{"buildwall.yml": ignoreAll, "package.json": evilManifest, "package-lock.json": evilLock},
			[]string{"buildwall.yml:4 gate-weakened", "package-lock.json:5 untrusted-registry"}},
		{"npmrc_registry", map[string]string{".npmrc": "@acme:registry=https://npm.acme.example/\nregistry=https://evil.example/\n", "package.json": evilManifest, "package-lock.json": evilLock},
			[]string{".npmrc:2 gate-weakened", "package-lock.json:5 untrusted-registry"}},
		{"config_registry", map[string]string{"buildwall.yml": cfgRegistry, "package.json": evilManifest, "package-lock.json": evilLock},
			[]string{"buildwall.yml:3 gate-weakened", "package-lock.json:5 untrusted-registry"}},
		{"scope_widened", map[string]string{".npmrc": "registry=https://npm.acme.example/\n"},
			[]string{".npmrc:1 gate-weakened"}},
		{"yarnrc_added", map[string]string{".yarnrc.yml": "npmRegistryServer: https://evil.example/\n"},
			[]string{".yarnrc.yml:1 gate-weakened"}},
		{"together", map[string]string{
			"buildwall.yml":     "scan:\n  fail-on: none\n  registries: [https://evil.example/]\n  ignore:\n    - path: \"**\"\n      reason: trust me\n",
			".npmrc":            "registry=https://evil.example/\n",
			"package.json":      evilManifest,
			"package-lock.json": evilLock,
		}, []string{
			".npmrc:1 gate-weakened",
			"buildwall.yml:2 gate-weakened", "buildwall.yml:3 gate-weakened", "buildwall.yml:5 gate-weakened",
			"package-lock.json:5 untrusted-registry",
		}},
	}
	modes := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"config_from", nil, []string{"--config-from", "origin/main"}},
		{"github_base_ref", map[string]string{"GITHUB_BASE_REF": "main"}, nil},
	}
	for _, tt := range tests {
		for _, m := range modes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				dir := trustRepo(t, trustBase, tt.change)
				got := runScanEnv(t, dir, m.vars, append([]string{"--format", "json"}, m.args...)...)
				lines := findingLines(t, got)
				if diff := cmp.Diff(tt.want, lines); diff != "" {
					t.Errorf("findings mismatch (-want +got):\n%s\nstderr: %s", diff, got.stderr)
				}
				wantCode := ExitOK
				if len(tt.want) > 0 {
					wantCode = ExitFindings
				}
				if got.code != wantCode {
					t.Errorf("exit code = %d, want %d; stderr: %s", got.code, wantCode, got.stderr)
				}
			})
		}
	}
}

// TestGateWeakenedWithoutBase: with no trusted revision nothing is
// compared, and the branch's configuration applies as written.
func TestGateWeakenedWithoutBase(t *testing.T) {
	useTestRegistry(t)
	dir := trustRepo(t, trustBase, map[string]string{"buildwall.yml": "scan:\n  fail-on: none\n", "package.json": evilManifest, "package-lock.json": evilLock})
	got := runScanEnv(t, dir, nil, "--format", "json")
	if got.code != ExitOK || slices.Contains(findingLines(t, got), "buildwall.yml:2 gate-weakened") {
		t.Errorf("exit code = %d, findings %v; want 0 and no comparison", got.code, findingLines(t, got))
	}
	// A base named by the environment that was not fetched is a warning.
	got = runScanEnv(t, dir, map[string]string{"GITHUB_BASE_REF": "release"}, "--format", "json")
	if got.code != ExitOK || !strings.Contains(got.stderr, "configuration not compared with origin/release") {
		t.Errorf("exit code = %d, stderr %q; want 0 and a warning", got.code, got.stderr)
	}
}

// TestConfigDeleted: deleting a strict buildwall.yml falls back to the
// default fail-on (high), which is more lenient than the base's.
func TestConfigDeleted(t *testing.T) {
	useTestRegistry(t)
	base := map[string]string{}
	for k, v := range trustBase {
		base[k] = v
	}
	base["buildwall.yml"] = "scan:\n  fail-on: low\n"
	dir := trustRepo(t, base, map[string]string{"buildwall.yml": ""})
	got := runScanEnv(t, dir, map[string]string{"GITHUB_BASE_REF": "main"}, "--format", "json")
	if diff := cmp.Diff([]string{"buildwall.yml:0 gate-weakened"}, findingLines(t, got)); diff != "" || got.code != ExitFindings {
		t.Errorf("exit code %d, findings mismatch (-want +got):\n%s", got.code, diff)
	}
}

// TestConfigFromAppliesBase: with --config-from the base's configuration
// applies even where the branch's is stricter (here a lenient fail-on).
func TestConfigFromAppliesBase(t *testing.T) {
	useTestRegistry(t)
	base := map[string]string{}
	for k, v := range trustBase {
		base[k] = v
	}
	base["buildwall.yml"] = "scan:\n  fail-on: critical\n"
	dir := trustRepo(t, base, map[string]string{"buildwall.yml": "scan:\n  fail-on: high\n", "package.json": evilManifest, "package-lock.json": evilLock})
	if got := runScanEnv(t, dir, nil, "--format", "json"); got.code != ExitFindings {
		t.Errorf("branch configuration: exit code = %d, want %d", got.code, ExitFindings)
	}
	got := runScanEnv(t, dir, nil, "--format", "json", "--config-from", "main")
	if got.code != ExitOK {
		t.Errorf("--config-from main: exit code = %d, want 0 (fail-on critical from main); stderr: %s", got.code, got.stderr)
	}
	if diff := cmp.Diff([]string{"package-lock.json:5 untrusted-registry"}, findingLines(t, got)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// TestConfigFromErrors: a ref that is unknown, hostile or used outside a
// repository is a usage error, and git never sees a hostile one.
func TestConfigFromErrors(t *testing.T) {
	useTestRegistry(t)
	dir := trustRepo(t, trustBase, map[string]string{"README.md": "x\n"})
	marker := filepath.Join(t.TempDir(), "pwned")
	tests := []struct {
		name, dir, ref, want string
	}{
		{"unknown_ref", dir, "origin/nope", "unknown revision"},
		{"upload_pack", dir, "--upload-pack=touch " + marker, "must not start with '-'"},
		{"dash", dir, "-x", "must not start with '-'"},
		{"space", dir, "main --output=" + marker, "not allowed"},
		{"not_a_repository", t.TempDir(), "main", "not a git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runScanEnv(t, tt.dir, nil, "--config-from="+tt.ref)
			if got.code != ExitUsage || !strings.Contains(got.stderr, tt.want) {
				t.Errorf("exit code = %d, stderr %q; want %d and %q", got.code, got.stderr, ExitUsage, tt.want)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a hostile ref made git write a file")
	}
}

// TestGateWeakenedCannotBeIgnored: an ignore naming the rule is a
// configuration error; a path-only ignore does not reach it.
func TestGateWeakenedCannotBeIgnored(t *testing.T) {
	useTestRegistry(t)
	named := "scan:\n  ignore:\n    - rule: gate-weakened\n      reason: x\n"
	dir := trustRepo(t, trustBase, map[string]string{"buildwall.yml": named})
	got := runScanEnv(t, dir, nil, "--config-from", "main")
	if got.code != ExitUsage || !strings.Contains(got.stderr, "buildwall.yml:3:7: scan.ignore cannot name gate-weakened") {
		t.Errorf("exit code = %d, stderr %q; want a configuration error at buildwall.yml:3:7", got.code, got.stderr)
	}
}

// TestConfigFromRelativePath: the binary passes scan paths as given
// (Env.Dir empty); "." inside the repository must work.
func TestConfigFromRelativePath(t *testing.T) {
	useTestRegistry(t)
	dir := trustRepo(t, trustBase, map[string]string{"buildwall.yml": "scan:\n  fail-on: none\n"})
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"scan", "--db", t.TempDir(), "--format", "json", "--config-from", "main", "."}, Env{
		Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
	})
	got := scanRun{code, stdout.String(), stderr.String()}
	if diff := cmp.Diff([]string{"buildwall.yml:2 gate-weakened"}, findingLines(t, got)); diff != "" || code != ExitFindings {
		t.Errorf("exit code %d, findings mismatch (-want +got):\n%s\nstderr: %s", code, diff, got.stderr)
	}
}

// TestConfigFromLinkedDirectory: the branch replaces web/ with a link to
// tools/, whose trusted configuration is laxer; scanning web must still
// apply the base's web/buildwall.yml, not tools/buildwall.yml.
func TestConfigFromLinkedDirectory(t *testing.T) {
	useTestRegistry(t)
	base := map[string]string{}
	for k, v := range trustBase {
		base["web/"+k] = v
		base["tools/"+k] = v
	}
	base["tools/buildwall.yml"] = "scan:\n  fail-on: critical\n"
	dir := trustRepo(t, base, map[string]string{"tools/package.json": evilManifest, "tools/package-lock.json": evilLock})
	gitIn(t, dir, "rm", "-q", "-r", "web")
	if err := os.Symlink("tools", filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "link")
	got := runScanEnv(t, filepath.Join(dir, "web"), nil, "--format", "json", "--config-from", "main")
	if got.code != ExitFindings {
		t.Errorf("--config-from main in a linked directory: exit code = %d, want %d (fail-on high from main:web/buildwall.yml); stderr: %s", got.code, ExitFindings, got.stderr)
	}
}
