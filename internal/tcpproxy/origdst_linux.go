//go:build linux

package tcpproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// soOriginalDst is SO_ORIGINAL_DST (SOL_IP) and IP6T_SO_ORIGINAL_DST
// (SOL_IPV6); both are 80 in linux/netfilter_ipv4.h and netfilter_ipv6.
const soOriginalDst = 80

// originalDst returns the destination a connection had before an nftables
// redirect/dnat rewrote it, read from conntrack with getsockopt
// SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6). c must be a
// *net.TCPConn (or wrap one via syscall.Conn).
func originalDst(c net.Conn) (netip.AddrPort, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("get original destination: %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("get original destination: %w", err)
	}
	v6 := false
	if f, ok := c.(interface{ isIPv6() bool }); ok {
		v6 = f.isIPv6()
	} else if la, ok := c.LocalAddr().(*net.TCPAddr); ok && la.IP.To4() == nil {
		v6 = true
	}
	var ap netip.AddrPort
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			ap, serr = getOrigDst(int(fd), unix.SOL_IPV6)
			if serr == nil {
				return
			}
		}
		ap, serr = getOrigDst(int(fd), unix.SOL_IP)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("get original destination: %w", err)
	}
	return ap, nil
}

// getOrigDst calls getsockopt(fd, level, SO_ORIGINAL_DST) into a buffer
// big enough for a sockaddr_in6 and decodes the sockaddr.
func getOrigDst(fd, level int) (netip.AddrPort, error) {
	var buf [unix.SizeofSockaddrInet6]byte
	l := uint32(len(buf))
	if level == unix.SOL_IP {
		l = unix.SizeofSockaddrInet4
	}
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), soOriginalDst,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return netip.AddrPort{}, errno
	}
	// sockaddr_in{,6}: family (host order), port (network order), then
	// the address (after flowinfo for IPv6).
	family := binary.NativeEndian.Uint16(buf[0:2])
	port := binary.BigEndian.Uint16(buf[2:4])
	switch family {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[4:8])), port), nil
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(buf[8:24])).Unmap(), port), nil
	}
	return netip.AddrPort{}, errors.New("unexpected address family")
}
