package dnsproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestResolutionLimits: answers pointing into the runner's surroundings are
// dropped by Resolve and refused by CheckDialAddr, unless a CIDR allow
// entry lists them.
func TestResolutionLimits(t *testing.T) {
	answers := map[string][]string{
		"meta.example":    {"169.254.169.254"},
		"meta6.example":   {"fd00:ec2::254"},
		"ll.example":      {"169.254.10.1"},
		"ll6.example":     {"fe80::1"},
		"rfc1918.example": {"10.0.0.5"},
		"corp.example":    {"10.1.2.3"}, // allowed by 10.1.0.0/16
		"cgnat.example":   {"100.64.0.9"},
		"ula.example":     {"fd12:3456::1"},
		"lo.example":      {"127.0.0.1"},
		"nat64.example":   {"64:ff9b::a9fe:a9fe"},
		"zero.example":    {"0.0.0.0"},
		"mixed.example":   {"192.168.1.1", "192.0.2.44"},
		"public.example":  {"192.0.2.45"},
	}
	spec := policy.Spec{Allow: []string{"*.example", "10.1.0.0/16:5432"}}
	pol, err := policy.Compile(&spec, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Policy: pol, Sink: event.Discard, Exchange: func(_ context.Context, m *dns.Msg) (*dns.Msg, error) {
		r := new(dns.Msg)
		r.SetReply(m)
		q := m.Question[0]
		for _, a := range answers[strings.TrimSuffix(q.Name, ".")] {
			ip := net.ParseIP(a)
			hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 60}
			switch {
			case q.Qtype == dns.TypeA && ip.To4() != nil:
				hdr.Rrtype = dns.TypeA
				r.Answer = append(r.Answer, &dns.A{Hdr: hdr, A: ip})
			case q.Qtype == dns.TypeAAAA && ip.To4() == nil:
				hdr.Rrtype = dns.TypeAAAA
				r.Answer = append(r.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
			}
		}
		return r, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		want   string // the one address Resolve returns; "" none
		reason string // the refusal reason when none
	}{
		{"meta.example", "", "metadata answer"},
		{"meta6.example", "", "metadata answer"},
		{"ll.example", "", "link-local answer"},
		{"ll6.example", "", "link-local answer"},
		{"rfc1918.example", "", "private answer"},
		{"corp.example", "10.1.2.3", ""},
		{"cgnat.example", "", "private answer"},
		{"ula.example", "", "private answer"},
		{"lo.example", "", "loopback answer"},
		{"nat64.example", "", "metadata answer"},
		{"zero.example", "", "unspecified answer"},
		{"mixed.example", "192.0.2.44", ""},
		{"public.example", "192.0.2.45", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := srv.Resolve(context.Background(), tc.name)
			if tc.want != "" {
				if err != nil || len(got) != 1 || got[0].String() != tc.want {
					t.Errorf("Resolve = %v, %v; want [%s]", got, err, tc.want)
				}
				return
			}
			var ae *AnswerError
			if !errors.Is(err, ErrAnswerRefused) || !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), tc.reason+": ") {
				t.Errorf("Resolve = %v, %v; want an answer refused with %q", got, err, tc.reason)
			}
			// The dial-time check says the same about the address.
			a := netip.MustParseAddr(answers[tc.name][0])
			if err := srv.CheckDialAddr(tc.name, a); !errors.Is(err, ErrAnswerRefused) || !strings.HasPrefix(err.Error(), tc.reason) {
				t.Errorf("CheckDialAddr(%s) = %v, want %q", a, err, tc.reason)
			}
		})
	}
	for _, tc := range []struct {
		addr   string
		reason string // "" allowed
	}{
		{"169.254.169.254", "metadata address"},
		{"fd00:ec2::254", "metadata address"},
		{"168.63.129.16", "metadata address"},
		{"::ffff:168.63.129.16", "metadata address"},
		{"100.100.100.200", "metadata address"},
		{"192.0.0.192", "metadata address"},
		{"64:ff9b::a9fe:a9fe", "metadata address"},
		{"169.254.1.1", "link-local address"},
		{"10.0.0.1", ""}, // literal private addresses are the policy's to decide
		{"10.1.2.3", ""},
		{"192.0.2.1", ""},
	} {
		err := srv.CheckLiteralAddr(netip.MustParseAddr(tc.addr))
		if tc.reason == "" && err != nil || tc.reason != "" && (!errors.Is(err, ErrAnswerRefused) || !strings.Contains(err.Error(), tc.reason)) {
			t.Errorf("CheckLiteralAddr(%s) = %v, want %q", tc.addr, err, tc.reason)
		}
	}
	if err := srv.CheckDialAddr("x.example", srv.Synthetic().Addr().Next()); !errors.Is(err, ErrAnswerRefused) {
		t.Errorf("CheckDialAddr of a synthetic address = %v, want refused", err)
	}
}
