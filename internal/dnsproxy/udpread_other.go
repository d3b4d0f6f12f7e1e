//go:build !linux

package dnsproxy

import (
	"net"
	"sync/atomic"
)

// newUDPReader returns pc.ReadFrom: kernel drops are not reported here.
func newUDPReader(pc net.PacketConn, _ *atomic.Int64) func([]byte) (int, net.Addr, error) {
	return pc.ReadFrom
}

// drainUDP is not supported here.
func drainUDP(net.PacketConn) (left int, drops int64, ok bool) { return 0, 0, false }
