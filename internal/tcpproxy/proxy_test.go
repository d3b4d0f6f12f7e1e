package tcpproxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"net"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// testNames are the synthetic addresses the fake DNS server handed out.
var testNames = map[string]string{
	"198.18.0.1": "registry.example",
	"198.18.0.2": "evil.example",
	"198.18.0.3": "a.cdn.example",
}

func testSpec(mode policy.Mode) policy.Spec {
	return policy.Spec{
		Mode:      mode,
		Allow:     []string{"registry.example:443", "*.cdn.example", "203.0.113.0/24:443"},
		TCP:       []string{"*.cdn.example:7000"},
		HostPorts: []uint16{5432},
	}
}

const opaqueReason = "opaque tcp not allowed: the opening is neither a tls client hello nor an http/1.x request (list the destination under tcp: to allow it)"

func httpGet(host string) []byte {
	return []byte("GET /left-pad HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: npm\r\n\r\n")
}

func TestDecisions(t *testing.T) {
	hello := func(sni string) []byte {
		return captureClientHello(t, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	}
	connect := func(v event.Verdict, name, ip string, port uint16) event.Event {
		return event.Event{Time: testTime, Kind: event.KindConnect, Verdict: v, Proto: "tcp",
			Name: name, IP: ip, Port: port, PID: 4242, Cmdline: "node postinstall.js tcp"}
	}
	with := func(e event.Event, f func(*event.Event)) event.Event { f(&e); return e }
	tests := []struct {
		name     string
		mode     policy.Mode
		dst      string
		send     []byte
		want     event.Event
		wantDial []string // nil: the proxy must refuse with a reset
		tweak    func(*Config)
	}{
		{
			name: "allowed_name_with_matching_sni", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: hello("registry.example"),
			want: with(connect(event.VerdictAllow, "registry.example", "127.0.0.1", 443), func(e *event.Event) {
				e.SNI, e.Rule = "registry.example", "registry.example:443"
			}),
			wantDial: []string{"registry.example:443"},
		},
		{
			name: "allowed_name_with_matching_host", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: httpGet("Registry.Example:443"),
			want: with(connect(event.VerdictAllow, "registry.example", "127.0.0.1", 443), func(e *event.Event) {
				e.Host, e.Rule = "registry.example", "registry.example:443"
			}),
			wantDial: []string{"registry.example:443"},
		},
		{
			name: "wildcard_name_unknown_protocol", mode: policy.ModeBlock,
			dst: "198.18.0.3:9000", send: []byte("\x00\x01binary"),
			want: with(connect(event.VerdictBlock, "a.cdn.example", "198.18.0.3", 9000), func(e *event.Event) {
				e.Rule, e.Reason = "*.cdn.example", opaqueReason
			}),
		},
		{
			name: "opaque_tcp_opted_in", mode: policy.ModeBlock,
			dst: "198.18.0.3:7000", send: []byte("\x00\x01binary"),
			want: with(connect(event.VerdictAllow, "a.cdn.example", "127.0.0.1", 7000), func(e *event.Event) {
				e.Rule = "tcp: *.cdn.example:7000"
			}),
			wantDial: []string{"a.cdn.example:7000"},
		},
		{
			name: "audit_records_opaque_tcp", mode: policy.ModeAudit,
			dst: "198.18.0.3:9000", send: []byte("\x00\x01binary"),
			want: with(connect(event.VerdictAudit, "a.cdn.example", "127.0.0.1", 9000), func(e *event.Event) {
				e.Rule, e.Reason = "*.cdn.example", opaqueReason
			}),
			wantDial: []string{"a.cdn.example:9000"},
		},
		{
			name: "tls_without_sni", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: buildHello(),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule = "registry.example:443"
				e.Reason = `no sni: the client hello names no server on a connection to "registry.example"`
			}),
		},
		{
			name: "absolute_form_naming_another_host", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte("GET http://evil.example/x HTTP/1.1\r\nHost: registry.example\r\n\r\n"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule, e.Host = "registry.example:443", "evil.example"
				e.Reason = `absolute-form mismatch: target "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "connect_through_an_allowed_proxy", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte("CONNECT evil.example:443 HTTP/1.1\r\nHost: registry.example\r\n\r\n"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule, e.Host = "registry.example:443", "evil.example"
				e.Reason = `connect mismatch: CONNECT "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "lower_case_method_is_verified", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte("get / HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule, e.Host = "registry.example:443", "evil.example"
				e.Reason = `host mismatch: host "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "leading_crlf_is_verified", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte("\r\nGET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule, e.Host = "registry.example:443", "evil.example"
				e.Reason = `host mismatch: host "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "pipelined_second_request", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: append(httpGet("registry.example"), httpGet("evil.example")...),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule, e.Host = "registry.example:443", "evil.example"
				e.Reason = `second request host mismatch: request 2: host mismatch: host "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "h2c_prior_knowledge", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule = "registry.example:443"
				e.Reason = "h2c: an http/2 cleartext connection's streams are not verified"
			}),
		},
		{
			name: "name_not_in_policy", mode: policy.ModeBlock,
			dst: "198.18.0.2:443", send: hello("evil.example"),
			want: with(connect(event.VerdictBlock, "evil.example", "198.18.0.2", 443), func(e *event.Event) {
				e.SNI, e.Reason = "evil.example", policy.ReasonNotInPolicy
			}),
		},
		{
			name: "forged_sni_naming_another_host", mode: policy.ModeBlock,
			dst: "198.18.0.3:443", send: hello("b.cdn.example"),
			want: with(connect(event.VerdictBlock, "a.cdn.example", "198.18.0.3", 443), func(e *event.Event) {
				e.SNI, e.Rule = "b.cdn.example", "*.cdn.example"
				e.Reason = `sni mismatch: sni "b.cdn.example" on a connection to "a.cdn.example"`
			}),
		},
		{
			name: "allowed_sni_on_a_blocked_name", mode: policy.ModeBlock,
			dst: "198.18.0.2:443", send: hello("registry.example"),
			want: with(connect(event.VerdictBlock, "evil.example", "198.18.0.2", 443), func(e *event.Event) {
				e.SNI = "registry.example"
				e.Reason = policy.ReasonNotInPolicy + `; sni mismatch: sni "registry.example" on a connection to "evil.example"`
			}),
		},
		{
			name: "host_header_differs_from_name", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: httpGet("evil.example"),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Host, e.Rule = "evil.example", "registry.example:443"
				e.Reason = `host mismatch: host "evil.example" on a connection to "registry.example"`
			}),
		},
		{
			name: "malformed_client_hello", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: []byte{0x16, 3, 1, 0, 4, 2, 0, 0, 0},
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.Rule = "registry.example:443"
				e.Reason = "cannot verify the server name: malformed client hello: tls: first handshake message is not a client hello"
			}),
		},
		{
			name: "ech_is_refused", mode: policy.ModeBlock,
			dst: "198.18.0.1:443", send: buildHello(sniExt(0, "registry.example"), ext{extEncryptedClientHelo, []byte{0}}),
			want: with(connect(event.VerdictBlock, "registry.example", "198.18.0.1", 443), func(e *event.Event) {
				e.SNI, e.Rule = "registry.example", "registry.example:443"
				e.Reason = "ech: the real server name is encrypted"
			}),
		},
		{
			name: "literal_ip", mode: policy.ModeBlock,
			dst: "192.0.2.10:443", send: hello("registry.example"),
			want: with(connect(event.VerdictBlock, "", "192.0.2.10", 443), func(e *event.Event) {
				e.SNI, e.Reason = "registry.example", policy.ReasonIPLiteral
			}),
		},
		{
			name: "unknown_synthetic_address_is_a_literal_ip", mode: policy.ModeBlock,
			dst: "198.18.9.9:443", send: []byte("\x01x"),
			want: with(connect(event.VerdictBlock, "", "198.18.9.9", 443), func(e *event.Event) {
				e.Reason = policy.ReasonIPLiteral
			}),
		},
		{
			name: "unknown_synthetic_address_refused_even_in_audit", mode: policy.ModeAudit,
			dst: "198.18.9.9:443", send: []byte("\x01x"),
			tweak: func(c *Config) { c.Synthetic = netip.MustParsePrefix("198.18.0.0/15") },
			want: with(connect(event.VerdictBlock, "", "198.18.9.9", 443), func(e *event.Event) {
				e.Reason = "synthetic address not handed out by the dns server"
			}),
		},
		{
			name: "literal_ip_allowed_by_cidr", mode: policy.ModeBlock,
			dst: "203.0.113.9:443", send: hello("anything.example"),
			// Nothing to verify against: relayed without sniffing.
			want: with(connect(event.VerdictAllow, "", "203.0.113.9", 443), func(e *event.Event) {
				e.Rule = "203.0.113.0/24:443"
			}),
			wantDial: []string{"203.0.113.9:443"},
		},
		{
			name: "runner_loopback_in_host_ports", mode: policy.ModeBlock,
			dst: "127.0.0.1:5432", send: []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"),
			want: with(connect(event.VerdictAllow, "", "127.0.0.1", 5432), func(e *event.Event) {
				e.Rule = "host-ports: 5432"
			}),
			wantDial: []string{"127.0.0.1:5432"},
		},
		{
			name: "runner_loopback_not_in_host_ports", mode: policy.ModeBlock,
			dst: "127.0.0.1:6379", send: []byte("PING\r\n"),
			want: with(connect(event.VerdictBlock, "", "127.0.0.1", 6379), func(e *event.Event) {
				e.Reason = policy.ReasonLoopback
			}),
		},
		{
			name: "audit_lets_a_name_not_in_policy_through", mode: policy.ModeAudit,
			dst: "198.18.0.2:443", send: hello("evil.example"),
			want: with(connect(event.VerdictAudit, "evil.example", "127.0.0.1", 443), func(e *event.Event) {
				e.SNI, e.Reason = "evil.example", policy.ReasonNotInPolicy
			}),
			wantDial: []string{"evil.example:443"},
		},
		{
			name: "audit_records_a_forged_sni", mode: policy.ModeAudit,
			dst: "198.18.0.1:443", send: hello("evil.example"),
			want: with(connect(event.VerdictAudit, "registry.example", "127.0.0.1", 443), func(e *event.Event) {
				e.SNI, e.Rule = "evil.example", "registry.example:443"
				e.Reason = `sni mismatch: sni "evil.example" on a connection to "registry.example"`
			}),
			wantDial: []string{"registry.example:443"},
		},
		{
			name: "audit_lets_a_literal_ip_through", mode: policy.ModeAudit,
			dst: "192.0.2.10:8000", send: []byte("\x01"),
			want: with(connect(event.VerdictAudit, "", "192.0.2.10", 8000), func(e *event.Event) {
				e.Reason = policy.ReasonIPLiteral
			}),
			wantDial: []string{"192.0.2.10:8000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			h := newHarness(t, harnessOptions{spec: testSpec(tt.mode), upstream: up.addr, names: testNames, tweak: tt.tweak})
			c := h.connect(tt.dst)
			_, werr := c.Write(tt.send)
			got := make([]byte, len(tt.send))
			_, rerr := io.ReadFull(c, got)
			if tt.wantDial == nil {
				if werr == nil && !errors.Is(rerr, syscall.ECONNRESET) {
					t.Errorf("client read: %v, want a connection reset", rerr)
				}
			} else {
				if rerr != nil {
					t.Fatalf("client read through the proxy: %v", rerr)
				}
				if !bytes.Equal(got, tt.send) {
					t.Errorf("echo through the proxy differs: got %q, want %q", got, tt.send)
				}
			}
			evs := h.waitEvents(1)
			if diff := cmp.Diff([]event.Event{tt.want}, evs); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			dialed := h.dialedTargets()
			if tt.wantDial != nil {
				if diff := cmp.Diff(tt.wantDial, dialed); diff != "" {
					t.Errorf("dialled (-want +got):\n%s", diff)
				}
				return
			}
			// A refused connection may have been dialled while the
			// proxy waited for the client's first bytes, but not a
			// byte of it may reach the upstream.
			if len(dialed) > 1 {
				t.Errorf("dialled %q, want at most one early dial", dialed)
			}
			if err := h.proxy.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := up.received(); n != 0 {
				t.Errorf("upstream received %d bytes of a refused connection (dialled %q)", n, dialed)
			}
		})
	}
}

// TestDialWhileSniffing covers a client that sends its first bytes only
// after the proxy has started dialling: the dial runs while the proxy
// waits, an allowed connection then relays, and a refused one is reset
// without a byte reaching the upstream.
func TestDialWhileSniffing(t *testing.T) {
	hello := func(sni string) []byte {
		return captureClientHello(t, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	}
	tests := []struct {
		name    string
		send    []byte
		refused bool
	}{
		{name: "matching_sni", send: hello("registry.example")},
		{name: "forged_sni", send: hello("evil.example"), refused: true},
		{name: "host_mismatch", send: []byte("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"), refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newCountingUpstream(t)
			h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up.addr, names: testNames})
			c := h.connect("198.18.0.1:443")
			// The proxy finds nothing to read and dials meanwhile.
			deadline := time.Now().Add(10 * time.Second)
			for len(h.dialedTargets()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the proxy did not dial while waiting for the client's first bytes")
				}
				time.Sleep(time.Millisecond)
			}
			_, werr := c.Write(tt.send)
			got := make([]byte, len(tt.send))
			_, rerr := io.ReadFull(c, got)
			evs := h.waitEvents(1)
			if len(evs) != 1 {
				t.Fatalf("events = %+v, want one", evs)
			}
			if diff := cmp.Diff([]string{"registry.example:443"}, h.dialedTargets()); diff != "" {
				t.Errorf("dialled (-want +got):\n%s", diff)
			}
			if !tt.refused {
				if rerr != nil || !bytes.Equal(got, tt.send) {
					t.Errorf("echo through the proxy: %q, %v; want %q", got, rerr, tt.send)
				}
				if evs[0].Verdict != event.VerdictAllow {
					t.Errorf("verdict %q, want allow (reason %q)", evs[0].Verdict, evs[0].Reason)
				}
				return
			}
			if werr == nil && !errors.Is(rerr, syscall.ECONNRESET) {
				t.Errorf("client read: %v, want a connection reset", rerr)
			}
			if evs[0].Verdict != event.VerdictBlock {
				t.Errorf("verdict %q, want block (reason %q)", evs[0].Verdict, evs[0].Reason)
			}
			if err := h.proxy.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := up.received(); n != 0 {
				t.Errorf("upstream received %d bytes of a refused connection", n)
			}
		})
	}
}

// TestServerSpeaksFirst: a protocol whose server greets first reaches a
// name only when the policy opts it in to opaque TCP; otherwise the proxy
// waits for an opening and refuses after OpeningTimeout.
func TestServerSpeaksFirst(t *testing.T) {
	banner := "220 smtp.registry.example ESMTP\r\n"
	up := serveLoopback(t, func(c net.Conn) {
		io.WriteString(c, banner)
		echo(c)
	})
	t.Run("opted_in", func(t *testing.T) {
		h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
			tweak: func(c *Config) { c.PeekTimeout = time.Hour; c.OpeningTimeout = time.Hour }})
		c := h.connect("198.18.0.3:7000")
		got := make([]byte, len(banner))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("read banner: %v", err)
		}
		if string(got) != banner {
			t.Errorf("banner = %q", got)
		}
		evs := h.waitEvents(1)
		if len(evs) != 1 || evs[0].Verdict != event.VerdictAllow || evs[0].Rule != "tcp: *.cdn.example:7000" {
			t.Errorf("events = %+v, want one allow by the tcp: entry", evs)
		}
	})
	t.Run("not_opted_in", func(t *testing.T) {
		h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
			tweak: func(c *Config) { c.PeekTimeout = time.Millisecond; c.OpeningTimeout = 300 * time.Millisecond }})
		c := h.connect("198.18.0.1:443")
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); len(b) != 0 || !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read %q, %v; want nothing and a reset", b, err)
		}
		evs := h.waitEvents(1)
		if len(evs) != 1 || evs[0].Verdict != event.VerdictBlock || !strings.HasPrefix(evs[0].Reason, "opening timeout") {
			t.Errorf("events = %+v, want one block with reason opening timeout", evs)
		}
	})
}

func TestOriginalDstFailureIsBlocked(t *testing.T) {
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeAudit), upstream: "127.0.0.1:1"})
	// The source address is not registered. The reset may come so fast
	// that it fails the dial itself.
	c, err := net.Dial("tcp", h.ln.Addr().String())
	if err == nil {
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("dial or read: %v, want a connection reset", err)
	}
	evs := h.waitEvents(1)
	if len(evs) != 1 || evs[0].Verdict != event.VerdictBlock || !strings.HasPrefix(evs[0].Reason, "no original destination") {
		t.Errorf("events = %+v", evs)
	}
	if d := h.dialedTargets(); len(d) != 0 {
		t.Errorf("dialled %v", d)
	}
}

func TestDialFailureResetsClient(t *testing.T) {
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), names: testNames})
	c := h.connect("198.18.0.1:443")
	c.Write(httpGet("registry.example"))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read: %v, want a connection reset", err)
	}
	evs := h.waitEvents(1)
	want := `upstream unreachable: no upstream in this test`
	if len(evs) != 1 || evs[0].Verdict != event.VerdictAllow || evs[0].Reason != want {
		t.Errorf("events = %+v, want reason %q", evs, want)
	}
}

func TestNewChecksConfig(t *testing.T) {
	pol, err := policy.Compile(&policy.Spec{}, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dial: (&net.Dialer{}).DialContext}); err == nil {
		t.Error("New without policy: no error")
	}
	if _, err := New(Config{Policy: pol}); err == nil {
		t.Error("New without dialer: no error")
	}
}

func TestOneEventPerConnection(t *testing.T) {
	up := serveLoopback(t, echo)
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames})
	const n = 40
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		dst := "198.18.0.1:443" // allowed
		if i%2 == 1 {
			dst = "198.18.0.2:443" // not in policy
		}
		conns[i] = h.connect(dst)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(httpGet("registry.example"))
			c.CloseWrite()
			io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	if err := h.proxy.Close(); err != nil {
		t.Fatal(err)
	}
	counts := map[event.Verdict]int{}
	for _, e := range h.rec.Events() {
		counts[e.Verdict]++
	}
	want := map[event.Verdict]int{event.VerdictAllow: n / 2, event.VerdictBlock: n / 2}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// An allowed connection's answer waits for attribution (so a client that
// closes as soon as it has its answer is still named), but only for
// AttributionGrace; with a negative grace it does not wait at all.
func TestAllowedAnswerWaitsForAttributionAtMostGrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		held  bool // the answer is held while attribution runs
	}{
		{"waits_for_attribution", time.Hour, true},
		{"grace_runs_out", 10 * time.Millisecond, false},
		{"no_grace", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := serveLoopback(t, echo)
			release := make(chan struct{})
			type call struct{ src, dst netip.AddrPort }
			calls := make(chan call, 1)
			h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
				tweak: func(c *Config) {
					c.AttributionGrace = tc.grace
					c.Attribute = func(string, netip.AddrPort) (int, string) {
						t.Error("Attribute called although AttributeConn is set")
						return 0, ""
					}
					c.AttributeConn = func(src, dst netip.AddrPort) (int, string) {
						calls <- call{src, dst}
						<-release
						return 7, "curl"
					}
				}})
			c := h.connect("198.18.0.1:443")
			req := httpGet("registry.example")
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			cl := <-calls
			if want := netip.MustParseAddrPort("198.18.0.1:443"); cl.dst != want || cl.src != c.LocalAddr().(*net.TCPAddr).AddrPort() {
				t.Errorf("AttributeConn(%v, %v), want the client's address and %v", cl.src, cl.dst, want)
			}
			got := make([]byte, len(req))
			if tc.held {
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if n, err := c.Read(got); err == nil {
					t.Fatalf("read %q while attribution runs, want nothing yet", got[:n])
				}
				c.SetReadDeadline(time.Time{})
				close(release)
			}
			// Stuck attribution or not, the answer comes.
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read the answer: %v", err)
			}
			if !tc.held {
				if evs := h.rec.Events(); len(evs) != 0 {
					t.Errorf("events before attribution finished = %+v, want none", evs)
				}
				close(release)
			}
			evs := h.waitEvents(1)
			if len(evs) != 1 || evs[0].PID != 7 || evs[0].Cmdline != "curl" || evs[0].Verdict != event.VerdictAllow {
				t.Errorf("events = %+v, want one allowed with pid 7", evs)
			}
		})
	}
}

func TestRefusedAnswerWaitsForAttribution(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeBlock, policy.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			up := serveLoopback(t, echo)
			release := make(chan struct{})
			h := newHarness(t, harnessOptions{spec: testSpec(mode), upstream: up, names: testNames,
				tweak: func(c *Config) {
					c.AttributeConn = func(src, dst netip.AddrPort) (int, string) {
						<-release
						return 7, "node postinstall.js"
					}
				}})
			c := h.connect("198.18.0.2:443") // evil.example: not allowed
			if _, err := c.Write(httpGet("evil.example")); err != nil {
				t.Fatal(err)
			}
			// While attribution runs, neither the reset (block) nor the
			// answer (audit) reaches the client: a client with its
			// answer may close the socket attribution looks for.
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read before attribution finished: n=%d err=%v, want a timeout", n, err)
			}
			close(release)
			c.SetReadDeadline(time.Time{})
			_, err := c.Read(make([]byte, 1))
			if mode == policy.ModeBlock && err == nil {
				t.Error("refused connection got data, want a reset")
			}
			if mode == policy.ModeAudit && err != nil {
				t.Errorf("audited connection: %v, want the answer", err)
			}
			evs := h.waitEvents(1)
			if len(evs) != 1 || evs[0].PID != 7 || evs[0].Cmdline != "node postinstall.js" {
				t.Errorf("events = %+v, want one with pid 7", evs)
			}
		})
	}
}

func TestHostPortServerSpeaksFirstIsNotDelayed(t *testing.T) {
	// A database greets first. With a peek timeout longer than the test
	// could wait, the greeting arrives only if the proxy does not sniff
	// allowed host-port connections.
	greeting := "J\x00\x00\x00\x0a8.0.36\x00"
	up := serveLoopback(t, func(c net.Conn) {
		io.WriteString(c, greeting)
		echo(c)
	})
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up,
		tweak: func(c *Config) { c.PeekTimeout = time.Hour }})
	c := h.connect("127.0.0.1:5432")
	got := make([]byte, len(greeting))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != greeting {
		t.Errorf("greeting = %q", got)
	}
}

// TestAttributionWorkers makes sequential connections through one proxy,
// so attribution workers are reused, and checks that every event names the
// process of its own connection.
func TestAttributionWorkers(t *testing.T) {
	up := serveLoopback(t, echo)
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
		tweak: func(c *Config) {
			c.Attribute = func(_ string, src netip.AddrPort) (int, string) {
				return int(src.Port()), fmt.Sprintf("client %d", src.Port())
			}
		}})
	const n = 20
	var want []int
	send := httpGet("registry.example")
	for range n {
		c := h.connect("198.18.0.1:443")
		want = append(want, c.LocalAddr().(*net.TCPAddr).Port)
		if _, err := c.Write(send); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(send))); err != nil {
			t.Fatalf("echo through the proxy: %v", err)
		}
		c.Close()
	}
	evs := h.waitEvents(n)
	var got []int
	for _, e := range evs {
		if e.Cmdline != fmt.Sprintf("client %d", e.PID) {
			t.Errorf("event pid %d with cmdline %q", e.PID, e.Cmdline)
		}
		got = append(got, e.PID)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributed pids (-want +got):\n%s", diff)
	}
}

// AttributeConnNow answers inline when it can; when it has no answer the
// usual lookup runs.
func TestAttributeConnNow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		now      bool
		wantPID  int
		wantLine string
	}{
		{"answered_inline", true, 9, "npm install"},
		{"no_answer", false, 7, "curl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := serveLoopback(t, echo)
			h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
				tweak: func(c *Config) {
					c.AttributeConnNow = func(src, dst netip.AddrPort) (int, string, bool) {
						if want := netip.MustParseAddrPort("198.18.0.1:443"); dst != want {
							t.Errorf("AttributeConnNow(%v, %v), want destination %v", src, dst, want)
						}
						return 9, "npm install", tc.now
					}
					c.AttributeConn = func(src, dst netip.AddrPort) (int, string) {
						if tc.now {
							t.Error("AttributeConn called although AttributeConnNow answered")
						}
						return 7, "curl"
					}
				}})
			h.echoThrough("198.18.0.1:443")
			evs := h.waitEvents(1)
			if len(evs) != 1 || evs[0].PID != tc.wantPID || evs[0].Cmdline != tc.wantLine {
				t.Errorf("events = %+v, want one with pid %d %q", evs, tc.wantPID, tc.wantLine)
			}
		})
	}
}
