package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/npmconfig"
)

// testEnv is a toolchain configuration with made-up registries.
var testEnv = Env{
	NPMRegistries: []string{"https://npm.registry.example/", "http://127.0.0.1:4873/"},
	GoProxies:     []string{"https://goproxy.example"},
	GoSumDBs:      []string{"sumdb.example"},
	GoPrivate:     []string{"git.corp.example/team/*", "*.private.example"},
	PipIndexes:    []string{"https://pypi.mirror.example:8443/simple"},
	PipFileHosts:  []string{"files.mirror.example"},
}

func mustCompile(t testing.TB, yml string, env Env) *Policy {
	t.Helper()
	s, err := Parse("p.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const decidePolicy = `
mode: block
allow:
  - npm
  - go
  - pypi
  - github.com
  - "*.example.com"
  - api.example.com:443
  - only.example:8443
  - "*.ports.example:443"
  - 203.0.113.0/24:443
  - 198.51.100.7
  - "[2001:db8::]/32:443"
host-ports: [5432]
`

func TestDecide(t *testing.T) {
	p := mustCompile(t, decidePolicy, testEnv)
	tests := []struct {
		name string
		req  Request
		want Decision
	}{
		{"exact_host", Request{Name: "github.com", Port: 443, Proto: "tcp"}, Decision{Allow: true, Rule: "github.com"}},
		{"exact_host_any_port", Request{Name: "github.com", Port: 22, Proto: "tcp"}, Decision{Allow: true, Rule: "github.com"}},
		{"case_and_trailing_dot", Request{Name: "GitHub.COM.", Port: 443, Proto: "tcp"}, Decision{Allow: true, Rule: "github.com"}},
		{"subdomain_of_exact_not_allowed", Request{Name: "evil.github.com", Port: 443}, Decision{Reason: "not in policy"}},
		{"suffix_lookalike", Request{Name: "notgithub.com", Port: 443}, Decision{Reason: "not in policy"}},
		{"wildcard_subdomain", Request{Name: "a.b.example.com", Port: 80, Proto: "tcp"}, Decision{Allow: true, Rule: "*.example.com"}},
		{"wildcard_not_apex", Request{Name: "example.com", Port: 443}, Decision{Reason: "not in policy"}},
		{"exact_wins_first", Request{Name: "api.example.com", Port: 443}, Decision{Allow: true, Rule: "api.example.com:443"}},
		{"exact_port_miss_falls_to_wildcard", Request{Name: "api.example.com", Port: 80}, Decision{Allow: true, Rule: "*.example.com"}},
		{"port_mismatch", Request{Name: "only.example", Port: 443}, Decision{Reason: "port 443 not allowed for only.example (allowed: 8443)"}},
		{"wildcard_port_mismatch", Request{Name: "x.ports.example", Port: 80}, Decision{Reason: "port 80 not allowed for x.ports.example (allowed: 443)"}},
		{"dns_lookup_any_port", Request{Name: "only.example", Proto: "dns"}, Decision{Allow: true, Rule: "only.example:8443"}},
		{"dns_not_allowed", Request{Name: "c2.attacker.example", Proto: "dns"}, Decision{Reason: "not in policy"}},
		{"preset_npm", Request{Name: "npm.registry.example", Port: 443}, Decision{Allow: true, Rule: "npm"}},
		{"preset_npm_wrong_port", Request{Name: "npm.registry.example", Port: 8000}, Decision{Reason: "port 8000 not allowed for npm.registry.example (allowed: 443)"}},
		{"preset_npm_loopback_registry", Request{Addr: netip.MustParseAddr("127.0.0.1"), Port: 4873}, Decision{Allow: true, Rule: "npm"}},
		{"preset_go_proxy", Request{Name: "goproxy.example", Port: 443}, Decision{Allow: true, Rule: "go"}},
		{"preset_go_sumdb", Request{Name: "sumdb.example", Port: 443}, Decision{Allow: true, Rule: "go"}},
		{"preset_go_private_host", Request{Name: "git.corp.example", Port: 22}, Decision{Allow: true, Rule: "go"}},
		{"preset_go_private_wildcard", Request{Name: "x.private.example", Port: 443}, Decision{Allow: true, Rule: "go"}},
		{"preset_pypi_index_port", Request{Name: "pypi.mirror.example", Port: 8443}, Decision{Allow: true, Rule: "pypi"}},
		{"preset_pypi_files", Request{Name: "files.mirror.example", Port: 443}, Decision{Allow: true, Rule: "pypi"}},
		{"cidr_with_port", Request{Addr: netip.MustParseAddr("203.0.113.77"), Port: 443, Proto: "tcp"}, Decision{Allow: true, Rule: "203.0.113.0/24:443"}},
		{"cidr_wrong_port", Request{Addr: netip.MustParseAddr("203.0.113.77"), Port: 8000}, Decision{Reason: "port 8000 not allowed for 203.0.113.77 (allowed: 443)"}},
		{"single_ip_any_port", Request{Addr: netip.MustParseAddr("198.51.100.7"), Port: 9}, Decision{Allow: true, Rule: "198.51.100.7"}},
		{"ip_as_name", Request{Name: "198.51.100.7", Port: 9}, Decision{Allow: true, Rule: "198.51.100.7"}},
		{"mapped_ipv4", Request{Addr: netip.MustParseAddr("::ffff:198.51.100.7"), Port: 9}, Decision{Allow: true, Rule: "198.51.100.7"}},
		{"ipv6_cidr", Request{Addr: netip.MustParseAddr("2001:db8::5"), Port: 443}, Decision{Allow: true, Rule: "[2001:db8::]/32:443"}},
		{"literal_ip_not_allowed", Request{Addr: netip.MustParseAddr("192.0.2.1"), Port: 443}, Decision{Reason: "literal ip not in policy"}},
		{"cidr_never_matches_names", Request{Name: "host.in.cidr.example", Addr: netip.MustParseAddr("203.0.113.5"), Port: 443}, Decision{Reason: "not in policy"}},
		{"host_port", Request{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5432}, Decision{Allow: true, Rule: "host-ports: 5432"}},
		{"host_port_other_loopback", Request{Addr: netip.MustParseAddr("127.0.0.53"), Port: 5432}, Decision{Allow: true, Rule: "host-ports: 5432"}},
		{"loopback_not_listed", Request{Addr: netip.MustParseAddr("127.0.0.1"), Port: 6379}, Decision{Reason: "loopback port not in host-ports"}},
		{"loopback_ipv6", Request{Addr: netip.IPv6Loopback(), Port: 6379}, Decision{Reason: "loopback port not in host-ports"}},
		{"udp_never", Request{Addr: netip.MustParseAddr("198.51.100.7"), Port: 9, Proto: "udp"}, Decision{Reason: "protocol not proxied"}},
		{"no_destination", Request{Port: 443}, Decision{Reason: "no destination"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, p.Decide(tt.req)); diff != "" {
				t.Errorf("Decide(%+v) mismatch (-want +got):\n%s", tt.req, diff)
			}
		})
	}
}

func TestCompileAccessors(t *testing.T) {
	p := mustCompile(t, decidePolicy+"dns:\n  upstream: \"[::1]:5353\"\n", testEnv)
	if p.Mode() != ModeBlock {
		t.Errorf("Mode = %q", p.Mode())
	}
	if got := p.Upstream(); got != "[::1]:5353" {
		t.Errorf("Upstream = %q", got)
	}
	if diff := cmp.Diff([]uint16{4873, 5432}, p.HostPorts()); diff != "" {
		t.Errorf("HostPorts mismatch (-want +got):\n%s", diff)
	}
	wantExp := map[string][]string{
		"npm":  {"127.0.0.1:4873", "npm.registry.example:443"},
		"go":   {"*.private.example", "git.corp.example", "goproxy.example:443", "sumdb.example:443"},
		"pypi": {"files.mirror.example:443", "pypi.mirror.example:8443"},
	}
	if diff := cmp.Diff(wantExp, p.Expanded()); diff != "" {
		t.Errorf("Expanded mismatch (-want +got):\n%s", diff)
	}
	if len(p.Warnings()) != 0 {
		t.Errorf("Warnings = %q", p.Warnings())
	}
	if got := p.Spec().Allow[0]; got != "npm" {
		t.Errorf("Spec().Allow[0] = %q", got)
	}
}

func TestCompileDefaultsAndWarnings(t *testing.T) {
	p, err := Compile(&Spec{Allow: []string{"npm", "go", "pypi", "github"}}, Env{GoDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode() != ModeBlock {
		t.Errorf("empty mode compiles to %q, want block", p.Mode())
	}
	want := []string{
		"preset npm: no npm registry configured (is npm installed?)",
		"preset go: no GOPROXY configured (is go installed?)",
		`preset go: GOPROXY contains "direct": modules the proxy lacks are fetched from their source hosts, which must be allowed separately`,
		"preset pypi: no pip index configured (is pip installed?)",
	}
	if diff := cmp.Diff(want, p.Warnings()); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
	if d := p.Decide(Request{Name: "api.github.com", Port: 443}); !d.Allow || d.Rule != "github" {
		t.Errorf("github preset: %+v", d)
	}
	if d := p.Decide(Request{Name: "api.github.com", Port: 80}); d.Allow {
		t.Errorf("github preset allows port 80: %+v", d)
	}
	// GitHub Enterprise Server replaces the public hosts.
	p, err = Compile(&Spec{Allow: []string{"github"}}, Env{GitHubHosts: githubHosts("https://ghes.corp.example", "https://ghes.corp.example/api/v3")})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(Request{Name: "ghes.corp.example", Port: 22}); !d.Allow {
		t.Errorf("GHES ssh: %+v", d)
	}
	if d := p.Decide(Request{Name: "github.com", Port: 443}); d.Allow {
		t.Errorf("GHES policy allows public github.com: %+v", d)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"bad_mode", Spec{Mode: "open", File: "x.yml"}, `x.yml: mode: "open" is not audit or block`},
		{"bad_entry", Spec{Allow: []string{"ok.example", "a b"}}, `allow entry "a b": not a host, wildcard, CIDR or preset (write a host name, not a URL or path)`},
		{"zero_host_port", Spec{HostPorts: []uint16{0}}, `host-ports: port must be a number from 1 to 65535`},
		{"bad_upstream", Spec{DNS: DNSSpec{Upstream: "dns.example"}}, `dns upstream "dns.example": must be an IP address with an optional port, as in 127.0.0.53:53 (a resolver cannot be found by name)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(&tt.spec, Env{})
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *policy.Error", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	outputs := map[string]string{
		"go":      `{"GOPROXY":"https://goproxy.example|https://fallback.example,direct","GOSUMDB":"sum.corp.example+abc https://sum.corp.example:8443","GONOPROXY":"corp.example/*","GOPRIVATE":"corp.example/*,*.internal.example"}`,
		"python3": `{"index": ["https://pypi.mirror.example/simple"], "files": []}`,
	}
	var mu sync.Mutex
	var calls []string
	d := Detector{
		NPM: func(ctx context.Context, dir string) npmconfig.Registries {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("npm read without a timeout")
			}
			mu.Lock()
			calls = append(calls, "npm config")
			mu.Unlock()
			return npmconfig.Registries{Default: "https://npm.mirror.example/", Scopes: map[string]string{"@corp": "https://npm.corp.example/", "@a": "https://npm.corp.example/"}}
		},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("%s run without a timeout", name)
			}
			mu.Lock()
			calls = append(calls, name+" "+args[0])
			mu.Unlock()
			out, ok := outputs[name]
			if !ok {
				return nil, fmt.Errorf("%s: not installed", name)
			}
			return []byte(out), nil
		},
		Getenv: func(k string) string {
			return map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": "https://api.github.com"}[k]
		},
	}
	want := Env{
		NPMRegistries: []string{"https://npm.mirror.example/", "https://npm.corp.example/"},
		GoProxies:     []string{"https://goproxy.example", "https://fallback.example"},
		GoDirect:      true,
		GoSumDBs:      []string{"sum.corp.example+abc https://sum.corp.example:8443"},
		GoPrivate:     []string{"corp.example/*", "*.internal.example"},
		PipIndexes:    []string{"https://pypi.mirror.example/simple"},
		PipFileHosts:  []string{},
	}
	got := d.Detect(context.Background())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Detect mismatch (-want +got):\n%s", diff)
	}
	p, err := Compile(&Spec{Allow: []string{"go"}}, got)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(Request{Name: "sum.corp.example", Port: 8443}); !d.Allow {
		t.Errorf("sumdb URL from GOSUMDB not allowed: %+v", d)
	}
	slices.Sort(calls)
	if diff := cmp.Diff([]string{"go env", "npm config", "python3 -I"}, calls); diff != "" {
		t.Errorf("commands mismatch (-want +got):\n%s", diff)
	}

	// Only the presets asked for are detected.
	calls = nil
	d.Presets = (&Spec{Allow: []string{"github.com", "NPM", "github"}}).Presets()
	got = d.Detect(context.Background())
	if diff := cmp.Diff([]string{"npm config"}, calls); diff != "" {
		t.Errorf("commands for an npm-only policy (-want +got):\n%s", diff)
	}
	if len(got.NPMRegistries) != 2 || got.GoProxies != nil {
		t.Errorf("npm-only detection = %+v", got)
	}
	if diff := cmp.Diff(Env{}, DetectEnvFor(context.Background(), &Spec{Allow: []string{"a.example"}})); diff != "" {
		t.Errorf("DetectEnvFor without presets (-want +got):\n%s", diff)
	}

	// Nothing installed: an empty Env, no error.
	empty := Detector{
		Run:    func(context.Context, string, ...string) ([]byte, error) { return nil, errors.New("no") },
		NPM:    func(context.Context, string) npmconfig.Registries { return npmconfig.Registries{} },
		Getenv: func(string) string { return "" },
	}.Detect(context.Background())
	if diff := cmp.Diff(Env{}, empty); diff != "" {
		t.Errorf("Detect with no toolchains (-want +got):\n%s", diff)
	}
}

func BenchmarkDecide(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("allow:\n")
	for i := range 200 {
		fmt.Fprintf(&sb, "  - host%d.example.com:443\n  - \"*.zone%d.example\"\n", i, i)
	}
	sb.WriteString("  - 203.0.113.0/24:443\n")
	p := mustCompile(b, sb.String(), Env{})
	reqs := []Request{
		{Name: "host150.example.com", Port: 443, Proto: "tcp"},
		{Name: "a.b.c.zone77.example", Port: 443, Proto: "tcp"},
		{Name: "not.allowed.example.org", Port: 443, Proto: "tcp"},
		{Addr: netip.MustParseAddr("203.0.113.9"), Port: 443, Proto: "tcp"},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p.Decide(reqs[i%len(reqs)])
	}
}

// TestDetectReadsProjectNpmrc runs the real npm (when installed) in a
// directory whose .npmrc names a made-up registry: the npm preset must
// follow it. Nothing is fetched; npm only reads its configuration.
func TestDetectReadsProjectNpmrc(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".npmrc"), []byte("registry=https://npm.mirror.example/\n@corp:registry=https://npm.corp.example:8443/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Keep the machine's user and global npm configuration out of it.
	// (npm refuses one file for both.)
	for _, k := range []string{"NPM_CONFIG_USERCONFIG", "NPM_CONFIG_GLOBALCONFIG"} {
		empty := filepath.Join(t.TempDir(), "npmrc")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, empty)
	}
	env := Detector{Dir: dir, Timeout: time.Minute, Presets: []string{PresetNPM}}.Detect(context.Background())
	want := []string{"https://npm.mirror.example/", "https://npm.corp.example:8443/"}
	if diff := cmp.Diff(want, env.NPMRegistries); diff != "" {
		t.Errorf("NPMRegistries mismatch (-want +got):\n%s", diff)
	}
}

// FuzzDecide checks invariants of Decide on arbitrary names: case and one
// trailing dot never change the answer, a wildcard never allows its apex,
// and a denial always says why.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{"github.com", "a.b.example.com", "example.com", "203.0.113.9", "x.ports.example", "", "."} {
		f.Add(s, uint16(443))
	}
	p := mustCompile(f, decidePolicy, testEnv)
	f.Fuzz(func(t *testing.T, name string, port uint16) {
		if name == "" || strings.HasSuffix(name, ".") {
			return
		}
		d := p.Decide(Request{Name: name, Port: port, Proto: "tcp"})
		if d.Allow != (d.Reason == "") || d.Allow != (d.Rule != "") {
			t.Fatalf("Decide(%q) = %+v: allow, rule and reason disagree", name, d)
		}
		if up := p.Decide(Request{Name: strings.ToUpper(name), Port: port, Proto: "tcp"}); up.Allow != d.Allow || up.Rule != d.Rule {
			t.Fatalf("case changes the answer for %q: %+v vs %+v", name, d, up)
		}
		if dot := p.Decide(Request{Name: name + ".", Port: port, Proto: "tcp"}); dot != d {
			t.Fatalf("trailing dot changes the answer for %q: %+v vs %+v", name, d, dot)
		}
		if strings.EqualFold(name, "example.com") || strings.EqualFold(name, "ports.example") {
			if d.Allow {
				t.Fatalf("wildcard allowed its apex %q: %+v", name, d)
			}
		}
	})
}
