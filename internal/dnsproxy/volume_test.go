package dnsproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// hexName is a name carrying payload the way a careful exfiltration tool
// would under an allowed wildcard: three short hex labels (each under the
// 24 characters the entropy check needs), so no single label looks odd.
func hexName(i int) string {
	b := make([]byte, 30)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s.%s.%s.t%d.allowed.example", h[:20], h[20:40], h[40:60], i%3)
}

func TestTunnelVolumeShortHexTXTUnderWildcard(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeBlock, policy.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			h := newHarness(t, mode, nil)
			flagged := -1
			for i := range 45 { // under the 50 unique names a minute of the fan-out check
				name := hexName(i)
				r := h.ask(t, "udp", name, dns.TypeTXT)
				if flagged < 0 && (r.Rcode == dns.RcodeNameError) {
					flagged = i
				}
			}
			var last event.Event
			n := 0
			for _, e := range h.rec.Events() {
				if e.QType == "TXT" && strings.Contains(e.Reason, "bytes of unique query names under allowed.example") {
					n++
					last = e
				}
			}
			if n == 0 {
				t.Fatalf("no volume flag after 45 short-hex TXT queries under *.allowed.example")
			}
			switch mode {
			case policy.ModeBlock:
				if last.Verdict != event.VerdictBlock || flagged < 0 {
					t.Errorf("block mode: verdict %s, first refused query %d", last.Verdict, flagged)
				}
				// Refused names never went upstream.
				asked := strings.Join(h.up.names(), " ")
				if strings.Contains(asked, last.Name) {
					t.Errorf("refused name %s was sent upstream", last.Name)
				}
			case policy.ModeAudit:
				// Flagged, and let through (sent upstream) as audit mode does.
				if last.Verdict != event.VerdictAudit || !strings.Contains(strings.Join(h.up.names(), " "), last.Name) {
					t.Errorf("audit mode: verdict %s, sent upstream: %v", last.Verdict, strings.Contains(strings.Join(h.up.names(), " "), last.Name))
				}
			}
		})
	}
}

func TestTunnelVolumeIgnoresRepeatsAndOrdinaryNames(t *testing.T) {
	d := newTunnelDetector(50, time.Minute, 4096)
	t0 := time.Unix(1000, 0)
	for range 10000 { // the same name over and over carries no new data
		if r, _ := d.check("abcdef0123456789abcd.cdn.example", true, t0); r != "" {
			t.Fatalf("repeat flagged: %s", r)
		}
	}
	// Forty ordinary host names under one domain stay far below the limit.
	for i := range 40 {
		if r, _ := d.check(fmt.Sprintf("edge-%d.objects.cdn2.example", i), false, t0); r != "" {
			t.Fatalf("ordinary name %d flagged: %s", i, r)
		}
	}
	// The window resets.
	big := strings.Repeat("x", 40)
	var r string
	for i := range 120 {
		r, _ = d.check(fmt.Sprintf("%s%d.w.example", big, i), false, t0)
	}
	if r == "" {
		t.Fatalf("120 names of 40 bytes (4.8 KB) not flagged")
	}
	// Just past the window's end most of it still counts: a burst split
	// across the boundary is not let through twice.
	if r, _ = d.check(big+"late.w.example", false, t0.Add(65*time.Second)); !strings.Contains(r, "bytes of") {
		t.Errorf("not flagged 5 s after the window of 5 KB ended: %q", r)
	}
	// A window later the previous one no longer counts.
	if r, _ = d.check(big+"new.w.example", false, t0.Add(3*time.Minute)); strings.Contains(r, "bytes of") {
		t.Errorf("flagged two windows later: %s", r)
	}
}

func TestTunnelLimitConfigurable(t *testing.T) {
	h := newHarness(t, policy.ModeBlock, func(c *Config) { c.TunnelLimit = 100 })
	var rc []int
	for i := range 4 {
		rc = append(rc, h.ask(t, "udp", fmt.Sprintf("%s.allowed.example", strings.Repeat("q", 30)+fmt.Sprint(i)), dns.TypeA).Rcode)
	}
	if rc[0] != dns.RcodeSuccess || rc[3] != dns.RcodeNameError {
		t.Errorf("rcodes %v with a 100-byte limit, want success then NXDOMAIN", rc)
	}
}

// TestUDPFloodCounted: queries that cannot be answered are counted, never
// lost without a trace.
func TestUDPFloodCounted(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	h := newHarness(t, policy.ModeBlock, func(c *Config) {
		c.Exchange = func(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
			select { // a stuck upstream ties up every worker
			case <-release:
			case <-ctx.Done():
			}
			return nil, errors.New("upstream stuck")
		}
	})
	defer once.Do(func() { close(release) })
	conn, err := net.Dial("udp", h.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sent := 0
	for i := range 20000 {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("n%d.allowed.example.", i%50), dns.TypeTXT)
		b, _ := m.Pack()
		if _, err := conn.Write(b); err == nil {
			sent++
		}
	}
	time.Sleep(200 * time.Millisecond) // let the reader drain the socket
	once.Do(func() { close(release) })
	h.srv.Close()
	handled := 0
	for _, e := range h.rec.Events() {
		if e.Kind == event.KindDNS {
			handled += max(e.Count, 1)
		}
	}
	dropped := h.srv.Dropped()
	t.Logf("sent %d: handled %d, dropped %d", sent, handled, dropped)
	if dropped == 0 {
		t.Errorf("no drop counted although %d queries met a stuck upstream", sent)
	}
	if handled+dropped != sent {
		t.Errorf("handled %d + dropped %d = %d, sent %d: queries lost without a count", handled, dropped, handled+dropped, sent)
	}
}
