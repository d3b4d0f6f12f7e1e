package tcpproxy

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestKeepAliveSecondRequest: on a relayed plain HTTP connection, a later
// request naming another host is a second event; block mode resets the
// connection before a byte of that request reaches the upstream, audit
// mode records it and lets it through.
func TestKeepAliveSecondRequest(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeBlock, policy.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			up := newCountingUpstream(t)
			h := newHarness(t, harnessOptions{spec: testSpec(mode), upstream: up.addr, names: testNames})
			c := h.connect("198.18.0.1:443")
			first := httpGet("registry.example")
			if _, err := c.Write(first); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(first))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("first request: %v", err)
			}
			if evs := h.waitEvents(1); len(evs) != 1 || evs[0].Verdict != event.VerdictAllow {
				t.Fatalf("events after the first request = %+v, want one allow", evs)
			}
			second := httpGet("evil.example")
			_, werr := c.Write(second)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, rerr := io.ReadFull(c, make([]byte, len(second)))
			evs := h.waitEvents(2)
			if len(evs) != 2 {
				t.Fatalf("events = %+v, want two", evs)
			}
			ev := evs[1]
			wantVerdict := event.VerdictBlock
			if mode == policy.ModeAudit {
				wantVerdict = event.VerdictAudit
			}
			if ev.Verdict != wantVerdict || ev.Host != "evil.example" || ev.Name != "registry.example" ||
				!strings.HasPrefix(ev.Reason, "second request host mismatch") || ev.PID != 4242 {
				t.Errorf("second event = %+v, want %s for host evil.example with the reason and the process", ev, wantVerdict)
			}
			h.proxy.Close()
			switch n := up.received(); {
			case mode == policy.ModeBlock && (werr == nil && rerr == nil || n != int64(len(first))):
				t.Errorf("block: upstream received %d bytes (want %d, the first request only); client %v/%v", n, len(first), werr, rerr)
			case mode == policy.ModeAudit && (rerr != nil || n != int64(len(first)+len(second))):
				t.Errorf("audit: upstream received %d bytes, want both requests (%d); client read %v", n, len(first)+len(second), rerr)
			}
		})
	}
}

// TestSniffWaitsForLineEnds: classification is skipped while an HTTP head
// has no new line end, but never for bytes that are not HTTP.
func TestSniffWaitsForLineEnds(t *testing.T) {
	for _, tc := range []struct {
		buf  string
		n    int
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a", 1, false},
		{"GET / HTTP/1.1\r\nHost: a.test\r\n", 1, true},
		{"GE", 2, true},
		{"GE" + "T\x00" + strings.Repeat("x", 100), 102, true},
		{"\x16\x03\x01", 1, true},
	} {
		if got := mayComplete([]byte(tc.buf), tc.n); got != tc.want {
			t.Errorf("mayComplete(%q, %d) = %v, want %v", tc.buf, tc.n, got, tc.want)
		}
	}
}
