package tcpproxy

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestConnLimitRefusesWithEvent: past MaxConns open connections, a new
// one is reset at once and recorded; the proxy stays responsive, and a
// slot freed is usable again.
func TestConnLimitRefusesWithEvent(t *testing.T) {
	up := serveLoopback(t, echo)
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
		tweak: func(c *Config) { c.MaxConns = 3 }})
	var held []io.Closer
	for range 3 {
		held = append(held, h.echoThrough("198.18.0.1:443"))
	}
	const extra = 50
	for i := range extra {
		src := netip.AddrFrom4([4]byte{127, 1, 0, byte(i + 1)})
		h.mu.Lock()
		h.dsts[src] = netip.MustParseAddrPort("198.18.0.1:443")
		h.mu.Unlock()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		c, err := d.Dial("tcp", h.ln.Addr().String())
		if err != nil {
			continue // reset before connect returned: refused all the same
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("a connection over the limit was not reset: n=%d err=%v", n, err)
		}
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.proxy.Refused() < extra && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.proxy.Refused(); got != extra {
		t.Errorf("Refused = %d, want %d", got, extra)
	}
	held[0].Close()
	deadline = time.Now().Add(10 * time.Second)
	for { // the slot frees once the relay has seen the close
		h.proxy.mu.Lock()
		active := h.proxy.active
		h.proxy.mu.Unlock()
		if active < 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.echoThrough("198.18.0.1:443") // served again
	refused := 0
	for _, e := range h.rec.Events() {
		if strings.HasPrefix(e.Reason, ReasonConnLimit) {
			if e.Verdict != event.VerdictBlock || e.Port != 443 || e.Name == "" {
				t.Errorf("refusal event %+v: want block to the bound name and port", e)
			}
			refused += max(e.Count, 1)
		}
	}
	if refused != extra {
		t.Errorf("refusal events add up to %d, want %d", refused, extra)
	}
}
