package policy

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzWeakeningsSound: when Weakenings finds nothing, the branch policy
// allows no request the trusted one refuses (names, literal addresses,
// loopback ports, opaque TCP).
func FuzzWeakeningsSound(f *testing.F) {
	f.Add("a.example:443\n*.corp.example", "x.a.example:443\nb.corp.example", "b.corp.example", uint16(443))
	f.Add("*.example", "*.a.example:22", "x.a.example", uint16(22))
	f.Add("203.0.113.0/24:443", "203.0.113.7:443\n203.0.113.128/25", "203.0.113.200", uint16(80))
	f.Add("api.example.com", "API.example.com.:8443", "api.example.com", uint16(8443))
	f.Add("tcp:db.example:5432", "tcp:db.example:5432\ndb.example", "db.example", uint16(5432))
	f.Add("hp:5432", "hp:5432\nhp:6379", "127.0.0.1", uint16(6379))
	f.Fuzz(func(t *testing.T, trustedLines, branchLines, dest string, port uint16) {
		trusted, ok1 := fuzzPolicy(trustedLines)
		branch, ok2 := fuzzPolicy(branchLines)
		if !ok1 || !ok2 || len(Weakenings(trusted, branch)) > 0 {
			return
		}
		reqs := []Request{{Name: dest, Port: port, Proto: "tcp"}, {Name: dest, Proto: "dns"}}
		if a, err := netip.ParseAddr(dest); err == nil {
			reqs = append(reqs, Request{Addr: a, Port: port, Proto: "tcp"})
			if _, ok := branch.CIDRAllows(a); ok {
				if _, ok := trusted.CIDRAllows(a); !ok {
					t.Fatalf("CIDRAllows(%s): branch yes, trusted no", a)
				}
			}
		}
		for _, r := range reqs {
			if branch.Decide(r).Allow && !trusted.Decide(r).Allow {
				t.Fatalf("%+v: allowed by the branch, not by the trusted policy, yet no weakening", r)
			}
		}
		if _, ok := branch.OpaqueTCP(dest, port); ok {
			if _, ok := trusted.OpaqueTCP(dest, port); !ok {
				t.Fatalf("OpaqueTCP(%s, %d): branch yes, trusted no", dest, port)
			}
		}
	})
}

// fuzzPolicy builds a block policy from lines: "tcp:ENTRY", "hp:PORT" or an
// allow entry (presets are skipped: they expand to nothing here).
func fuzzPolicy(lines string) (*Policy, bool) {
	s := &Spec{Mode: ModeBlock, Allow: []string{}}
	for line := range strings.SplitSeq(lines, "\n") {
		switch {
		case strings.HasPrefix(line, "tcp:"):
			s.TCP = append(s.TCP, strings.TrimPrefix(line, "tcp:"))
		case strings.HasPrefix(line, "hp:"):
			p, err := parsePort(strings.TrimPrefix(line, "hp:"))
			if err != nil {
				return nil, false
			}
			s.HostPorts = append(s.HostPorts, p)
		case line == "" || isPreset(strings.ToLower(line)):
		default:
			s.Allow = append(s.Allow, line)
		}
	}
	p, err := Compile(s, Env{})
	return p, err == nil
}
