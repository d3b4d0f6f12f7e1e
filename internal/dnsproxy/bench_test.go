package dnsproxy

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// BenchmarkHandlePacket measures the in-process cost of one allowed A
// query: decode, decide, tunnelling check, synthetic answer, encode, event.
func BenchmarkHandlePacket(b *testing.B) {
	pol, err := policy.Compile(&policy.Spec{Allow: []string{"registry.example", "*.example.com"}}, policy.Env{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Policy: pol, Sink: event.Discard, Upstream: "127.0.0.1:53"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := new(dns.Msg)
	m.SetQuestion("registry.example.", dns.TypeA)
	pkt, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	b.ReportAllocs()
	for b.Loop() {
		if s.handlePacket(context.Background(), "udp", src, pkt) == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkUDPQuery measures one allowed A query round trip over a real
// UDP socket on loopback (what a build's resolver pays per lookup).
func BenchmarkUDPQuery(b *testing.B) {
	pol, err := policy.Compile(&policy.Spec{Allow: []string{"registry.example"}}, policy.Env{})
	if err != nil {
		b.Fatal(err)
	}
	h := newBenchServer(b, pol)
	c := &dns.Client{Net: "udp"}
	conn, err := c.Dial(h)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("registry.example.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.ExchangeWithConn(m, conn); err != nil {
			b.Fatal(err)
		}
	}
}

// newBenchServer serves pol on a UDP socket on 127.0.0.1 and returns its
// address. Its events are discarded.
func newBenchServer(b *testing.B, pol *policy.Policy) string {
	b.Helper()
	s, err := New(Config{Policy: pol, Sink: event.Discard, Upstream: "127.0.0.1:53"})
	if err != nil {
		b.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.ServeUDP(pc)
	b.Cleanup(func() { s.Close() })
	return pc.LocalAddr().String()
}
