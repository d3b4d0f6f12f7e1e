package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Spec
	}{
		{
			name: "full_run_section",
			in: `scan:
  fail-on: high
run:
  mode: block
  allow:
    - npm
    - GitHub.com.
    - "*.example.com"
    - api.example.com:443
    - 203.0.113.0/24:443
    - 198.51.100.7
    - "[2001:db8::]/32:443"
  host-ports: [5432, 6379]
  unix-sockets: [/run/postgresql/.s.PGSQL.5432]
  dns:
    upstream: 127.0.0.53
`,
			want: &Spec{
				Mode:        ModeBlock,
				Allow:       []string{"npm", "GitHub.com.", "*.example.com", "api.example.com:443", "203.0.113.0/24:443", "198.51.100.7", "[2001:db8::]/32:443"},
				HostPorts:   []uint16{5432, 6379},
				UnixSockets: []string{"/run/postgresql/.s.PGSQL.5432"},
				DNS:         DNSSpec{Upstream: "127.0.0.53:53"},
				File:        "buildwall.yml",
			},
		},
		{
			name: "bare_mapping",
			in:   "mode: audit\nallow: []\n",
			want: &Spec{Mode: ModeAudit, Allow: []string{}, File: "buildwall.yml"},
		},
		{
			name: "empty_values",
			in:   "run:\n  mode: block\n  allow:\n  host-ports:\n  dns:\n",
			want: &Spec{Mode: ModeBlock, Allow: []string{}, File: "buildwall.yml"},
		},
		{
			name: "anchors_resolve",
			in:   "hosts: &h [a.example]\nrun:\n  allow: *h\n",
			want: &Spec{Allow: []string{"a.example"}, File: "buildwall.yml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("buildwall.yml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(Spec{})); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `p.yml: empty policy: expected a mapping with mode and allow`},
		{"bad_yaml", "run: [", `p.yml: parse yaml: line 1: did not find expected node content`},
		{"no_run_section", "scan:\n  fail-on: high\n", `p.yml:1:1: no run: section (the egress policy goes under run:)`},
		{"not_a_mapping", "run: npm\n", `p.yml:1:6: run policy: expected a mapping with mode and allow, got "npm"`},
		{"unknown_key", "run:\n  mode: block\n  alow: [npm]\n", `p.yml:3:3: unknown key "alow"; did you mean "allow"? (want mode, allow, tcp, host-ports, unix-sockets, git-writable or dns)`},
		{"unknown_key_far", "run:\n  egress: [npm]\n", `p.yml:2:3: unknown key "egress" (want mode, allow, tcp, host-ports, unix-sockets, git-writable or dns)`},
		{"unknown_dns_key", "run:\n  dns:\n    upstrem: 127.0.0.1\n", `p.yml:3:5: dns: unknown key "upstrem"; did you mean "upstream"? (want upstream or tunnel-limit)`},
		{"misspelt_preset", "run:\n  allow: [nmp]\n", `p.yml:2:11: allow entry "nmp" is not a preset; did you mean "npm"? (presets: npm, go, pypi, github)`},
		{"misspelt_preset_github", "run:\n  allow:\n    - gihtub\n", `p.yml:3:7: allow entry "gihtub" is not a preset; did you mean "github"? (presets: npm, go, pypi, github)`},
		{"duplicate_key", "mode: block\nmode: audit\n", `p.yml:2:1: duplicate key "mode"`},
		{"bad_mode", "mode: enforce\n", `p.yml:1:7: mode: "enforce" is not audit or block`},
		{"mode_list", "mode: [block]\n", `p.yml:1:7: mode: expected a string, got a list`},
		{"allow_string", "allow: npm\n", `p.yml:1:8: allow: expected a list of hosts, wildcards, CIDRs or presets, got "npm"`},
		{"allow_mapping_item", "allow:\n  - host: x\n", `p.yml:2:5: allow entry: expected a string, got a mapping`},
		{"allow_null_item", "allow:\n  -\n", `p.yml:2:4: allow entry: expected a string, got nothing`},
		{"url", "allow:\n  - https://registry.example/\n", `p.yml:2:5: allow entry "https://registry.example/": not a host, wildcard, CIDR or preset (write a host name, not a URL or path)`},
		{"path", "allow:\n  - github.com/org\n", `p.yml:2:5: allow entry "github.com/org": not a host, wildcard, CIDR or preset (write a host name, not a URL or path)`},
		{"mid_wildcard", "allow:\n  - a.*.example\n", `p.yml:2:5: allow entry "a.*.example": a wildcard is allowed only as the whole first label, as in "*.example.com"`},
		{"bare_star", "allow:\n  - \"*\"\n", `p.yml:2:5: allow entry "*": a wildcard is allowed only as the whole first label, as in "*.example.com"`},
		{"bad_port", "allow:\n  - a.example:0\n", `p.yml:2:5: allow entry "a.example:0": port must be a number from 1 to 65535`},
		{"big_port", "allow:\n  - a.example:70000\n", `p.yml:2:5: allow entry "a.example:70000": port must be a number from 1 to 65535`},
		{"host_bits", "allow:\n  - 10.1.2.3/8\n", `p.yml:2:5: allow entry "10.1.2.3/8": CIDR has host bits set (did you mean 10.0.0.0/8?)`},
		{"loopback_cidr", "allow:\n  - 127.0.0.1:5432\n", `p.yml:2:5: allow entry "127.0.0.1:5432": covers loopback addresses: list the runner's loopback services under host-ports`},
		{"everything_cidr", "allow:\n  - 0.0.0.0/0\n", `p.yml:2:5: allow entry "0.0.0.0/0": covers loopback addresses: list the runner's loopback services under host-ports`},
		{"ipv6_unbracketed_port", "allow:\n  - 2001:db8::1:443:x\n", `p.yml:2:5: allow entry "2001:db8::1:443:x": not a host, wildcard, CIDR or preset (write IPv6 addresses as [addr]:port or addr/len)`},
		{"unicode", "allow:\n  - bücher.example\n", `p.yml:2:5: allow entry "bücher.example": non-ASCII host name: write it in punycode (xn--...)`},
		{"long_label", "allow:\n  - " + strings.Repeat("a", 64) + ".example\n", `p.yml:2:5: allow entry "` + strings.Repeat("a", 64) + `.example": host name label longer than 63 bytes`},
		{"space", "allow:\n  - \"a.example \"\n", `p.yml:2:5: allow entry "a.example ": leading or trailing space`},
		{"host_port_text", "host-ports: [db]\n", `p.yml:1:14: host-ports entry "db": port must be a number from 1 to 65535`},
		{"host_ports_scalar", "host-ports: 5432\n", `p.yml:1:13: host-ports: expected a list of port numbers, got "5432"`},
		{"unix_sockets_scalar", "unix-sockets: /run/x.sock\n", `p.yml:1:15: unix-sockets: expected a list of socket paths under /run or /var/run, got "/run/x.sock"`},
		{"unix_sockets_relative", "unix-sockets:\n  - run/x.sock\n", `p.yml:2:5: unix-sockets entry "run/x.sock": want an absolute path without . or .. elements`},
		{"unix_sockets_dotdot", "unix-sockets: [/run/../home/x.sock]\n", `p.yml:1:16: unix-sockets entry "/run/../home/x.sock": want an absolute path without . or .. elements`},
		{"unix_sockets_elsewhere", "unix-sockets: [/tmp/x.sock]\n", `p.yml:1:16: unix-sockets entry "/tmp/x.sock": only sockets under /run and /var/run are hidden; other paths need no entry`},
		{"git_writable_string", "git-writable: \"yes\"\n", `p.yml:1:15: git-writable: expected true or false, got "yes"`},
		{"git_writable_list", "git-writable: [true]\n", `p.yml:1:15: git-writable: expected true or false, got a list`},
		{"unix_sockets_map", "unix-sockets: [{a: b}]\n", `p.yml:1:16: unix-sockets entry: expected a string, got a mapping`},
		{"dns_unknown", "dns:\n  server: 1.1.1.1\n", `p.yml:2:3: dns: unknown key "server" (want upstream or tunnel-limit)`},
		{"dns_tunnel_limit_word", "dns:\n  tunnel-limit: lots\n", `p.yml:2:17: dns tunnel-limit "lots": must be a number of bytes per minute from 256 to 1048576`},
		{"dns_tunnel_limit_small", "dns:\n  upstream: 1.1.1.1\n  tunnel-limit: 10\n", `p.yml:3:17: dns tunnel-limit "10": must be a number of bytes per minute from 256 to 1048576`},
		{"dns_tunnel_limit_list", "dns:\n  tunnel-limit: [1]\n", `p.yml:2:17: dns tunnel-limit: expected a string, got a list`},
		{"dns_name", "dns:\n  upstream: resolver.example:53\n", `p.yml:2:13: dns upstream "resolver.example:53": must be an IP address with an optional port, as in 127.0.0.53:53 (a resolver cannot be found by name)`},
		{
			"all_errors_reported",
			"mode: x\nallow:\n  - ok.example\n  - bad..example\nfoo: 1\n",
			"p.yml:1:7: mode: \"x\" is not audit or block\np.yml:4:5: allow entry \"bad..example\": empty label in host name\np.yml:5:1: unknown key \"foo\" (want mode, allow, tcp, host-ports, unix-sockets, git-writable or dns)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yml", []byte(tt.in))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yml")
	if err := os.WriteFile(path, []byte("allow: [a.example]\nmode: audit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Mode != ModeAudit {
		t.Errorf("got %+v", s)
	}
	_, err = ParseFile(filepath.Join(t.TempDir(), "missing.yml"))
	if err == nil || !strings.HasPrefix(err.Error(), "read policy: ") {
		t.Errorf("err = %v, want read policy: ...", err)
	}
}

func TestParseNode(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("run:\n  mode: audit\n  allow:\n    - x..y\n"), &doc); err != nil {
		t.Fatal(err)
	}
	runNode := doc.Content[0].Content[1]
	_, err := ParseNode("buildwall.yml", runNode)
	want := `buildwall.yml:4:7: allow entry "x..y": empty label in host name`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("run:\n  mode: block\n  allow: [npm, \"*.example.com:443\", 203.0.113.0/24:443]\n  host-ports: [5432]\n"))
	f.Add([]byte("allow:\n  - \"[2001:db8::]/32:443\"\n  - 198.51.100.7:22\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yml", data)
		if err != nil {
			return
		}
		// Whatever parses must compile, and Decide must not panic.
		p, err := Compile(s, Env{})
		if err != nil {
			t.Fatalf("Compile of a parsed spec failed: %v", err)
		}
		for _, e := range s.Allow {
			p.Decide(Request{Name: e, Port: 443, Proto: "tcp"})
		}
	})
}
