package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockcheck"
)

// useTestRegistry makes https://registry.example/ the package managers'
// default registry for the test, so no test depends on the machine's npm.
func useTestRegistry(t *testing.T) {
	t.Helper()
	old := scanDefaults
	scanDefaults = func(context.Context, func(string) string) *lockcheck.Defaults {
		return lockcheck.StaticDefaults("https://registry.example/")
	}
	t.Cleanup(func() { scanDefaults = old })
}

// writeTree creates files (slash paths -> content) under a new temp dir.
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

const cleanManifest = `{"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}}
`

const cleanLock = `{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
    "node_modules/left-pad": {
      "version": "1.3.0",
      "resolved": "https://registry.example/left-pad/-/left-pad-1.3.0.tgz",
      "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="
    }
  }
}
`

// highLock has one high finding (no integrity) and one medium (install script).
const highLock = `{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
    "node_modules/left-pad": {
      "version": "1.3.0",
      "resolved": "https://registry.example/left-pad/-/left-pad-1.3.0.tgz",
      "hasInstallScript": true
    }
  }
}
`

type scanRun struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, dir string, args ...string) scanRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr, Dir: dir,
		Getenv: func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		},
	})
	return scanRun{code, stdout.String(), stderr.String()}
}

func TestScanExitCodes(t *testing.T) {
	useTestRegistry(t)
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "vulnerable-app"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		files      map[string]string
		args       []string // "DIR" is replaced by the tree's directory
		want       int
		wantStderr string // substring
	}{
		{name: "clean_repo", files: map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock},
			args: []string{"scan", "DIR"}, want: ExitOK},
		{name: "high_finding_fails", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock},
			args: []string{"scan", "DIR"}, want: ExitFindings},
		{name: "fail_on_none", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock},
			args: []string{"scan", "--fail-on", "none", "DIR"}, want: ExitOK},
		{name: "fail_on_critical", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock},
			args: []string{"scan", "--fail-on=critical", "DIR"}, want: ExitOK},
		{name: "fail_on_medium", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock},
			args: []string{"scan", "--fail-on=medium", "DIR"}, want: ExitFindings},
		{name: "config_fail_on", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock,
			"buildwall.yml": "scan:\n  fail-on: critical\n"},
			args: []string{"scan", "DIR"}, want: ExitOK},
		{name: "flag_overrides_config_fail_on", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock,
			"buildwall.yml": "scan:\n  fail-on: critical\n"},
			args: []string{"scan", "--fail-on", "high", "DIR"}, want: ExitFindings},
		{name: "config_ignore_suppresses", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock,
			"buildwall.yml": "scan:\n  ignore:\n    - rule: missing-integrity\n      package: left-pad\n      reason: vendored mirror without hashes\n"},
			args: []string{"scan", "--format", "json", "DIR"}, want: ExitOK, wantStderr: "2 files scanned, 1 suppressed; passing"},
		{name: "no_ignores_shows_everything", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock,
			"buildwall.yml": "scan:\n  ignore:\n    - rule: missing-integrity\n      package: left-pad\n      reason: vendored mirror without hashes\n"},
			args: []string{"scan", "--format", "json", "--no-ignores", "DIR"}, want: ExitFindings, wantStderr: "1 high"},
		{name: "expired_ignore_fails", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock,
			"buildwall.yml": "scan:\n  ignore:\n    - rule: missing-integrity\n      reason: temporary\n      until: 2020-01-01\n"},
			args: []string{"scan", "--format", "json", "DIR"}, want: ExitFindings, wantStderr: "3 findings (1 high, 2 medium)"},
		{name: "exclude_everything_is_nothing_to_scan", files: map[string]string{"package.json": cleanManifest, "package-lock.json": highLock},
			args: []string{"scan", "--exclude", "*.json", "DIR"}, want: ExitUsage, wantStderr: "nothing to scan under"},
		{name: "bad_exclude", args: []string{"scan", "--exclude", "/abs", "DIR"}, want: ExitUsage, wantStderr: `--exclude "/abs": pattern must be a relative`},
		{name: "testdata_skipped_by_default", files: map[string]string{"testdata/package.json": cleanManifest, "testdata/package-lock.json": highLock},
			args: []string{"scan", "DIR"}, want: ExitUsage, wantStderr: "nothing to scan under"},
		{name: "include_vendored", files: map[string]string{"testdata/package.json": cleanManifest, "testdata/package-lock.json": highLock},
			args: []string{"scan", "--include-vendored", "DIR"}, want: ExitFindings},
		{name: "malicious_example", args: []string{"scan", example}, want: ExitFindings},
		{name: "bad_format", args: []string{"scan", "--format", "yaml", "DIR"}, want: ExitUsage, wantStderr: "--format"},
		{name: "bad_fail_on", args: []string{"scan", "--fail-on", "urgent", "DIR"}, want: ExitUsage, wantStderr: `unknown severity "urgent"`},
		{name: "unknown_flag", args: []string{"scan", "--nope", "DIR"}, want: ExitUsage, wantStderr: "unknown flag"},
		{name: "bad_config_key", files: map[string]string{"buildwall.yml": "scan:\n  failon: high\n"},
			args: []string{"scan", "DIR"}, want: ExitUsage, wantStderr: `buildwall.yml:2:3: unknown key "failon"`},
		{name: "ignore_without_reason", files: map[string]string{"buildwall.yml": "scan:\n  ignore:\n    - rule: install-script\n"},
			args: []string{"scan", "DIR"}, want: ExitUsage, wantStderr: "buildwall.yml:3:7: scan.ignore entry has no reason"},
		{name: "ignore_unknown_rule", files: map[string]string{"buildwall.yml": "scan:\n  ignore:\n    - rule: instal-script\n      reason: typo\n"},
			args: []string{"scan", "DIR"}, want: ExitUsage, wantStderr: `unknown rule "instal-script"`},
		{name: "missing_config_flag", args: []string{"scan", "--config", "nope.yml", "DIR"}, want: ExitUsage, wantStderr: "open config"},
		{name: "missing_path", args: []string{"scan", "DIR/does-not-exist"}, want: ExitUsage, wantStderr: "no such file or directory"},
		{name: "empty_tree_fails", args: []string{"scan", "DIR"}, want: ExitUsage, wantStderr: "nothing to scan under"},
		{name: "unwritable_output", files: map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock},
			args: []string{"scan", "--output", "DIR/no/such/dir/out.json", "DIR"}, want: ExitUsage, wantStderr: "out.json: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			// Every case names its own empty database directory, so no test
			// reads the user's cache.
			args := []string{tt.args[0], "--db", t.TempDir()}
			for _, a := range tt.args[1:] {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			got := runCLI(t, dir, args...)
			if got.code != tt.want {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, tt.want, got.stdout, got.stderr)
			}
			if !strings.Contains(got.stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", got.stderr, tt.wantStderr)
			}
		})
	}
}

// jsonReport is the part of buildwall.scan/v1 the tests look at.
type jsonReport struct {
	Schema   string `json:"schema"`
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Path     string `json:"path"`
		Line     int    `json:"line"`
		Package  *struct {
			Ecosystem, Name, Version string
		} `json:"package"`
		Fix string `json:"fix"`
	} `json:"findings"`
}

func TestScanExampleJSON(t *testing.T) {
	useTestRegistry(t)
	got := runCLI(t, "", "scan", "--db", t.TempDir(), "--format", "json", filepath.Join("..", "..", "examples", "vulnerable-app"))
	if got.code != ExitFindings {
		t.Fatalf("exit code = %d, want %d; stderr: %s", got.code, ExitFindings, got.stderr)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, got.stdout)
	}
	if rep.Schema != "buildwall.scan/v1" {
		t.Errorf("schema = %q", rep.Schema)
	}
	var lines []string
	for _, f := range rep.Findings {
		if f.Fix == "" || f.Line < 1 || f.Package == nil {
			t.Errorf("finding %+v lacks a fix, a line or a package", f)
			continue
		}
		lines = append(lines, f.Path+" "+f.Severity+" "+f.Rule+" "+f.Package.Name+"@"+f.Package.Version)
	}
	want := []string{
		"examples/vulnerable-app/package-lock.json critical malicious-package axios@1.14.1",
		"examples/vulnerable-app/package-lock.json medium install-script esbuild@0.19.2",
		"examples/vulnerable-app/package-lock.json high insecure-source is-number@7.0.0",
		"examples/vulnerable-app/package-lock.json high missing-integrity left-pad@1.3.0",
		"examples/vulnerable-app/package-lock.json high untrusted-registry lodash@4.17.21",
		"examples/vulnerable-app/package-lock.json critical malicious-package plain-crypto-js@4.2.1",
		"examples/vulnerable-app/package-lock.json medium install-script plain-crypto-js@4.2.1",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(got.stderr, "\nbuildwall: 7 findings (2 critical, 3 high, 2 medium) in 1 file; 2 files scanned; failing") {
		t.Errorf("stderr summary = %q", got.stderr)
	}
}

func TestScanOutputFile(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	out := filepath.Join(dir, "report.sarif")
	got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "sarif", "--output", "report.sarif", ".")
	if got.code != ExitFindings {
		t.Fatalf("exit code = %d, want %d; stderr: %s", got.code, ExitFindings, got.stderr)
	}
	if got.stdout != "" {
		t.Errorf("stdout = %q, want nothing when --output is set", got.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &sarif); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	var rules []string
	for _, r := range sarif.Runs[0].Results {
		rules = append(rules, r.RuleID)
	}
	if diff := cmp.Diff([]string{"missing-integrity", "install-script"}, rules); diff != "" {
		t.Errorf("SARIF results mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(got.stderr, "2 findings (1 high, 1 medium) in 1 file; 2 files scanned; failing: findings at or above high") {
		t.Errorf("stderr summary = %q", got.stderr)
	}
}

func TestScanTextStdoutHasNoSummaryOnStderr(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock})
	got := runCLI(t, dir, "scan", "--db", t.TempDir())
	// The one line on stderr is the embedded-database warning (TestScanDBNotes).
	if rest := dropDBWarning(got.stderr); got.code != ExitOK || rest != "" {
		t.Errorf("code = %d, stderr = %q; want 0 and nothing but the database warning", got.code, got.stderr)
	}
	if got.stdout == "" {
		t.Error("text report is empty")
	}
}

// dropDBWarning removes the embedded-database warning line from stderr.
func dropDBWarning(stderr string) string {
	var keep []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if !strings.HasPrefix(l, "buildwall: warning: the malicious-package database is the ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestScanMissingDBIsUsageError: --db naming a directory that is not there
// fails the gate (exit 2) instead of quietly using the embedded records.
func TestScanMissingDBIsUsageError(t *testing.T) {
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	for _, db := range []string{filepath.Join(dir, "no-such-db"), filepath.Join(dir, "package.json")} {
		got := runCLI(t, dir, "scan", "--db", db, ".")
		if got.code != ExitUsage || !strings.Contains(got.stderr, "not a directory") {
			t.Errorf("--db %s: exit %d, stderr %q; want exit 2 naming the directory", db, got.code, got.stderr)
		}
	}
}
