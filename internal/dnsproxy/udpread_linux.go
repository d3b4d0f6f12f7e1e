package dnsproxy

import (
	"encoding/binary"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// newUDPReader returns a function reading one datagram from pc. For a
// *net.UDPConn it turns SO_RXQ_OVFL on and keeps dropped at the kernel's
// count of datagrams dropped because the receive buffer was full (the
// kernel sends the running total with each datagram).
func newUDPReader(pc net.PacketConn, dropped *atomic.Int64) func([]byte) (int, net.Addr, error) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return pc.ReadFrom
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return pc.ReadFrom
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil || serr != nil {
		return pc.ReadFrom
	}
	oob := make([]byte, unix.CmsgSpace(4))
	return func(b []byte) (int, net.Addr, error) {
		n, oobn, _, addr, err := uc.ReadMsgUDP(b, oob)
		if err != nil {
			return n, nil, err
		}
		if total, ok := rxqOverflow(oob[:oobn]); ok {
			dropped.Store(int64(total))
		}
		return n, addr, nil
	}
}

// rxqOverflow finds the SO_RXQ_OVFL count in a control message buffer.
func rxqOverflow(oob []byte) (uint32, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}
