package trust

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
)

func parse(t *testing.T, yml string) *config.Config {
	t.Helper()
	c, err := config.Parse("buildwall.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const trustedYML = `scan:
  fail-on: medium
  registries: [https://npm.corp.example/]
  install-scripts:
    allow: [esbuild]
  ignore:
    - rule: install-script
      package: sharp
      reason: reviewed
`

func TestCompareConfig(t *testing.T) {
	tests := []struct {
		name   string
		branch string
		fixed  bool
		want   []string // "line:col message prefix"
	}{
		{"same", trustedYML, false, nil},
		{"stricter", "scan:\n  fail-on: low\n", false, nil},
		{"reason_changed", strings.Replace(trustedYML, "reason: reviewed", "reason: other words", 1), false, nil},
		{"registry_respelt", strings.Replace(trustedYML, "https://npm.corp.example/", "HTTPS://NPM.corp.example:443", 1), false, nil},
		{"fail_on_none", "scan:\n  fail-on: none\n", false, []string{"2:12 scan.fail-on none is more lenient than medium in origin/main"}},
		{"fail_on_high", "scan:\n  fail-on: high\n", false, []string{"2:12 scan.fail-on high is more lenient than medium in origin/main"}},
		{"fail_on_flag_given", "scan:\n  fail-on: none\n", true, nil},
		{"ignore_everything", "scan:\n  fail-on: medium\n  ignore:\n    - path: \"**\"\n      reason: x\n", false,
			[]string{"4:7 scan.ignore adds an entry (path **) that origin/main does not have"}},
		{"ignore_widened", strings.Replace(trustedYML, "      package: sharp\n", "", 1), false,
			[]string{"7:7 scan.ignore adds an entry (rule install-script) that origin/main does not have"}},
		{"registry_added", strings.Replace(trustedYML, "[https://npm.corp.example/]", "[https://npm.corp.example/, https://evil.example/]", 1), false,
			[]string{"3:43 scan.registries adds https://evil.example/, which origin/main does not allow"}},
		{"install_allow_added", strings.Replace(trustedYML, "[esbuild]", "[esbuild, evil-pkg]", 1), false,
			[]string{`5:22 scan.install-scripts.allow adds "evil-pkg", which origin/main does not allow`}},
	}
	trusted := parse(t, trustedYML)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CompareConfig(ConfigOptions{Ref: "origin/main", Path: "buildwall.yml", DefaultFailOn: finding.SeverityHigh, FailOnFixed: tt.fixed}, trusted, parse(t, tt.branch))
			var lines []string
			for _, f := range got {
				if f.Rule != RuleID || f.Severity != finding.SeverityHigh || f.Path != "buildwall.yml" {
					t.Errorf("finding %+v: want a high gate-weakened finding at buildwall.yml", f)
				}
				msg, _, _ := strings.Cut(f.Message, "; the configuration of origin/main applies instead")
				lines = append(lines, fmt.Sprintf("%d:%d %s", f.Line, f.Column, msg))
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompareConfigDefaults: with no trusted file the default fail-on
// (high) is the bar, and every ignore of the branch is new.
func TestCompareConfigDefaults(t *testing.T) {
	got := CompareConfig(ConfigOptions{Ref: "origin/main", Path: "buildwall.yml", DefaultFailOn: finding.SeverityHigh},
		&config.Config{}, parse(t, "scan:\n  fail-on: critical\n  ignore:\n    - rule: install-script\n      reason: x\n"))
	if len(got) != 2 {
		t.Fatalf("got %d findings, want fail-on and ignore: %+v", len(got), got)
	}
	if got := CompareConfig(ConfigOptions{Ref: "origin/main", DefaultFailOn: finding.SeverityHigh}, parse(t, "scan:\n  fail-on: critical\n"), &config.Config{}); len(got) != 0 {
		t.Errorf("removing a lenient file weakens nothing, got %+v", got)
	}
}

func TestWeakenedEscapes(t *testing.T) {
	f := Weakened(finding.Location{Path: ".npmrc"}, "origin/main", "::error::x\nforged")
	if strings.Contains(f.Message, "\n") || strings.HasPrefix(f.Message, "::") {
		t.Errorf("message not escaped: %q", f.Message)
	}
}

func TestSplit(t *testing.T) {
	fs := []finding.Finding{{Rule: "a"}, {Rule: RuleID, Location: finding.Location{Path: "x"}}, {Rule: "b"}}
	kept, rest := Split(fs)
	if len(kept) != 1 || kept[0].Path != "x" || len(rest) != 2 || rest[0].Rule != "a" || rest[1].Rule != "b" {
		t.Errorf("Split = %+v, %+v", kept, rest)
	}
}

func TestCoversRegistry(t *testing.T) {
	trusted := []lockcheck.Registry{{URL: "https://npm.corp.example/"}, {URL: "https://npm.acme.example/", Scope: "@acme"}}
	tests := []struct {
		r    lockcheck.Registry
		want bool
	}{
		{lockcheck.Registry{URL: "https://npm.corp.example"}, true},
		{lockcheck.Registry{URL: "https://npm.corp.example/", Scope: "@x"}, true},
		{lockcheck.Registry{URL: "https://npm.acme.example/", Scope: "@ACME"}, true},
		{lockcheck.Registry{URL: "https://npm.acme.example/"}, false}, // scoped -> unscoped widens
		{lockcheck.Registry{URL: "https://npm.acme.example/", Scope: "@other"}, false},
		{lockcheck.Registry{URL: "https://evil.example/"}, false},
		{lockcheck.Registry{URL: "https://npm.corp.example/other/"}, true},
		{lockcheck.Registry{URL: "https://npm.corp.example.evil.example/"}, false},
		{lockcheck.Registry{URL: "https://npm.acme.example:8443/", Scope: "@acme"}, false},
	}
	for _, tt := range tests {
		if got := CoversRegistry(trusted, tt.r); got != tt.want {
			t.Errorf("CoversRegistry(%+v) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

// TestCompareConfigCoversEveryScanSetting fails when config.Scan gains a
// setting: CompareConfig must learn whether changing it weakens the gate
// before a branch can use it to pass.
func TestCompareConfigCoversEveryScanSetting(t *testing.T) {
	compared := []string{"FailOn", "Registries", "InstallScriptsAllow", "Ignores", "Exclude", "FailOnPos", "RegistryPos", "InstallScriptsAllowPos", "ExcludePos"}
	var fields []string
	st := reflect.TypeFor[config.Scan]()
	for i := range st.NumField() {
		if f := st.Field(i); f.IsExported() {
			fields = append(fields, f.Name)
		}
	}
	if diff := cmp.Diff(compared, fields); diff != "" {
		t.Errorf("config.Scan fields changed; teach CompareConfig about them, then update this list (-compared +fields):\n%s", diff)
	}
	it := reflect.TypeFor[config.Ignore]()
	var ignoreFields []string
	for i := range it.NumField() {
		if f := it.Field(i); f.IsExported() {
			ignoreFields = append(ignoreFields, f.Name)
		}
	}
	if diff := cmp.Diff([]string{"Rule", "Package", "Path", "Reason", "Until", "Line", "Column"}, ignoreFields); diff != "" {
		t.Errorf("config.Ignore fields changed; CompareConfig compares ignores by Rule, Package and Path (-want +got):\n%s", diff)
	}
}

// TestCompareConfigUntilAndExclude: moving an ignore's until later (or
// dropping it) and adding a scan.exclude pattern weaken the gate.
func TestCompareConfigUntilAndExclude(t *testing.T) {
	const base = "scan:\n  exclude: [fixtures]\n  ignore:\n    - rule: install-script\n      reason: r\n      until: 2027-01-31\n"
	tests := []struct {
		name, branch string
		want         []string
	}{
		{"same", base, nil},
		{"earlier", strings.Replace(base, "2027-01-31", "2026-12-31", 1), nil},
		{"later", strings.Replace(base, "2027-01-31", "2030-01-31", 1),
			[]string{"4:7 scan.ignore extends an entry (rule install-script) past until: 2027-01-31 in origin/main"}},
		{"dropped", strings.Replace(base, "      until: 2027-01-31\n", "", 1),
			[]string{"4:7 scan.ignore extends an entry (rule install-script) past until: 2027-01-31 in origin/main"}},
		{"exclude_added", strings.Replace(base, "[fixtures]", "[fixtures, \"**\"]", 1),
			[]string{`2:23 scan.exclude adds "**", which origin/main does not exclude`}},
	}
	trusted := parse(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for _, f := range CompareConfig(ConfigOptions{Ref: "origin/main", Path: "buildwall.yml", DefaultFailOn: finding.SeverityHigh}, trusted, parse(t, tt.branch)) {
				msg, _, _ := strings.Cut(f.Message, "; the configuration of origin/main applies instead")
				lines = append(lines, fmt.Sprintf("%d:%d %s", f.Line, f.Column, msg))
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
