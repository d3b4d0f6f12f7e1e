package policy

import (
	"strings"
	"testing"
)

func TestTCPEntries(t *testing.T) {
	spec, err := Parse("p.yml", []byte("mode: block\nallow: [registry.example]\ntcp:\n  - db.example.com:5432\n  - '*.corp.example:22'\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(spec, Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		port uint16
		rule string
	}{
		{"db.example.com", 5432, "tcp: db.example.com:5432"},
		{"DB.example.com.", 5432, "tcp: db.example.com:5432"},
		{"db.example.com", 5433, ""},
		{"git.corp.example", 22, "tcp: *.corp.example:22"},
		{"corp.example", 22, ""},
		{"registry.example", 443, ""},
	} {
		rule, ok := p.OpaqueTCP(tc.name, tc.port)
		if rule != tc.rule || ok != (tc.rule != "") {
			t.Errorf("OpaqueTCP(%s, %d) = %q, %v; want %q", tc.name, tc.port, rule, ok, tc.rule)
		}
	}
	// A tcp: entry allows its destination, for DNS and the connection.
	if d := p.Decide(Request{Name: "db.example.com", Proto: "dns"}); !d.Allow {
		t.Errorf("DNS for a tcp: entry refused: %+v", d)
	}
	if d := p.Decide(Request{Name: "db.example.com", Port: 5432, Proto: "tcp"}); !d.Allow || d.Rule != "tcp: db.example.com:5432" {
		t.Errorf("connection for a tcp: entry: %+v", d)
	}
	if d := p.Decide(Request{Name: "db.example.com", Port: 80, Proto: "tcp"}); d.Allow {
		t.Errorf("another port of a tcp: entry allowed: %+v", d)
	}
	if got := p.Spec().TCP; len(got) != 2 {
		t.Errorf("Spec().TCP = %q", got)
	}
}

func TestTCPEntryErrors(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"tcp: [db.example.com]", "p.yml:1:7: tcp entry \"db.example.com\": a tcp entry needs a port"},
		{"tcp: [10.0.0.0/8:5432]", "p.yml:1:7: tcp entry \"10.0.0.0/8:5432\": a tcp entry is a host or wildcard with a port"},
		{"tcp: [npm]", "p.yml:1:7: tcp entry \"npm\": a tcp entry is a host or wildcard"},
		{"tcp: db.example.com:5432", "p.yml:1:6: tcp: expected a list of host:port entries"},
		{"tcp: [\"http://x:1\"]", "p.yml:1:7: tcp entry \"http://x:1\": not a host"},
	} {
		_, err := Parse("p.yml", []byte(tc.yml))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q...", tc.yml, err, tc.want)
		}
	}
}
