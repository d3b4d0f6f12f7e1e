package dnsproxy

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

type countSink struct{ n int }

func (c *countSink) Emit(event.Event) { c.n++ }

// FuzzHandlePacket feeds untrusted bytes to the query path the UDP and TCP
// servers use. Every packet must give exactly one event, never a panic, and
// any answer must be a DNS message.
func FuzzHandlePacket(f *testing.F) {
	for _, q := range []struct {
		name string
		t    uint16
	}{{"allowed.example.", dns.TypeA}, {"x.allowed.example.", dns.TypeTXT}, {"evil.example.", dns.TypeAAAA}, {"1.0.18.198.in-addr.arpa.", dns.TypePTR}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		m.SetEdns0(4096, true)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, pkt []byte, block bool) {
		mode := policy.ModeAudit
		if block {
			mode = policy.ModeBlock
		}
		pol, err := policy.Compile(&policy.Spec{Mode: mode, Allow: []string{"allowed.example", "*.allowed.example"}}, policy.Env{})
		if err != nil {
			t.Fatal(err)
		}
		sink := &countSink{}
		s, err := New(Config{
			Policy: pol,
			Sink:   sink,
			Exchange: func(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
				if len(m.Question) == 1 && m.Question[0].Name == "x.allowed.example." {
					r := new(dns.Msg)
					r.SetReply(m)
					rr, _ := dns.NewRR("x.allowed.example. 1 IN TXT hi")
					r.Answer = append(r.Answer, rr)
					return r, nil
				}
				return nil, errors.New("fake upstream: no answer")
			},
			Synthetic: netip.MustParsePrefix("198.18.0.0/29"),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, proto := range []string{"udp", "tcp"} {
			before := sink.n
			resp := s.handlePacket(context.Background(), proto, netip.MustParseAddrPort("127.0.0.1:5353"), pkt)
			if sink.n != before+1 {
				t.Fatalf("%s: %d events for one packet, want 1", proto, sink.n-before)
			}
			if resp == nil {
				continue
			}
			var m dns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("%s: answer does not unpack: %v", proto, err)
			}
			if !m.Response {
				t.Fatalf("%s: answer without the response bit", proto)
			}
			if proto == "udp" && len(resp) > 4096 {
				t.Fatalf("udp answer of %d bytes", len(resp))
			}
		}
	})
}
