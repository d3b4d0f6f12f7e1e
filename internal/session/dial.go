package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/buildwall/buildwall/internal/dnsproxy"
	"github.com/buildwall/buildwall/internal/tcpproxy"
)

// hostDialer is the production dialer of the proxy: a name is resolved
// through the upstream resolver (never through the sandbox's synthetic
// answers) and dialed from the host network namespace, address by address;
// a literal IP is dialed as is unless it is a metadata or link-local
// address (dnsproxy.CheckLiteralAddr). Every address dialled for a name is
// checked against the resolution limits (dnsproxy.CheckDialAddr) right
// before the dial, whatever resolved it; a name left with no address it
// may dial fails with tcpproxy.ErrDialRefused, so the connection is a
// block event. dialAddr connects to one ip:port (nil: a net.Dialer).
func hostDialer(srv *dnsproxy.Server, dialAddr func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	if dialAddr == nil {
		// No keep-alive here: the proxy turns it on once the relay
		// runs, off the path of the first bytes.
		d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: -1}
		dialAddr = d.DialContext
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if err := srv.CheckLiteralAddr(a); err != nil {
				return nil, fmt.Errorf("%w: %w", tcpproxy.ErrDialRefused, err)
			}
			return dialAddr(ctx, network, address)
		}
		addrs, err := srv.Resolve(ctx, host)
		if errors.Is(err, dnsproxy.ErrAnswerRefused) {
			return nil, fmt.Errorf("%w: %w", tcpproxy.ErrDialRefused, err)
		}
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		var errs, refused []error
		for _, a := range addrs {
			if err := srv.CheckDialAddr(host, a); err != nil {
				refused = append(refused, err)
				continue
			}
			c, err := dialAddr(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 && len(refused) > 0 {
			return nil, fmt.Errorf("%w: %w", tcpproxy.ErrDialRefused, errors.Join(refused...))
		}
		return nil, fmt.Errorf("dial %s: %w", address, errors.Join(append(errs, refused...)...))
	}
}
