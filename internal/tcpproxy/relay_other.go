//go:build !linux

package tcpproxy

import "net"

// copyConn copies src to dst until EOF (nil error) or an error. Outside
// Linux there is no splice(2); the proxy is not used there in production.
func copyConn(dst, src net.Conn) (int64, error) {
	return portableCopy(dst, src)
}

// copyConnN copies at most n bytes of src to dst; fewer and a nil error
// at EOF.
func copyConnN(dst, src net.Conn, n int64) (int64, error) {
	return portableCopyN(dst, src, n)
}

// readNow reports that nothing was read: outside Linux the proxy always
// reads the client's first bytes the ordinary way.
func readNow(net.Conn, []byte) int { return 0 }
