package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/trust"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lock is a one-package npm lockfile whose package has no integrity hash,
// so every scanned copy yields exactly one missing-integrity finding.
const lock = `{"lockfileVersion": 3, "packages": {
  "": {"name": "app", "dependencies": {"left-pad": "^1.3.0"}},
  "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.example/left-pad/-/left-pad-1.3.0.tgz"}
}}
`

const testManifest = `{"name": "app", "dependencies": {"left-pad": "^1.3.0"}}
`

func run(t *testing.T, opts Options) *Result {
	t.Helper()
	if opts.Defaults == nil {
		opts.Defaults = lockcheck.StaticDefaults("https://registry.example/")
	}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// summary renders findings as "path:line rule" lines.
// summary lists the findings in force (not suppressed) as path:line rule.
func summary(fs []finding.Finding) []string {
	var out []string
	for _, f := range finding.Active(fs) {
		out = append(out, f.Path+":"+itoa(f.Line)+" "+f.Rule)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestWalkSkipsAndFinds(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"package.json":                         testManifest,
		"package-lock.json":                    lock,
		"node_modules/x/package-lock.json":     lock,
		"vendor/y/package-lock.json":           lock,
		".git/z/package-lock.json":             lock,
		"apps/web/package.json":                testManifest,
		"apps/web/package-lock.json":           lock,
		"apps/web/node_modules/q/package.json": testManifest,
	})
	outside := writeTree(t, map[string]string{"package-lock.json": lock, "package.json": testManifest})
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "package-lock.json"), filepath.Join(dir, "apps", "package-lock.json")); err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Paths: []string{dir}})
	wantFiles := []string{"apps/web/package-lock.json", "apps/web/package.json", "package-lock.json", "package.json"}
	if diff := cmp.Diff(wantFiles, res.Files); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
	// Links leaving the tree are reported, never read.
	want := []string{
		"apps/package-lock.json:0 unscanned-path",
		"apps/web/package-lock.json:3 missing-integrity",
		"linked:0 unscanned-path",
		"package-lock.json:3 missing-integrity",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if want := len(lockcheck.Rules()) + len(cicheck.Rules()) + len(trust.Metadata()) + len(Rules()); len(res.Rules) != want {
		t.Errorf("Rules has %d entries, want %d", len(res.Rules), want)
	}
}

func TestTooLargeAndUnreadable(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"package.json":            testManifest,
		"package-lock.json":       lock,
		"small/package-lock.json": `{"packages": `,
		"small/package.json":      testManifest,
	})
	res := run(t, Options{Paths: []string{dir}, MaxFileSize: 64})
	var got []string
	for _, f := range res.Findings {
		// The parser's own wording after the position is not this test's business.
		msg, _, _ := strings.Cut(f.Message, ": unexpected end of input")
		got = append(got, f.Path+":"+itoa(f.Line)+" "+f.Rule+" "+msg)
	}
	want := []string{
		"package-lock.json:0 unscanned-path package-lock.json was not scanned: it is " + itoa(len(lock)) + " bytes, over the 64-byte limit, and was not read (a lockfile or CI file that large is generated or tampered with)",
		"small/package-lock.json:1 unparseable-lockfile cannot parse small/package-lock.json at line 1, column 14",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: unreadable-file case skipped (root reads everything)")
		return
	}
	if err := os.Chmod(filepath.Join(dir, "package-lock.json"), 0); err != nil {
		t.Fatal(err)
	}
	res = run(t, Options{Paths: []string{dir}})
	// Unreadable is not a syntax error (issue 10): it was not scanned.
	if len(res.Findings) == 0 || res.Findings[0].Rule != "unscanned-path" || !strings.Contains(res.Findings[0].Message, "permission denied") {
		t.Errorf("unreadable file: findings = %v, want unscanned-path (permission denied)", summary(res.Findings))
	}
}

func TestDeterministicAcrossRuns(t *testing.T) {
	files := map[string]string{}
	for _, d := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		files[d+"/package.json"] = testManifest
		files[d+"/package-lock.json"] = lock
		files[d+"/orphan/package.json"] = testManifest
	}
	dir := writeTree(t, files)
	first := summary(run(t, Options{Paths: []string{dir}}).Findings)
	if len(first) != 8 {
		t.Fatalf("got %d findings, want 8: %v", len(first), first)
	}
	for range 5 {
		if diff := cmp.Diff(first, summary(run(t, Options{Paths: []string{dir}}).Findings)); diff != "" {
			t.Fatalf("scan is not deterministic (-first +again):\n%s", diff)
		}
	}
}

func TestSingleFileAndMissingPath(t *testing.T) {
	dir := writeTree(t, map[string]string{"package.json": `{"dependencies": {"left-pad": "^1.3.0", "axios": "^1.0.0"}}`, "package-lock.json": lock})
	res := run(t, Options{Paths: []string{filepath.Join(dir, "package-lock.json")}})
	want := []string{"package-lock.json:3 missing-integrity", "package.json:1 lockfile-drift"}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	_, err := Run(context.Background(), Options{Paths: []string{filepath.Join(dir, "nope")}})
	if !errors.Is(err, ErrNoSuchPath) {
		t.Errorf("Run on a missing path: err = %v, want ErrNoSuchPath", err)
	}
}

func TestConfigIgnoresAndRegistries(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"package.json":             testManifest,
		"package-lock.json":        strings.ReplaceAll(lock, "registry.example", "mirror.example"),
		"legacy/package.json":      testManifest,
		"legacy/package-lock.json": lock,
	})
	cfg, err := config.Parse("buildwall.yml", []byte(`scan:
  registries: [https://mirror.example/]
  ignore:
    - path: "legacy/**"
      reason: frozen until the rewrite
`))
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Paths: []string{dir}, Config: cfg})
	want := []string{"package-lock.json:3 missing-integrity"}
	if diff := cmp.Diff(want, summary(finding.Active(res.Findings))); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if res.Suppressed != 1 {
		t.Errorf("Suppressed = %d, want 1", res.Suppressed)
	}
	// Without the configured registry the mirror is untrusted.
	res = run(t, Options{Paths: []string{dir}})
	if !strings.Contains(strings.Join(summary(res.Findings), "\n"), "package-lock.json:3 untrusted-registry") {
		t.Errorf("findings = %v, want untrusted-registry without scan.registries", summary(res.Findings))
	}
}

func TestContextCancelled(t *testing.T) {
	dir := writeTree(t, map[string]string{"package.json": testManifest, "package-lock.json": lock})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Paths: []string{dir}}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestProjectRegistryFiles(t *testing.T) {
	type reg = lockcheck.Registry
	tests := []struct {
		name  string
		parse func([]byte) []lockcheck.Registry
		in    string
		want  []lockcheck.Registry
	}{
		{"npmrc", npmrcRegistries, "; comment\n# comment\nregistry = \"https://a.example/\"\n@s:registry=https://b.example/npm/\n//a.example/:_authToken=${TOKEN}\nalways-auth=true\n@t:registry=${URL}\n",
			[]reg{{URL: "https://a.example/"}, {URL: "https://b.example/npm/", Scope: "@s"}}},
		{"npmrc_scoped_only", npmrcRegistries, "@s:registry=https://b.example/\n", []reg{{URL: "https://b.example/", Scope: "@s"}}},
		{"yarnrc", yarnrcRegistries, "# yarn lockfile v1\nregistry \"https://a.example/\"\n\"@s:registry\" \"https://b.example/\"\nlastUpdateCheck 1\n",
			[]reg{{URL: "https://a.example/"}, {URL: "https://b.example/", Scope: "@s"}}},
		// npmRegistries only holds auth settings: it allows nothing.
		{"yarnrc_yml", yarnrcYMLRegistries, "npmRegistryServer: \"https://a.example\"\nnpmScopes:\n  s:\n    npmRegistryServer: https://b.example\nnpmRegistries:\n  //c.example/npm:\n    npmAuthToken: x\n",
			[]reg{{URL: "https://a.example"}, {URL: "https://b.example", Scope: "@s"}}},
		{"pnpm_workspace", pnpmWorkspaceRegistries, "packages: [a]\nregistry: https://a.example/\nregistries:\n  '@s': https://b.example/\n  default: https://d.example/\n",
			[]reg{{URL: "https://a.example/"}, {URL: "https://b.example/", Scope: "@s"}, {URL: "https://d.example/"}}},
		{"garbage_yaml", yarnrcYMLRegistries, ":\n  - [", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.parse([]byte(tt.in))); diff != "" {
				t.Errorf("registries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScopedRegistryAllowsOnlyItsScope: a project's `@acme:registry=` lets
// @acme packages come from that host, never unscoped ones.
func TestScopedRegistryAllowsOnlyItsScope(t *testing.T) {
	lockFor := func(name, host string) string {
		return `{"name":"app","lockfileVersion":3,"requires":true,"packages":{
"":{"name":"app","dependencies":{"` + name + `":"1.0.0"}},
"node_modules/` + name + `":{"version":"1.0.0","resolved":"https://` + host + `/` + name + `/-/x-1.0.0.tgz","integrity":"sha512-AAAA"}}}`
	}
	manifest := func(name string) string { return `{"name":"app","dependencies":{"` + name + `":"1.0.0"}}` }
	for _, tt := range []struct {
		name, pkg, npmrc string
		want             bool // untrusted-registry expected
	}{
		{"scoped_package", "@acme/widget", "@acme:registry=https://npm.acme.example/\n", false},
		{"unscoped_package", "lodash", "@acme:registry=https://npm.acme.example/\n", true},
		{"other_scope", "@evil/x", "@acme:registry=https://npm.acme.example/\n", true},
		{"unscoped_registry", "lodash", "registry=https://npm.acme.example/\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{
				".npmrc":            tt.npmrc,
				"package.json":      manifest(tt.pkg),
				"package-lock.json": lockFor(tt.pkg, "npm.acme.example"),
			})
			res := run(t, Options{Paths: []string{dir}})
			got := false
			for _, f := range res.Findings {
				got = got || f.Rule == "untrusted-registry"
			}
			if got != tt.want {
				t.Errorf("untrusted-registry reported = %v, want %v; findings: %v", got, tt.want, summary(res.Findings))
			}
		})
	}
}

// TestDefaultsResolvedOnlyWhenNeeded checks the laziness contract: with a
// project registry that covers every package, the package managers'
// defaults are never resolved; without one they are, once.
func TestDefaultsResolvedOnlyWhenNeeded(t *testing.T) {
	for _, tt := range []struct {
		name  string
		npmrc string
		want  int
	}{
		{"project_registry", "registry=https://registry.example/\n", 0},
		{"scoped_only", "@s:registry=https://s.example/\n", 1},
		{"none", "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"package.json": testManifest, "package-lock.json": lock}
			if tt.npmrc != "" {
				files[".npmrc"] = tt.npmrc
			}
			dir := writeTree(t, files)
			calls := 0
			d := lockcheck.NewDefaults(func() ([]string, string) {
				calls++
				return []string{"https://registry.example/"}, ""
			})
			res := run(t, Options{Paths: []string{dir}, Defaults: d})
			if diff := cmp.Diff([]string{"package-lock.json:3 missing-integrity"}, summary(res.Findings)); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
			if tt.want > 0 {
				lockcheck.NewRegistries(d).Allowed("https://x.example/") // wait for a prefetch
			}
			if calls != tt.want {
				t.Errorf("defaults resolved %d times, want %d", calls, tt.want)
			}
		})
	}
}

func TestClientDefaultsFromEnv(t *testing.T) {
	isolateClientConfig(t)
	t.Setenv("PATH", t.TempDir()) // no npm, no yarn
	env := map[string]string{"npm_config_registry": "https://env-registry.example/"}
	d := clientDefaults(context.Background(), func(k string) string { return env[k] }, clientBuiltins{})
	r := lockcheck.NewRegistries(d)
	if !r.Allowed("https://env-registry.example/a/-/a-1.0.0.tgz") {
		t.Error("registry from npm_config_registry not allowed")
	}
	none := lockcheck.NewRegistries(clientDefaults(context.Background(), func(string) string { return "" }, clientBuiltins{}))
	if got := none.Describe(); !strings.Contains(got, "npm's default registry is unknown") {
		t.Errorf("Describe = %q, want the unknown-default note", got)
	}
}

func TestLockfileAboveRootInRepo(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".git/HEAD":               "ref: refs/heads/main\n",
		"package.json":            `{"name": "mono", "workspaces": ["packages/*"]}`,
		"yarn.lock":               "# yarn lockfile v1\n",
		"packages/a/package.json": testManifest,
	})
	res := run(t, Options{Paths: []string{filepath.Join(dir, "packages", "a")}})
	if len(res.Findings) != 0 {
		t.Errorf("scanning a workspace package of a repo with a root lockfile: findings = %v, want none", summary(res.Findings))
	}
	// Without the repository marker the scan root is the limit.
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		t.Fatal(err)
	}
	res = run(t, Options{Paths: []string{filepath.Join(dir, "packages", "a")}})
	if diff := cmp.Diff([]string{"package.json:1 lockfile-missing"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

func TestSymlinkedRoot(t *testing.T) {
	dir := writeTree(t, map[string]string{"package.json": testManifest, "package-lock.json": lock})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Paths: []string{link}})
	if diff := cmp.Diff([]string{"package-lock.json:3 missing-integrity"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// panicParser is a lockfile parser with a bug.
type panicParser struct{}

func (panicParser) Format() string         { return "panic" }
func (panicParser) Match(base string) bool { return base == "boom.lock" }
func (panicParser) Parse(string, []byte) (*lockfile.Lockfile, error) {
	var m map[string]int
	m["x"]++ // nil map write: a runtime panic
	return nil, nil
}

func TestParserPanicBecomesFinding(t *testing.T) {
	dir := writeTree(t, map[string]string{"boom.lock": "x", "package.json": testManifest, "package-lock.json": lock})
	res := run(t, Options{Paths: []string{dir}, Parsers: append(LockfileParsers(), panicParser{})})
	want := []string{"boom.lock:0 unparseable-lockfile", "package-lock.json:3 missing-integrity"}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Findings[0].Message, "parser crashed") {
		t.Errorf("message = %q", res.Findings[0].Message)
	}
}

func TestSeveralRoots(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a/package.json": testManifest, "a/package-lock.json": lock,
		"b/package.json": testManifest, "b/package-lock.json": lock,
	})
	t.Chdir(dir)
	res := run(t, Options{Paths: []string{"a", "./b/"}})
	if diff := cmp.Diff([]string{"a/package-lock.json:3 missing-integrity", "b/package-lock.json:3 missing-integrity"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	want := []string{"a/package-lock.json", "a/package.json", "b/package-lock.json", "b/package.json"}
	if diff := cmp.Diff(want, res.Files); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
}

// TestClientDefaultsRunsNPM puts fake npm and yarn executables on PATH:
// each prints a registry only when called as `<tool> config get registry`
// with network features disabled.
func TestClientDefaultsRunsNPM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake npm is a shell script")
	}
	bin := t.TempDir()
	script := func(url string) string {
		return "#!/bin/sh\n" +
			`[ "$1 $2 $3" = "config get registry" ] || exit 1` + "\n" +
			`[ "$npm_config_update_notifier" = false ] && [ "$COREPACK_ENABLE_NETWORK" = 0 ] || exit 1` + "\n" +
			"echo " + url + "\n"
	}
	for tool, url := range map[string]string{"npm": "https://npm-default.example/", "yarn": "https://yarn-default.example/"} {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script(url)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	isolateClientConfig(t)
	t.Setenv("PATH", bin)
	r := lockcheck.NewRegistries(clientDefaults(context.Background(), func(string) string { return "" }, clientBuiltins{}))
	for _, u := range []string{"https://npm-default.example/a/-/a-1.0.0.tgz", "https://yarn-default.example/a/-/a-1.0.0.tgz"} {
		if !r.Allowed(u) {
			t.Errorf("Allowed(%q) = false, want true (describe: %s)", u, r.Describe())
		}
	}
	if r.Allowed("https://other.example/a/-/a-1.0.0.tgz") {
		t.Error("an unrelated host is allowed")
	}
}

// TestPathsRelativeToRepository: scanning a/b, a/b's lockfile or the whole
// repository names the lockfile the same way, from the repository's top;
// without a repository paths are relative to the scan root.
func TestPathsRelativeToRepository(t *testing.T) {
	dir := writeTree(t, map[string]string{"a/b/package.json": testManifest, "a/b/package-lock.json": lock})
	res := run(t, Options{Paths: []string{filepath.Join(dir, "a", "b")}})
	if diff := cmp.Diff([]string{"package-lock.json:3 missing-integrity"}, summary(res.Findings)); diff != "" {
		t.Errorf("no repository (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: /elsewhere\n"), 0o644); err != nil {
		t.Fatal(err) // a worktree's .git is a file
	}
	want := []string{"a/b/package-lock.json:3 missing-integrity"}
	for _, p := range []string{dir, filepath.Join(dir, "a"), filepath.Join(dir, "a", "b"), filepath.Join(dir, "a", "b", "package-lock.json")} {
		res := run(t, Options{Paths: []string{p}})
		if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
			t.Errorf("scan %s (-want +got):\n%s", p, diff)
		}
		if real, _ := filepath.EvalSymlinks(dir); res.Base != real {
			t.Errorf("scan %s: Base = %q, want %q", p, res.Base, real)
		}
	}
	// Two roots in one repository: both from its top, no extra prefix.
	other := filepath.Join(dir, "c")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "package.json"), []byte(testManifest), 0o644)
	os.WriteFile(filepath.Join(other, "package-lock.json"), []byte(lock), 0o644)
	res = run(t, Options{Paths: []string{filepath.Join(dir, "a"), other}})
	if diff := cmp.Diff(append(want, "c/package-lock.json:3 missing-integrity"), summary(res.Findings)); diff != "" {
		t.Errorf("two roots (-want +got):\n%s", diff)
	}
}
