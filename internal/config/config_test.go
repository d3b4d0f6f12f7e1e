package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	high := finding.SeverityHigh
	data := `scan:
  fail-on: high
  registries: [https://npm.corp.example/]
  install-scripts:
    allow: [esbuild, "@swc/core"]
  ignore:
    - rule: install-script
      package: esbuild
      path: "packages/legacy/**"
      reason: "reviewed 2026-11: needs its native binary"
run:
  egress: [registry.example]
`
	c, err := Parse("buildwall.yml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Scan{
		FailOn:              &high,
		Registries:          []string{"https://npm.corp.example/"},
		InstallScriptsAllow: []string{"esbuild", "@swc/core"},
		Ignores: []Ignore{{
			Rule: "install-script", Package: "esbuild", Path: "packages/legacy/**",
			Reason: "reviewed 2026-11: needs its native binary", Line: 7, Column: 7,
		}},
		FailOnPos:              Position{Line: 2, Column: 12},
		RegistryPos:            []Position{{Line: 3, Column: 16}},
		InstallScriptsAllowPos: []Position{{Line: 5, Column: 13}, {Line: 5, Column: 22}},
	}
	if diff := cmp.Diff(want, c.Scan, cmpopts.IgnoreUnexported(Ignore{})); diff != "" {
		t.Errorf("Scan mismatch (-want +got):\n%s", diff)
	}
	if c.Run == nil || c.Run.Line != 12 {
		t.Errorf("Run node = %+v, want the mapping at line 12", c.Run)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"unknown_top_key", "scna:\n  fail-on: high\n", `buildwall.yml:1:1: unknown key "scna" in top level; did you mean "scan"? (known: run, scan)`},
		{"misspelt_ignore_key", "scan:\n  ignroe: []\n", `buildwall.yml:2:3: unknown key "ignroe" in scan; did you mean "ignore"? (known: exclude, fail-on, ignore, install-scripts, registries)`},
		{"bad_until", "scan:\n  ignore:\n    - rule: x\n      reason: y\n      until: 31/01/2027\n", `buildwall.yml:5:14: scan.ignore until: "31/01/2027" is not a date written YYYY-MM-DD`},
		{"bad_exclude", "scan:\n  exclude: [\"/abs\"]\n", `buildwall.yml:2:13: scan.exclude "/abs": pattern must be a relative slash-separated path`},
		{"unknown_scan_key", "scan:\n  registry: [x]\n", `buildwall.yml:2:3: unknown key "registry" in scan (known: exclude, fail-on, ignore, install-scripts, registries)`},
		{"ignore_without_reason", "scan:\n  ignore:\n    - rule: install-script\n", `buildwall.yml:3:7: scan.ignore entry has no reason: say why the finding is acceptable`},
		{"ignore_empty_reason", "scan:\n  ignore:\n    - rule: install-script\n      reason: \"  \"\n", `buildwall.yml:3:7: scan.ignore entry has no reason: say why the finding is acceptable`},
		{"ignore_nothing", "scan:\n  ignore:\n    - reason: because\n", `buildwall.yml:3:7: scan.ignore entry must name a rule, a package or a path`},
		{"bad_severity", "scan:\n  fail-on: urgent\n", `buildwall.yml:2:12: scan.fail-on: unknown severity "urgent" (want one of none, low, medium, high, critical)`},
		{"bad_registry", "scan:\n  registries: [ftp://x.example/]\n", `buildwall.yml:2:16: scan.registries: "ftp://x.example/" is not an http(s) URL`},
		{"allow_not_list", "scan:\n  install-scripts:\n    allow: esbuild\n", `buildwall.yml:3:12: scan.install-scripts.allow must be a list of strings`},
		{"duplicate_key", "scan:\n  fail-on: high\n  fail-on: low\n", `buildwall.yml:3:3: duplicate key "fail-on" in scan`},
		{"two_documents", "scan:\n  fail-on: low\n---\nscan:\n  fail-on: none\n", `buildwall.yml:3:1: more than one YAML document; buildwall.yml must hold one`},
		{"empty_then_document", "---\n...\n---\nscan:\n  fail-on: none\n", `buildwall.yml:3:1: more than one YAML document; buildwall.yml must hold one`},
		{"syntax", "scan:\n  fail-on: [high\n", `buildwall.yml:1: did not find expected ',' or ']'`},
		{"bad_glob", "scan:\n  ignore:\n    - path: \"a/[\"\n      reason: x\n", `buildwall.yml:3:7: scan.ignore path "a/[": malformed pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("buildwall.yml", []byte(tt.data))
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "scan:\n"} {
		c, err := Parse("b.yml", []byte(data))
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		if len(c.Scan.Ignores) != 0 || c.Scan.FailOn != nil || c.Run != nil {
			t.Errorf("Parse(%q) = %+v, want empty", data, c)
		}
	}
}

func TestFilter(t *testing.T) {
	c, err := Parse("b.yml", []byte(`scan:
  ignore:
    - rule: install-script
      package: esbuild
      reason: needs its binary
    - path: "packages/legacy/**"
      reason: frozen
    - package: left-pad@1.0.0
      reason: pinned on purpose
`))
	if err != nil {
		t.Fatal(err)
	}
	f := func(rule, path, name, version string) finding.Finding {
		return finding.Finding{Rule: rule, Location: finding.Location{Path: path},
			Package: &finding.Package{Ecosystem: "npm", Name: name, Version: version}}
	}
	in := []finding.Finding{
		f("install-script", "package-lock.json", "esbuild", "0.19.2"),    // ignored (rule+package)
		f("malicious-package", "package-lock.json", "esbuild", "0.19.2"), // kept: other rule
		f("missing-integrity", "packages/legacy/a/yarn.lock", "x", "1"),  // ignored by path
		f("missing-integrity", "packages/legacyx/yarn.lock", "x", "1"),   // kept
		f("insecure-source", "package-lock.json", "left-pad", "1.0.0"),   // ignored name@version
		f("insecure-source", "package-lock.json", "left-pad", "1.0.1"),   // kept
	}
	c.Scan.Suppress(in, "b.yml", time.Now(), nil)
	got := finding.Active(in)
	if n := finding.CountSuppressed(in); n != 3 {
		t.Errorf("suppressed = %d, want 3", n)
	}
	var gotRules []string
	for _, g := range got {
		gotRules = append(gotRules, g.Rule+" "+g.Path+" "+g.Package.String())
	}
	want := []string{
		"malicious-package package-lock.json esbuild@0.19.2",
		"missing-integrity packages/legacyx/yarn.lock x@1",
		"insecure-source package-lock.json left-pad@1.0.1",
	}
	if diff := cmp.Diff(want, gotRules); diff != "" {
		t.Errorf("kept mismatch (-want +got):\n%s", diff)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"**", "a/b/c", true},
		{"**/yarn.lock", "yarn.lock", true},
		{"**/yarn.lock", "a/b/yarn.lock", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/*", "a/b/c", false},
		{"a/*.json", "a/package.json", true},
		{"./a/b", "a/b", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tt.path); got != tt.want {
			t.Errorf("glob %q match %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestCheckRules(t *testing.T) {
	c, err := Parse("b.yml", []byte("scan:\n  ignore:\n    - rule: instal-script\n      reason: typo\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckRules([]string{"install-script", "malicious-package"})
	want := `b.yml:3:7: scan.ignore names unknown rule "instal-script"; did you mean "install-script"?`
	if err == nil || err.Error() != want {
		t.Errorf("CheckRules = %v, want %s", err, want)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Find(sub); got != "" {
		t.Errorf("Find without config = %q, want empty", got)
	}
	cfg := filepath.Join(root, FileName)
	if err := os.WriteFile(cfg, []byte("scan:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Find(sub); got != cfg {
		t.Errorf("Find = %q, want %q", got, cfg)
	}
}
