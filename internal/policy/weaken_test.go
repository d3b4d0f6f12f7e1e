package policy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const trustedRun = `mode: block
allow:
  - npm
  - "*.corp.example:443"
  - api.example.com:443
  - files.example.com
  - 203.0.113.0/24:443
tcp: [db.corp.example:5432]
host-ports: [5432]
unix-sockets: [/run/postgresql/.s.PGSQL.5432]
dns:
  upstream: 127.0.0.53
  tunnel-limit: 2048
`

func compileText(t *testing.T, text string, env Env) *Policy {
	t.Helper()
	s, err := Parse("buildwall.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, env)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWeakenings(t *testing.T) {
	trustedEnv := Env{NPMRegistries: []string{"https://npm.corp.example/"}}
	tests := []struct {
		name   string
		branch string
		env    Env // the branch's; trustedEnv when zero
		want   []string
	}{
		{"same", trustedRun, Env{}, nil},
		{"narrower", "allow: [api.example.com:443, x.corp.example:443]\ndns:\n  tunnel-limit: 1024\n", Env{}, nil},
		{"covered_by_wildcard", strings.Replace(trustedRun, "  - npm\n", "  - a.b.corp.example:443\n  - \"*.b.corp.example:443\"\n", 1), Env{}, nil},
		{"host_in_cidr", strings.Replace(trustedRun, "  - npm\n", "  - 203.0.113.9:443\n  - 203.0.113.128/25:443\n", 1), Env{}, nil},
		{"git_writable", trustedRun + "git-writable: true\n", Env{}, []string{"git-writable: true makes the git directory writable"}},
		{"git_not_writable", trustedRun + "git-writable: false\n", Env{}, nil},
		{"wildcard_added", strings.Replace(trustedRun, "  - npm\n", "  - \"*.attacker.example\"\n", 1), Env{},
			[]string{"allow adds *.attacker.example"}},
		{"parent_wildcard", strings.Replace(trustedRun, "*.corp.example:443", "*.example:443", 1), Env{},
			[]string{"allow adds *.example:443"}},
		{"port_dropped", strings.Replace(trustedRun, "api.example.com:443", "api.example.com", 1), Env{},
			[]string{"allow adds api.example.com"}},
		{"other_port", strings.Replace(trustedRun, "api.example.com:443", "api.example.com:22", 1), Env{},
			[]string{"allow adds api.example.com:22"}},
		{"wider_cidr", strings.Replace(trustedRun, "203.0.113.0/24:443", "203.0.0.0/16:443", 1), Env{},
			[]string{"allow adds 203.0.0.0/16:443"}},
		{"cidr_any_port", strings.Replace(trustedRun, "203.0.113.0/24:443", "203.0.113.0/24", 1), Env{},
			[]string{"allow adds 203.0.113.0/24"}},
		{"audit", strings.Replace(trustedRun, "mode: block", "mode: audit", 1), Env{},
			[]string{"mode: audit replaces block"}},
		{"tcp_added", strings.Replace(trustedRun, "tcp: [db.corp.example:5432]", "tcp: [db.corp.example:5432, exfil.attacker.example:443]", 1), Env{},
			[]string{"tcp: exfil.attacker.example:443 adds opaque TCP"}},
		{"allow_moved_to_tcp", strings.Replace(trustedRun, "tcp: [db.corp.example:5432]", "tcp: [db.corp.example:5432, api.example.com:443]", 1), Env{},
			[]string{"tcp: api.example.com:443 adds opaque TCP"}},
		{"host_port", strings.Replace(trustedRun, "[5432]", "[5432, 2375]", 1), Env{},
			[]string{"host-ports adds 2375"}},
		{"unix_socket", strings.Replace(trustedRun, "unix-sockets: [/run/postgresql/.s.PGSQL.5432]", "unix-sockets: [/run/postgresql/.s.PGSQL.5432, /run/docker.sock]", 1), Env{},
			[]string{"unix-sockets adds /run/docker.sock"}},
		{"upstream", strings.Replace(trustedRun, "127.0.0.53", "198.51.100.53", 1), Env{},
			[]string{"dns.upstream 198.51.100.53:53 replaces 127.0.0.53:53"}},
		{"tunnel_limit", strings.Replace(trustedRun, "tunnel-limit: 2048", "tunnel-limit: 65536", 1), Env{},
			[]string{"dns.tunnel-limit 65536 is higher than 2048"}},
		{"tunnel_limit_default", strings.Replace(trustedRun, "  tunnel-limit: 2048\n", "", 1), Env{},
			[]string{"dns.tunnel-limit 4096 is higher than 2048"}},
		{"npmrc_registry", trustedRun, Env{NPMRegistries: []string{"https://npm.corp.example/", "https://npm.attacker.example/"}},
			[]string{"preset npm reaches npm.attacker.example:443"}},
		{"npmrc_loopback", trustedRun, Env{NPMRegistries: []string{"http://127.0.0.1:2375/"}},
			[]string{"preset npm reaches the runner's loopback port 2375"}},
		{"everything", "mode: audit\nallow: [\"*.attacker.example\"]\ntcp: [\"*.attacker.example:22\"]\n", Env{},
			[]string{"mode: audit replaces block", "allow adds *.attacker.example", "tcp: *.attacker.example:22 adds opaque TCP", "dns.tunnel-limit 4096 is higher than 2048"}},
	}
	trusted := compileText(t, trustedRun, trustedEnv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env.NPMRegistries == nil {
				env = trustedEnv
			}
			got := Weakenings(trusted, compileText(t, tt.branch, env))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Weakenings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWeakeningsNoTrustedPolicy: without a trusted policy the run audits
// everything; a branch may make that stricter, but each thing it allows
// would otherwise have been flagged.
func TestWeakeningsNoTrustedPolicy(t *testing.T) {
	trusted, err := Compile(&Spec{Mode: ModeAudit}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Weakenings(trusted, compileText(t, "mode: block\nallow: []\n", Env{})); got != nil {
		t.Errorf("an empty block policy weakens nothing, got %q", got)
	}
	got := Weakenings(trusted, compileText(t, "mode: block\nallow: [a.example:443]\nunix-sockets: [/run/docker.sock]\n", Env{}))
	if diff := cmp.Diff([]string{"allow adds a.example:443", "unix-sockets adds /run/docker.sock"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWithWarnings(t *testing.T) {
	p := compileText(t, "allow: [npm]\n", Env{})
	q := p.WithWarnings("policy weakened by the branch: x")
	if len(p.Warnings()) != 1 || len(q.Warnings()) != 2 || q.Warnings()[1] != "policy weakened by the branch: x" {
		t.Errorf("p %q, q %q", p.Warnings(), q.Warnings())
	}
	if q.Decide(Request{Name: "a.example", Port: 443, Proto: "tcp"}).Allow {
		t.Error("copy allows what p does not")
	}
}

// TestWeakeningsCoversEverySetting fails when Spec or DNSSpec gains a
// setting: Weakenings must learn whether changing it lets more through
// before a pull request can use it.
func TestWeakeningsCoversEverySetting(t *testing.T) {
	fields := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				out = append(out, f.Name)
			}
		}
		return out
	}
	// File names where the Spec came from; it allows nothing.
	if diff := cmp.Diff([]string{"Mode", "Allow", "HostPorts", "TCP", "DNS", "UnixSockets", "GitWritable", "File"}, fields(reflect.TypeFor[Spec]())); diff != "" {
		t.Errorf("Spec fields changed; teach Weakenings about them, then update this list (-compared +fields):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Upstream", "TunnelLimit"}, fields(reflect.TypeFor[DNSSpec]())); diff != "" {
		t.Errorf("DNSSpec fields changed; teach Weakenings about them (-compared +fields):\n%s", diff)
	}
}
