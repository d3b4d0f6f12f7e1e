//go:build !linux

package tcpproxy

import (
	"net"
	"net/netip"
)

// originalDst is only available on Linux (conntrack).
func originalDst(net.Conn) (netip.AddrPort, error) {
	return netip.AddrPort{}, ErrNotSupported
}
