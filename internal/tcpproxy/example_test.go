package tcpproxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/tcpproxy"
)

// names stands in for the DNS server: it handed out 198.18.0.1 for
// registry.example.
type names map[netip.Addr]string

func (n names) NameFor(a netip.Addr) (string, bool) { s, ok := n[a]; return s, ok }

// Example wires a proxy the way session.Run does, with the sandbox parts
// replaced: the original destination is fixed and the "registry" is a
// loopback server.
func Example() {
	registry, _ := net.Listen("tcp", "127.0.0.1:0")
	defer registry.Close()
	go func() {
		c, err := registry.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "hello from the registry")
		c.Close()
	}()

	// The registry speaks first: its name and port are opted in to
	// opaque TCP (without, the proxy waits for a ClientHello or an HTTP
	// request naming registry.example, and refuses anything else).
	pol, _ := policy.Compile(&policy.Spec{TCP: []string{"registry.example:443"}}, policy.Env{})
	rec := event.NewRecorder(nil, nil)
	p, err := tcpproxy.New(tcpproxy.Config{
		Policy: pol,
		Names:  names{netip.MustParseAddr("198.18.0.1"): "registry.example"},
		// Production resolves the name through the upstream DNS server.
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			fmt.Println("dial", address)
			var d net.Dialer
			return d.DialContext(ctx, network, registry.Addr().String())
		},
		Sink: rec,
		// Production reads SO_ORIGINAL_DST after the nftables redirect.
		OriginalDst: func(net.Conn) (netip.AddrPort, error) {
			return netip.MustParseAddrPort("198.18.0.1:443"), nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go p.Serve(ln)

	c, _ := net.Dial("tcp", ln.Addr().String())
	b, _ := io.ReadAll(c) // nothing sent: opaque TCP is relayed unsniffed
	c.Close()
	p.Close() // waits for the event
	fmt.Println(string(b))
	for _, e := range rec.Events() {
		fmt.Printf("%s %s %s %d %q\n", e.Kind, e.Verdict, e.Name, e.Port, e.Rule)
	}
	// Output:
	// dial registry.example:443
	// hello from the registry
	// connect allow registry.example 443 "tcp: registry.example:443"
}
