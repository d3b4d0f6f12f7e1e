package dnsproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// fakeUpstream is a DNS server on 127.0.0.1 with made-up zone data. It
// records every name it was asked about.
type fakeUpstream struct {
	addr string

	mu    sync.Mutex
	asked []string
}

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(f.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return f
}

func (f *fakeUpstream) serve(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	f.mu.Lock()
	f.asked = append(f.asked, strings.TrimSuffix(q.Name, ".")+"/"+dns.TypeToString[q.Qtype])
	f.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err) // test data
		}
		return r
	}
	switch q.Name {
	case "real.example.":
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, rr("real.example. 30 IN A 192.0.2.10"), rr("real.example. 30 IN A 198.18.0.9"))
		case dns.TypeAAAA:
			m.Answer = append(m.Answer, rr("real.example. 30 IN AAAA 2001:db8::10"))
		}
	case "loop.example.":
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, rr("loop.example. 30 IN A 127.0.0.1"))
		}
	case "txt.allowed.example.":
		m.Answer = append(m.Answer, rr(`txt.allowed.example. 30 IN TXT "v=ok"`), rr("txt.allowed.example. 30 IN A 192.0.2.11"))
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (f *fakeUpstream) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

type harness struct {
	srv  *Server
	rec  *event.Recorder
	up   *fakeUpstream
	udp  string
	tcp  string
	done chan error
}

func newHarness(t *testing.T, mode policy.Mode, mod func(*Config)) *harness {
	t.Helper()
	spec := &policy.Spec{Mode: mode, Allow: []string{"allowed.example", "*.allowed.example", "real.example", "loop.example"}}
	pol, err := policy.Compile(spec, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t)
	rec := event.NewRecorder(nil, nil)
	c := Config{
		Policy:   pol,
		Upstream: up.addr,
		Sink:     rec,
		Attribute: func(proto string, src netip.AddrPort) (int, string) {
			if !src.Addr().IsLoopback() {
				return 0, ""
			}
			return 4242, "node postinstall.js " + proto
		},
	}
	if mod != nil {
		mod(&c)
	}
	srv, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: srv, rec: rec, up: up, udp: pc.LocalAddr().String(), tcp: l.Addr().String(), done: make(chan error, 2)}
	go func() { h.done <- srv.ServeUDP(pc) }()
	go func() { h.done <- srv.ServeTCP(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for range 2 {
			if err := <-h.done; err != nil {
				t.Errorf("Serve returned %v after Close, want nil", err)
			}
		}
	})
	return h
}

func (h *harness) ask(t *testing.T, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	addr := h.udp
	if network == "tcp" {
		addr = h.tcp
	}
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("ask %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

// answers renders the answer section compactly.
func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

var ignoreTime = cmpopts.IgnoreFields(event.Event{}, "Time")

func TestServerBlockMode(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, nil)
	longLabel := strings.Repeat("a1b2", 15) // 60 bytes
	tests := []struct {
		name      string
		network   string
		qname     string
		qtype     uint16
		wantRcode int
		wantAns   []string
		wantEvent event.Event
	}{
		{
			name: "allowed_a_synthetic", network: "udp", qname: "allowed.example", qtype: dns.TypeA,
			wantAns:   []string{"allowed.example. 5 IN A 198.18.0.1"},
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "allowed.example", QType: "A", IP: "198.18.0.1", Rule: "allowed.example", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "same_name_same_address_over_tcp", network: "tcp", qname: "Allowed.Example", qtype: dns.TypeA,
			wantAns:   []string{"Allowed.Example. 5 IN A 198.18.0.1"},
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "tcp", Name: "allowed.example", QType: "A", IP: "198.18.0.1", Rule: "allowed.example", PID: 4242, Cmdline: "node postinstall.js tcp"},
		},
		{
			name: "wildcard_gets_next_address", network: "udp", qname: "cdn.allowed.example", qtype: dns.TypeA,
			wantAns:   []string{"cdn.allowed.example. 5 IN A 198.18.0.2"},
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "cdn.allowed.example", QType: "A", IP: "198.18.0.2", Rule: "*.allowed.example", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "not_allowed_nxdomain", network: "udp", qname: "c2.attacker.example", qtype: dns.TypeA, wantRcode: dns.RcodeNameError,
			wantEvent: event.Event{Kind: "dns", Verdict: "block", Proto: "udp", Name: "c2.attacker.example", QType: "A", Reason: "not in policy", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "not_allowed_over_tcp", network: "tcp", qname: "c2.attacker.example", qtype: dns.TypeTXT, wantRcode: dns.RcodeNameError,
			wantEvent: event.Event{Kind: "dns", Verdict: "block", Proto: "tcp", Name: "c2.attacker.example", QType: "TXT", Reason: "not in policy", PID: 4242, Cmdline: "node postinstall.js tcp"},
		},
		{
			name: "aaaa_empty", network: "udp", qname: "allowed.example", qtype: dns.TypeAAAA,
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "allowed.example", QType: "AAAA", Rule: "allowed.example", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "https_empty", network: "udp", qname: "allowed.example", qtype: dns.TypeHTTPS,
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "allowed.example", QType: "HTTPS", Rule: "allowed.example", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "txt_forwarded_addresses_stripped", network: "udp", qname: "txt.allowed.example", qtype: dns.TypeTXT,
			wantAns:   []string{`txt.allowed.example. 30 IN TXT "v=ok"`},
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "txt.allowed.example", QType: "TXT", Rule: "*.allowed.example", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "long_label_under_allowed_domain_blocked", network: "udp", qname: longLabel + ".allowed.example", qtype: dns.TypeA, wantRcode: dns.RcodeNameError,
			wantEvent: event.Event{Kind: "dns", Verdict: "block", Proto: "udp", Name: longLabel + ".allowed.example", QType: "A", Rule: "*.allowed.example", Reason: "dns tunnelling suspected: label of 60 bytes", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
		{
			name: "ptr_of_synthetic", network: "udp", qname: "1.0.18.198.in-addr.arpa", qtype: dns.TypePTR,
			wantAns:   []string{"1.0.18.198.in-addr.arpa. 5 IN PTR allowed.example."},
			wantEvent: event.Event{Kind: "dns", Verdict: "allow", Proto: "udp", Name: "1.0.18.198.in-addr.arpa", QType: "PTR", Rule: "synthetic address", PID: 4242, Cmdline: "node postinstall.js udp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.rec.Events())
			r := h.ask(t, tt.network, tt.qname, tt.qtype)
			if r.Rcode != tt.wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.wantRcode])
			}
			if diff := cmp.Diff(tt.wantAns, answers(r)); diff != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", diff)
			}
			evs := h.rec.Events()[before:]
			if len(evs) != 1 {
				t.Fatalf("%d events for one query, want exactly 1: %+v", len(evs), evs)
			}
			got := evs[0]
			if diff := cmp.Diff(tt.wantEvent, got, ignoreTime); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			if got.Time.IsZero() {
				t.Error("event has no time")
			}
		})
	}
	// Refused names never left the machine; allowed A/AAAA/HTTPS were
	// answered locally; only the TXT query was forwarded.
	if diff := cmp.Diff([]string{"txt.allowed.example/TXT"}, h.up.names()); diff != "" {
		t.Errorf("queries seen upstream (-want +got):\n%s", diff)
	}
	if n, ok := h.srv.NameFor(netip.MustParseAddr("198.18.0.2")); !ok || n != "cdn.allowed.example" {
		t.Errorf("NameFor(198.18.0.2) = %q, %v", n, ok)
	}
	if _, ok := h.srv.NameFor(netip.MustParseAddr("198.18.0.99")); ok {
		t.Error("NameFor of an address never handed out succeeded")
	}
}

func TestServerAuditMode(t *testing.T) {
	h := newHarness(t, policy.ModeAudit, func(c *Config) { c.Attribute = nil })
	r := h.ask(t, "udp", "c2.attacker.example", dns.TypeA)
	if diff := cmp.Diff([]string{"c2.attacker.example. 5 IN A 198.18.0.1"}, answers(r)); diff != "" {
		t.Errorf("answer mismatch (-want +got):\n%s", diff)
	}
	want := []event.Event{{Kind: "dns", Verdict: "audit", Proto: "udp", Name: "c2.attacker.example", QType: "A", IP: "198.18.0.1", Reason: "not in policy"}}
	if diff := cmp.Diff(want, h.rec.Events(), ignoreTime); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if len(h.up.names()) != 0 {
		t.Errorf("audit-mode A query went upstream: %q", h.up.names())
	}
	// A long label is let through in audit mode, flagged.
	long := strings.Repeat("x", 55) + ".allowed.example"
	if r := h.ask(t, "udp", long, dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("audit mode refused a long label: %v", r)
	}
	last := h.rec.Events()[1]
	if last.Verdict != event.VerdictAudit || last.Reason != "dns tunnelling suspected: label of 55 bytes" {
		t.Errorf("long label event = %+v", last)
	}
}

func TestServerFanOutFlagged(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, func(c *Config) { c.TunnelUniqueNames = 5 })
	for i := range 7 {
		h.ask(t, "udp", string(rune('a'+i))+".allowed.example", dns.TypeA)
	}
	evs := h.rec.Events()
	for i, e := range evs {
		flagged := strings.Contains(e.Reason, "unique names under allowed.example")
		if want := i >= 5; flagged != want {
			t.Errorf("query %d: flagged=%v, want %v (reason %q)", i, flagged, want, e.Reason)
		}
		if e.Verdict != event.VerdictAllow {
			t.Errorf("query %d: fan-out alone changed the verdict of an allowed name to %s", i, e.Verdict)
		}
	}
}

func TestServerRefusesOddQueries(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, func(c *Config) { c.Attribute = nil })
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}

	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	r, _, err := c.Exchange(chaos, h.udp)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS rcode = %s", dns.RcodeToString[r.Rcode])
	}

	update := new(dns.Msg)
	update.SetUpdate("allowed.example.")
	if r, _, err = c.Exchange(update, h.udp); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE rcode = %s", dns.RcodeToString[r.Rcode])
	}

	// Raw garbage with a header: FORMERR to its id. Shorter: no answer.
	conn, err := net.Dial("udp", h.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	garbage := append([]byte{0xab, 0xcd}, []byte("\x01\x00\x00\x05\x00\x00\x00\x00\x00\x00zzzz")...)
	if _, err := conn.Write(garbage); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var fr dns.Msg
	if err := fr.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if fr.Id != 0xabcd || fr.Rcode != dns.RcodeFormatError {
		t.Errorf("garbage answered with id %x rcode %s", fr.Id, dns.RcodeToString[fr.Rcode])
	}
	if _, err := conn.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	// A following good query still works, and proves the short packet was
	// handled (UDP from one socket is read in order).
	h.ask(t, "udp", "allowed.example", dns.TypeA)

	var reasons []string
	for _, e := range h.rec.Events() {
		reasons = append(reasons, string(e.Verdict)+": "+e.Reason)
	}
	want := []string{
		"block: dns class CH not served",
		"block: unsupported dns opcode UPDATE",
		"block: malformed dns query",
		"block: malformed dns query",
		"allow: ",
	}
	if diff := cmp.Diff(want, reasons, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestPoolExhaustion(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, func(c *Config) { c.Synthetic = netip.MustParsePrefix("198.18.0.0/30") })
	for _, n := range []string{"a.allowed.example", "b.allowed.example"} {
		if r := h.ask(t, "udp", n, dns.TypeA); len(r.Answer) != 1 {
			t.Fatalf("%s: %v", n, r)
		}
	}
	r := h.ask(t, "udp", "c.allowed.example", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	e := h.rec.Events()[2]
	if e.Verdict != event.VerdictBlock || e.Reason != "synthetic address pool exhausted" {
		t.Errorf("event = %+v", e)
	}
	// Known names keep their address.
	if r := h.ask(t, "udp", "a.allowed.example", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("known name refused after exhaustion: %v", r)
	}
}

func TestResolve(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, nil)
	ctx := context.Background()
	got, err := h.srv.Resolve(ctx, "Real.Example.")
	if err != nil {
		t.Fatal(err)
	}
	// The synthetic-range address in the upstream answer is dropped.
	want := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
	}
	asked := len(h.up.names())
	if _, err := h.srv.Resolve(ctx, "real.example"); err != nil {
		t.Fatal(err)
	}
	if len(h.up.names()) != asked {
		t.Errorf("second Resolve within the TTL asked upstream again")
	}
	if _, err := h.srv.Resolve(ctx, "loop.example"); !errors.Is(err, ErrAnswerRefused) || !strings.Contains(err.Error(), "loopback answer") {
		t.Errorf("Resolve of a loopback-only name: err = %v, want ErrAnswerRefused (loopback answer)", err)
	}
	if _, err := h.srv.Resolve(ctx, "missing.example"); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Errorf("Resolve of a missing name: err = %v", err)
	}

	h2 := newHarness(t, policy.ModeBlock, func(c *Config) { c.AllowLoopbackAnswers = true })
	got, err = h2.srv.Resolve(ctx, "loop.example")
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Resolve with AllowLoopbackAnswers = %v, %v", got, err)
	}
}

func TestNewErrors(t *testing.T) {
	pol, err := policy.Compile(&policy.Spec{}, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"no_policy", Config{Sink: event.Discard, Upstream: "127.0.0.1:53"}, "new dns server: no policy"},
		{"no_sink", Config{Policy: pol, Upstream: "127.0.0.1:53"}, "new dns server: no event sink"},
		{"no_upstream", Config{Policy: pol, Sink: event.Discard}, "new dns server: no upstream resolver"},
		{"bad_upstream", Config{Policy: pol, Sink: event.Discard, Upstream: "resolver"}, `new dns server: upstream "resolver" is not ip:port`},
		{"ipv6_synthetic", Config{Policy: pol, Sink: event.Discard, Upstream: "127.0.0.1:53", Synthetic: netip.MustParsePrefix("fd00::/64")}, "new dns server: synthetic range fd00::/64 must be IPv4 with at least 4 addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestServerRefusesEscapedNames: a label holding a dot ("x\.allowed.example"
// is the labels "x.allowed" and "example"), a NUL or a space never matches
// the policy by its text, is never forwarded, and is recorded as blocked.
func TestServerRefusesEscapedNames(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, nil)
	names := []string{`x\.allowed.example`, `evil\.test\.allowed.example`, `x\000.allowed.example`, `x\032y.allowed.example`}
	for _, n := range names {
		for _, qt := range []uint16{dns.TypeA, dns.TypeTXT} {
			if r := h.ask(t, "udp", n, qt); r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
				t.Errorf("%s %s: rcode %s answers %v, want NXDOMAIN", n, dns.TypeToString[qt], dns.RcodeToString[r.Rcode], answers(r))
			}
		}
	}
	h.ask(t, "udp", "Sub.Allowed.Example", dns.TypeTXT) // 0x20 case mixing still resolves
	if diff := cmp.Diff([]string{"Sub.Allowed.Example/TXT"}, h.up.names()); diff != "" {
		t.Errorf("upstream queries (-want +got):\n%s", diff)
	}
	blocked := 0
	for _, e := range h.rec.Events() {
		if e.Verdict == event.VerdictBlock && e.Reason == invalidNameReason {
			blocked++
		}
	}
	if blocked != 2*len(names) {
		t.Errorf("%d blocked events with reason %q, want %d", blocked, invalidNameReason, 2*len(names))
	}
}
