//go:build !linux

package tcpproxy

import "net"

// rawAcceptor is Linux-only; elsewhere the proxy uses l.Accept.
func rawAcceptor(net.Listener) (accept func() (net.Conn, error), close func() error) {
	return nil, nil
}
