package dnsproxy

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"syscall"
	"unsafe"

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
			storeMax(dropped, int64(total))
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

// drainUDP empties pc's receive queue without blocking and returns how
// many datagrams it held, and the socket's count of dropped datagrams
// (SO_MEMINFO), which also covers drops after the last datagram read;
// ok is false when pc offers neither.
func drainUDP(pc net.PacketConn) (left int, drops int64, ok bool) {
	sc, isSC := pc.(syscall.Conn)
	if !isSC {
		return 0, 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	buf := make([]byte, 512)
	cerr := rc.Control(func(fd uintptr) {
		for {
			if _, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
				break
			}
			left++
		}
		var mem [unix.SK_MEMINFO_VARS]uint32
		size := uint32(unsafe.Sizeof(mem))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO, uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&size)), 0)
		if e == 0 {
			drops, ok = int64(mem[unix.SK_MEMINFO_DROPS]), true
		}
	})
	if cerr != nil {
		return 0, 0, false
	}
	return left, drops, ok
}
