package lockcheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRangesSatisfies(t *testing.T) {
	tests := []struct {
		spec, version string
		ok, checked   bool
	}{
		{"^1.2.0", "1.9.9", true, true},
		{"^1.2.0", "2.0.0", false, true},
		{"^1.2.0", "1.1.9", false, true},
		{"^0.2.3", "0.2.9", true, true},
		{"^0.2.3", "0.3.0", false, true},
		{"~1.2.3", "1.2.9", true, true},
		{"~1.2.3", "1.3.0", false, true},
		{"1.x", "1.7.0", true, true},
		{"1.x", "2.0.0", false, true},
		{"1.2", "1.2.7", true, true},
		{"1.2", "1.3.0", false, true},
		{"1", "1.9.0", true, true},
		{"*", "3.0.0", true, true},
		{"", "3.0.0", true, true},
		{"1.2.3", "1.2.3", true, true},
		{"1.2.3", "1.2.4", false, true},
		{"=1.2.3", "1.2.3", true, true},
		{"v1.2.3", "1.2.3", true, true},
		{">=1.2.0 <2.0.0", "1.5.0", true, true},
		{">= 1.2.0", "1.5.0", true, true},
		{">=1.2.0 <2.0.0", "2.0.0", false, true},
		{"^1.0.0 || ^2.0.0", "2.1.0", true, true},
		{"^1.0.0 || ^2.0.0", "3.0.0", false, true},
		{"1.0.0 - 2.3.4", "2.3.4", true, true},
		{"1.0.0 - 2.3.4", "2.3.5", false, true},
		{"^1.2.3", "1.2.4(react@18.2.0)", true, true},
		{"^0.0.3", "0.0.3", true, true},
		{"^0.0.3", "0.0.4", false, true},
		{"1.2.x", "1.2.9", true, true},
		{"1.2.x", "1.3.0", false, true},
		{"x.x", "7.1.0", true, true},
		{"~1.2.3 || 2.x", "2.5.0", true, true},
		{"^1.2.3-beta.1", "1.2.3-beta.2", true, true},
		{"^1.2.3", "1.5.0-rc.1", false, true},
		{"latest", "1.0.0", false, false},
		{"next", "1.0.0", false, false},
		{"npm:lodash@^4", "4.0.0", false, false},
		{"github:user/repo", "1.0.0", false, false},
		{"user/repo#v1", "1.0.0", false, false},
		{"file:../x", "1.0.0", false, false},
		{"~/x", "1.0.0", false, false},
		{"^1.0.0", "link:../x", false, false},
	}
	rs := ranges{}
	for _, tt := range tests {
		ok, checked := rs.satisfies(tt.spec, tt.version)
		if ok != tt.ok || checked != tt.checked {
			t.Errorf("satisfies(%q, %q) = %v, %v; want %v, %v", tt.spec, tt.version, ok, checked, tt.ok, tt.checked)
		}
	}
}

func TestTarballStemMatches(t *testing.T) {
	tests := []struct {
		stem, name, version string
		want                bool
	}{
		{"lodash-4.17.21", "lodash", "4.17.21", true},
		{"lodash-4.17.20", "lodash", "4.17.21", false},
		{"n-1.0.0", "@s/n", "1.0.0", true},
		{"n-1.0.0", "@s/n", "1.0.0+build.5", true},
		{"left-pad-1.0.0", "left", "pad-1.0.0", true},
		{"lodash", "lodash", "1.0.0", false},
	}
	for _, tt := range tests {
		if got := tarballStemMatches(tt.stem, tt.name, tt.version); got != tt.want {
			t.Errorf("tarballStemMatches(%q, %q, %q) = %v, want %v", tt.stem, tt.name, tt.version, got, tt.want)
		}
	}
}

func TestRegistriesAllowed(t *testing.T) {
	calls := 0
	defaults := NewDefaults(func() ([]string, string) {
		calls++
		return []string{"https://registry.example/"}, ""
	})
	r := NewRegistries(defaults, "https://npm.corp.example/api/npm/", "not a url")
	tests := []struct {
		url  string
		want bool
	}{
		{"https://npm.corp.example/api/npm/lodash/-/lodash-1.0.0.tgz", true},
		{"http://NPM.corp.example:80/api/npm/lodash/-/lodash-1.0.0.tgz", true},
		{"https://npm.corp.example/other/lodash/-/lodash-1.0.0.tgz", false},
		{"https://npm.corp.example:8443/api/npm/lodash/-/lodash-1.0.0.tgz", false},
		{"https://registry.example/lodash/-/lodash-1.0.0.tgz", true},
		{"https://registry.example:443/lodash/-/lodash-1.0.0.tgz", true},
		{"https://user:pw@registry.example/lodash/-/lodash-1.0.0.tgz", true},
		{"https://evil-registry.example/lodash/-/lodash-1.0.0.tgz", false},
		{"https://registry.example.evil.example/lodash/-/lodash-1.0.0.tgz", false},
		// WHATWG parsers (npm) read '\' as '/': the host is evil.example.
		{`https://evil.example\@registry.example/lodash/-/lodash-1.0.0.tgz`, false},
		{`https://registry.example.@evil.example/lodash/-/lodash-1.0.0.tgz`, false},
		{"lodash@npm:1.0.0", false},
	}
	for _, tt := range tests {
		if got := r.Allowed(tt.url); got != tt.want {
			t.Errorf("Allowed(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
	if calls != 1 {
		t.Errorf("defaults resolved %d times, want once", calls)
	}
	if got, want := r.Describe(), "allowed: npm.corp.example/api/npm/, registry.example/"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	unknown := NewRegistries(NewDefaults(func() ([]string, string) { return nil, "npm's default registry is unknown" }))
	if got, want := unknown.Describe(), "allowed: none; npm's default registry is unknown"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestRulesContract(t *testing.T) {
	var got []string
	for _, r := range Rules() {
		got = append(got, r.ID+" "+r.Severity.String())
		if r.Summary == "" || r.Fix == "" {
			t.Errorf("rule %s lacks a summary or fix", r.ID)
		}
	}
	want := []string{
		"malicious-package critical",
		"missing-integrity high",
		"weak-integrity medium",
		"insecure-source high",
		"untrusted-registry high",
		"name-mismatch high",
		"non-registry-source medium",
		"install-script medium",
		"lockfile-missing high",
		"lockfile-drift high",
		"unparseable-lockfile high",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule IDs and severities are a contract (-want +got):\n%s", diff)
	}
}

func TestSplitURL(t *testing.T) {
	tests := []struct {
		in                 string
		scheme, host, path string
		ok                 bool
	}{
		{"https://registry.example/a/-/a-1.0.0.tgz", "https", "registry.example", "/a/-/a-1.0.0.tgz", true},
		{"https://u:p@registry.example:8443/a?x=1#frag", "https", "registry.example:8443", "/a", true},
		{"http://host.example", "http", "host.example", "/", true},
		{"http://host.example?q", "http", "host.example", "/", true},
		{"http://host.example#/x", "http", "host.example", "/", true},
		{"git+ssh://git@git.example/o/r.git#abc", "git+ssh", "git.example", "/o/r.git", true},
		{`https://evil.example\@registry.example/a`, "https", "evil.example", `\@registry.example/a`, true},
		{"lodash@npm:1.0.0", "", "", "", false},
		{"://x", "", "", "", false},
	}
	for _, tt := range tests {
		scheme, host, path, ok := splitURL(tt.in)
		if diff := cmp.Diff([]any{tt.scheme, tt.host, tt.path, tt.ok}, []any{scheme, host, path, ok}); diff != "" {
			t.Errorf("splitURL(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestRegistriesScoped(t *testing.T) {
	r := NewScopedRegistries(nil, []Registry{
		{URL: "https://npm.acme.example/", Scope: "@acme"},
		{URL: "https://mirror.example/npm/"},
		{URL: "https://mirror.example/private/", Scope: "@Corp"},
	})
	tests := []struct {
		name, url string
		want      bool
	}{
		{"@acme/widget", "https://npm.acme.example/@acme/widget/-/widget-1.0.0.tgz", true},
		{"@ACME/widget", "https://npm.acme.example/@acme/widget/-/widget-1.0.0.tgz", true},
		{"lodash", "https://npm.acme.example/lodash/-/lodash-1.0.0.tgz", false},
		{"@other/x", "https://npm.acme.example/@other/x/-/x-1.0.0.tgz", false},
		{"@acmex/x", "https://npm.acme.example/@acmex/x/-/x-1.0.0.tgz", false},
		{"@acme", "https://npm.acme.example/@acme/-/x-1.0.0.tgz", false},
		{"lodash", "https://mirror.example/npm/lodash/-/lodash-1.0.0.tgz", true},
		{"@acme/widget", "https://mirror.example/npm/@acme/widget/-/widget-1.0.0.tgz", true},
		{"@corp/a", "https://mirror.example/private/@corp/a/-/a-1.0.0.tgz", true},
		{"a", "https://mirror.example/private/a/-/a-1.0.0.tgz", false},
	}
	for _, tt := range tests {
		if got := r.AllowedFor(tt.name, tt.url); got != tt.want {
			t.Errorf("AllowedFor(%q, %q) = %v, want %v", tt.name, tt.url, got, tt.want)
		}
	}
	if r.Allowed("https://npm.acme.example/@acme/widget/-/widget-1.0.0.tgz") {
		t.Error("Allowed (no package name) accepted a scoped registry")
	}
	if got, want := r.Describe(), "allowed: npm.acme.example/ (@acme/* only), mirror.example/npm/, mirror.example/private/ (@corp/* only)"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}
