package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/testutil"
)

// useTestPolicyEnv makes presets expand from made-up registries.
func useTestPolicyEnv(t *testing.T) {
	t.Helper()
	old := policyEnv
	policyEnv = func(context.Context, []string) policy.Env {
		return policy.Env{NPMRegistries: []string{"https://registry.example/"}, GoProxies: []string{"https://goproxy.example"}}
	}
	t.Cleanup(func() { policyEnv = old })
}

const auditReport = `{
  "schema": "buildwall.run/v1",
  "command": ["npm", "ci"],
  "mode": "audit",
  "exit_code": 0,
  "start": "2026-11-27T12:00:00Z",
  "end": "2026-11-27T12:00:10Z",
  "duration_ms": 10000,
  "events": [
    {"time": "2026-11-27T12:00:01Z", "kind": "connect", "verdict": "allow", "proto": "tcp", "name": "registry.example", "port": 443, "rule": "npm"},
    {"time": "2026-11-27T12:00:02Z", "kind": "connect", "verdict": "audit", "proto": "tcp", "name": "cdn.assets.example", "port": 443, "reason": "not in policy"},
    {"time": "2026-11-27T12:00:03Z", "kind": "connect", "verdict": "audit", "proto": "tcp", "ip": "127.0.0.1", "port": 6379, "reason": "loopback port not in host-ports"}
  ],
  "summary": {"allowed": [], "blocked": [], "audited": [], "dns_suspicious": [], "counts": {"events": 3, "dns": 0, "connect": 3, "packet": 0, "allowed": 1, "blocked": 0, "audited": 2, "suspicious": 0}}
}
`

func runPolicyCLI(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Dir: dir, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestPolicySuggest(t *testing.T) {
	useTestPolicyEnv(t)
	dir := writeTree(t, map[string]string{
		"run.json":  auditReport,
		"scan.json": `{"schema": "buildwall.scan/v1"}`,
	})
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		golden     string // stdout golden under testdata/policy/
		wantStderr string
	}{
		{name: "yaml", args: []string{"policy", "suggest", "--report", "run.json"}, wantCode: ExitOK, golden: "suggest.yaml.golden"},
		{name: "json", args: []string{"policy", "suggest", "--report", "run.json", "--format", "json"}, wantCode: ExitOK, golden: "suggest.json.golden"},
		{name: "missing_report_flag", args: []string{"policy", "suggest"}, wantCode: ExitUsage, wantStderr: "buildwall: policy suggest: --report is required\n"},
		{name: "bad_format", args: []string{"policy", "suggest", "--report", "run.json", "--format", "toml"}, wantCode: ExitUsage, wantStderr: "buildwall: policy suggest: --format \"toml\" is not yaml or json\n"},
		{name: "not_a_run_report", args: []string{"policy", "suggest", "--report", "scan.json"}, wantCode: ExitUsage, wantStderr: "decode run report: schema \"buildwall.scan/v1\" is not \"buildwall.run/v1\""},
		{name: "no_such_file", args: []string{"policy", "suggest", "--report", "nope.json"}, wantCode: ExitUsage, wantStderr: "open run report: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runPolicyCLI(t, dir, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if tt.golden != "" {
				testutil.Golden(t, filepath.Join("testdata", "policy", tt.golden), []byte(stdout))
				// Both formats are valid policy files.
				if _, err := policy.Parse(tt.golden, []byte(stdout)); err != nil {
					t.Errorf("output is not a valid policy: %v", err)
				}
			}
			if !strings.Contains(stderr, tt.wantStderr) || (tt.wantStderr == "" && stderr != "") {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}

	// --output writes the file, which is a valid policy that allows what
	// the run reached.
	testutil.CheckUnusedGoldens(t, "testdata/policy/*.golden")

	code, stdout, stderr := runPolicyCLI(t, dir, "policy", "suggest", "--report", "run.json", "-o", "buildwall.yml")
	if code != ExitOK || stdout != "" {
		t.Fatalf("suggest -o: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runPolicyCLI(t, dir, "policy", "check")
	if code != ExitOK {
		t.Fatalf("check of the suggested policy: code %d, stderr %q", code, stderr)
	}
	want := filepath.Join(dir, "buildwall.yml") + ": valid run policy, block mode, 2 allow entries\n" +
		"  host-ports: 6379\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("check output mismatch (-want +got):\n%s", diff)
	}
}

func TestPolicyCheck(t *testing.T) {
	useTestPolicyEnv(t)
	dir := writeTree(t, map[string]string{
		"good.yml": "run:\n  mode: audit\n  allow: [npm, go, pypi, github.com]\n  dns:\n    upstream: 127.0.0.53\n",
		"bad.yml":  "run:\n  mode: block\n  allow:\n    - https://registry.example/\n  hostports: [1]\n",
	})
	code, stdout, stderr := runPolicyCLI(t, dir, "policy", "check", "good.yml")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	wantOut := filepath.Join(dir, "good.yml") + ": valid run policy, audit mode, 4 allow entries\n" +
		"  preset npm: registry.example:443\n" +
		"  preset go: goproxy.example:443\n" +
		"  dns upstream: 127.0.0.53:53\n"
	if diff := cmp.Diff(wantOut, stdout); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("warning: preset pypi: no pip index configured (is pip installed?)\n", stderr); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}

	code, _, stderr = runPolicyCLI(t, dir, "policy", "check", "bad.yml")
	if code != ExitUsage {
		t.Errorf("bad policy: code %d, want %d", code, ExitUsage)
	}
	bad := filepath.Join(dir, "bad.yml")
	for _, want := range []string{
		bad + `:4:7: allow entry "https://registry.example/": not a host, wildcard, CIDR or preset`,
		bad + `:5:3: unknown key "hostports"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}

	if code, _, _ := runPolicyCLI(t, dir, "policy", "check"); code != ExitUsage {
		t.Errorf("check without buildwall.yml: code %d, want %d", code, ExitUsage)
	}
	if _, err := os.Stat(filepath.Join(dir, "buildwall.yml")); err == nil {
		t.Fatal("test assumes no buildwall.yml")
	}
}

// TestPolicySuggestMerges: -o over an existing, commented buildwall.yml
// replaces only its run: section; every other byte stays.
func TestPolicySuggestMerges(t *testing.T) {
	useTestPolicyEnv(t)
	const before = "# buildwall configuration — owned by the platform team\nscan:\n  fail-on: medium   # keep strict\n  ignore:\n    - rule: install-script\n      package: esbuild\n      reason: needs its native binary\n\n"
	const old = "run:\n  mode: audit  # first week\n  allow:\n    # the mirror\n    - registry.example\n"
	const after = "\n# end of file: keep this comment\n"
	dir := writeTree(t, map[string]string{"run.json": auditReport, "buildwall.yml": before + old + after})
	code, stdout, _ := runPolicyCLI(t, dir, "policy", "suggest", "--report", "run.json")
	if code != ExitOK {
		t.Fatalf("suggest: code %d", code)
	}
	i := strings.Index(stdout, "\nrun:\n")
	if i < 0 || !strings.HasPrefix(stdout, "# ") || strings.Contains(stdout, "scan:") {
		t.Fatalf("stdout is not a header and a run: section only:\n%s", stdout)
	}
	run := stdout[i+1:]
	code, stdout, stderr := runPolicyCLI(t, dir, "policy", "suggest", "--report", "run.json", "-o", "buildwall.yml")
	if code != ExitOK || stdout != "" {
		t.Fatalf("suggest -o: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "buildwall.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before+run+after, string(got)); diff != "" {
		t.Errorf("merged file (-want +got):\n%s", diff)
	}
	// Merging again changes nothing.
	if code, _, _ := runPolicyCLI(t, dir, "policy", "suggest", "--report", "run.json", "-o", "buildwall.yml"); code != ExitOK {
		t.Fatalf("second merge: code %d", code)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "buildwall.yml")); string(again) != string(got) {
		t.Errorf("second merge changed the file:\n%s", again)
	}
	// An existing file that is not YAML, or JSON over a file, is refused
	// and left alone.
	for name, tc := range map[string]struct{ content, format, want string }{
		"broken_yaml": {"scan: [\n", "yaml", "cannot merge into buildwall.yml:"},
		"json_over":   {before, "json", "--format json cannot merge"},
	} {
		t.Run(name, func(t *testing.T) {
			d := writeTree(t, map[string]string{"run.json": auditReport, "buildwall.yml": tc.content})
			code, _, stderr := runPolicyCLI(t, d, "policy", "suggest", "--report", "run.json", "--format", tc.format, "-o", "buildwall.yml")
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tc.want)
			}
			if got, _ := os.ReadFile(filepath.Join(d, "buildwall.yml")); string(got) != tc.content {
				t.Errorf("file changed:\n%s", got)
			}
		})
	}
}
