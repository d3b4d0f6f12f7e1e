package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/buildwall/buildwall/internal/dnsproxy"
)

// hostDialer is the production dialer of the proxy: a name is resolved
// through the upstream resolver (never through the sandbox's synthetic
// answers) and dialed from the host network namespace, address by address;
// a literal IP is dialed as is.
func hostDialer(srv *dnsproxy.Server) func(ctx context.Context, network, address string) (net.Conn, error) {
	// No keep-alive here: the proxy turns it on once the relay runs, off
	// the path of the first bytes.
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: -1}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, address)
		}
		addrs, err := srv.Resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		var errs []error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("dial %s: %w", address, errors.Join(errs...))
	}
}
