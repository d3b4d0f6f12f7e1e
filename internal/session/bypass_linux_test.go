package session

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
)

const blockPolicy = `
mode: block
allow:
  - allowed.test
  - tls.test:443
`

// longLabel is 60 characters of hex: what exfiltration through DNS names
// looks like.
var longLabel = strings.Repeat("6578666c74726174696f6e", 6)[:60]

// TestBypassSuite tries every known way around the firewall in block mode.
// Each attempt must fail inside the sandbox, be reported as a blocked event
// (streamed and in the report) and never reach the outside: no dial, and no
// upstream DNS query for the refused name.
func TestBypassSuite(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantOut   string      // substring of the command's output
		want      event.Event // a blocked event like this must exist
		notDialed string      // no dial to an address containing this
		notAsked  string      // the upstream DNS never saw this name
	}{
		{
			name:     "non_allowed_name",
			args:     helperArgs("get", "http://evil.test/"),
			wantOut:  "no such host",
			want:     event.Event{Kind: event.KindDNS, Name: "evil.test", Reason: "not in policy", Cmdline: "__helper get"},
			notAsked: "evil.test", notDialed: "evil.test",
		},
		{
			name:      "hard_coded_ip",
			args:      helperArgs("tcp", "192.0.2.1:443"),
			wantOut:   "error",
			want:      event.Event{Kind: event.KindConnect, IP: "192.0.2.1", Port: 443, Reason: "literal ip", Cmdline: "__helper tcp"},
			notDialed: "192.0.2.1",
		},
		{
			name:     "custom_dns_server",
			args:     helperArgs("dig", "8.8.8.8", "evil.test"),
			wantOut:  "NXDOMAIN",
			want:     event.Event{Kind: event.KindDNS, Proto: "udp", Name: "evil.test", Cmdline: "__helper dig"},
			notAsked: "evil.test",
		},
		{
			name:     "dns_over_tcp",
			args:     helperArgs("dig", "9.9.9.9", "evil.test", "tcp"),
			wantOut:  "NXDOMAIN",
			want:     event.Event{Kind: event.KindDNS, Proto: "tcp", Name: "evil.test"},
			notAsked: "evil.test",
		},
		{
			name:    "udp_to_arbitrary_port",
			args:    helperArgs("udp", "192.0.2.7:9999"),
			wantOut: "operation not permitted",
			want:    event.Event{Kind: event.KindPacket, Proto: "udp", IP: "192.0.2.7", Port: 9999, Cmdline: "__helper udp"},
		},
		{
			name:    "ipv6",
			args:    helperArgs("tcp", "[2001:db8::1]:443"),
			wantOut: "connection refused",
			want:    event.Event{Kind: event.KindPacket, Proto: "tcp", IP: "2001:db8::1", Port: 443},
		},
		{
			name:      "forged_sni_to_hard_coded_ip",
			args:      helperArgs("get", "https://192.0.2.1/", "allowed.test"),
			wantOut:   "get error",
			want:      event.Event{Kind: event.KindConnect, IP: "192.0.2.1", SNI: "allowed.test"},
			notDialed: "192.0.2.1",
		},
		{
			name:      "forged_sni_naming_allowed_host_on_other_allowed_name",
			args:      helperArgs("get", "https://tls.test/", "allowed.test"),
			wantOut:   "get error",
			want:      event.Event{Kind: event.KindConnect, Name: "tls.test", SNI: "allowed.test", Reason: "sni mismatch"},
			notDialed: "tls.test",
		},
		{
			name:      "sni_naming_other_host",
			args:      helperArgs("get", "https://allowed.test/", "evil.test"),
			wantOut:   "get error",
			want:      event.Event{Kind: event.KindConnect, Name: "allowed.test", SNI: "evil.test", Reason: "sni mismatch"},
			notDialed: "allowed.test",
		},
		{
			name:      "host_header_differs_from_name",
			args:      helperArgs("get", "http://allowed.test/", "", "evil.test"),
			wantOut:   "get error",
			want:      event.Event{Kind: event.KindConnect, Name: "allowed.test", Host: "evil.test", Reason: "host mismatch"},
			notDialed: "allowed.test",
		},
		{
			name:     "long_label_dns_exfiltration",
			args:     helperArgs("resolve", longLabel+".evil.test"),
			wantOut:  "lookup error",
			want:     event.Event{Kind: event.KindDNS, Name: longLabel + ".evil.test", Reason: "tunnelling"},
			notAsked: longLabel,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			oc := w.run(t, blockPolicy, tc.args)
			if oc.err != nil {
				t.Fatalf("Run: %v", oc.err)
			}
			if oc.res.CommandExit == 0 {
				t.Errorf("command exit 0; the bypass worked")
			}
			if !strings.Contains(oc.out, tc.wantOut) {
				t.Errorf("output %q, want it to contain %q", oc.out, tc.wantOut)
			}
			want := tc.want
			want.Verdict = event.VerdictBlock
			if len(find(oc.events, want)) == 0 {
				t.Errorf("no event like %+v in the report:\n%s", want, dumpEvents(oc.events))
			}
			if len(find(oc.stream, want)) == 0 {
				t.Errorf("no event like %+v in the --events stream", want)
			}
			// The proxy may have dialed the name while it waited for
			// the client's first bytes, but not a byte of the refused
			// connection may reach the server.
			queries, dials, _ := w.snapshot()
			for _, d := range dials {
				if tc.notDialed != "" && strings.Contains(d, tc.notDialed) {
					if n := w.bytesReceived(d); n != 0 {
						t.Errorf("the server behind %s received %d bytes of the refused connection", d, n)
					}
				}
			}
			for _, q := range queries {
				if tc.notAsked != "" && strings.Contains(q, tc.notAsked) {
					t.Errorf("the upstream resolver was asked for %s", q)
				}
			}
		})
	}
}

// TestRunnerLoopback: a service on the runner's 127.0.0.1 is out of reach
// unless its port is in host-ports.
func TestRunnerLoopback(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hits := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits <- struct{}{}
			fmt.Fprintln(c, "runner service")
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	t.Run("not_in_host_ports", func(t *testing.T) {
		w := newWorld(t)
		oc := w.run(t, blockPolicy, helperArgs("tcp", addr))
		if oc.res.CommandExit != 3 || !strings.Contains(oc.out, "connection refused") {
			t.Errorf("exit %d output %q, want connection refused", oc.res.CommandExit, oc.out)
		}
		if len(hits) != 0 {
			t.Fatal("the runner's loopback service was reached")
		}
		want := event.Event{Kind: event.KindPacket, Verdict: event.VerdictBlock, Proto: "tcp", IP: "127.0.0.1", Port: port, Reason: "host-ports"}
		if len(find(oc.events, want)) == 0 {
			t.Errorf("no event like %+v:\n%s", want, dumpEvents(oc.events))
		}
	})
	t.Run("in_host_ports", func(t *testing.T) {
		w := newWorld(t)
		oc := w.run(t, blockPolicy+fmt.Sprintf("host-ports: [%d]\n", port), helperArgs("tcp", addr))
		if oc.res.CommandExit != 0 || oc.out != "runner service\n" {
			t.Errorf("exit %d output %q, want the runner service", oc.res.CommandExit, oc.out)
		}
		want := event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, IP: "127.0.0.1", Port: port}
		if len(find(oc.events, want)) == 0 {
			t.Errorf("no event like %+v:\n%s", want, dumpEvents(oc.events))
		}
	})
}

// TestAllowedTraffic: what the policy allows works, bound to its name and
// attributed to the process.
func TestAllowedTraffic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
		want    event.Event
		wantHit string
	}{
		{"http", helperArgs("get", "http://allowed.test/x"), "200 hello from allowed.test",
			event.Event{Kind: event.KindConnect, Name: "allowed.test", Port: 80, Host: "allowed.test", Rule: "allowed.test", Cmdline: "__helper get"}, "allowed.test /x"},
		{"https", helperArgs("get", "https://tls.test/y"), "200 hello from tls.test",
			event.Event{Kind: event.KindConnect, Name: "tls.test", Port: 443, SNI: "tls.test", Rule: "tls.test:443"}, "tls.test /y"},
		{"custom_dns_server_answers_are_ours", helperArgs("dig", "8.8.8.8", "allowed.test"), "NOERROR 198.18.",
			event.Event{Kind: event.KindDNS, Name: "allowed.test", Rule: "allowed.test"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			oc := w.run(t, blockPolicy, tc.args)
			if oc.err != nil || oc.res.ExitCode != 0 {
				t.Fatalf("Run: exit %v, %v", oc.res, oc.err)
			}
			if !strings.Contains(oc.out, tc.wantOut) {
				t.Errorf("output %q, want %q", oc.out, tc.wantOut)
			}
			want := tc.want
			want.Verdict = event.VerdictAllow
			got := find(oc.events, want)
			if len(got) == 0 {
				t.Fatalf("no event like %+v:\n%s", want, dumpEvents(oc.events))
			}
			if tc.want.Cmdline != "" && got[0].PID == 0 {
				t.Errorf("event without pid: %+v", got[0])
			}
			if _, _, hits := w.snapshot(); tc.wantHit != "" && !slices.Contains(hits, tc.wantHit) {
				t.Errorf("server hits %v, want %q", hits, tc.wantHit)
			}
			if oc.res.Blocked != 0 {
				t.Errorf("blocked = %d:\n%s", oc.res.Blocked, dumpEvents(oc.events))
			}
		})
	}
}
