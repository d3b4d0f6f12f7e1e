package tcpproxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestDialRefusedBlocksInEveryMode: a dialer that refuses the destination
// itself (a name resolving only to metadata or private addresses) makes
// the connection a block event, in audit mode too, never "allow".
func TestDialRefusedBlocksInEveryMode(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeBlock, policy.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			h := newHarness(t, harnessOptions{spec: testSpec(mode), names: testNames, tweak: func(c *Config) {
				c.Dial = func(context.Context, string, string) (net.Conn, error) {
					return nil, fmt.Errorf("%w: metadata answer: registry.example resolved to 169.254.169.254", ErrDialRefused)
				}
			}})
			c := h.connect("198.18.0.1:443")
			c.Write(captureClientHello(t, &tls.Config{ServerName: "registry.example", InsecureSkipVerify: true}))
			c.Read(make([]byte, 1))
			evs := h.waitEvents(1)
			if len(evs) != 1 || evs[0].Verdict != event.VerdictBlock || !strings.Contains(evs[0].Reason, "metadata answer") {
				t.Errorf("events = %+v, want one block with the metadata reason", evs)
			}
		})
	}
}
