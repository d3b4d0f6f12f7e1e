package sandbox

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// bringUpLoopback sets lo up and routes every IPv4 and IPv6 destination to
// it, so that connect() to an outside address reaches the output hook (where
// nftables redirects or rejects it) instead of failing with ENETUNREACH
// before buildwall ever sees it.
func bringUpLoopback() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open ioctl socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	idx, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("read lo index: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, idx); err != nil {
		return fmt.Errorf("read lo index: %w", err)
	}
	index := idx.Uint32()
	if err := addDefaultRoute(unix.AF_INET, index); err != nil {
		return err
	}
	return addDefaultRoute(unix.AF_INET6, index)
}

// addDefaultRoute sends RTM_NEWROUTE "default dev <index>" for family.
func addDefaultRoute(family int, index uint32) error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open rtnetlink: %w", err)
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind rtnetlink: %w", err)
	}
	// The preferred source is loopback: without one, sockets bind to the
	// unspecified address and the redirected SYN is dropped as a martian.
	scope, src := uint8(unix.RT_SCOPE_LINK), []byte{127, 0, 0, 1}
	if family == unix.AF_INET6 {
		scope, src = unix.RT_SCOPE_UNIVERSE, append(make([]byte, 15), 1)
	}
	const attrLen = 8
	srcLen := 4 + len(src)
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofRtMsg+attrLen+srcLen)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	ne.PutUint32(msg[8:], 1)
	rt := msg[unix.SizeofNlMsghdr:]
	rt[0] = byte(family)
	rt[4] = unix.RT_TABLE_MAIN
	rt[5] = unix.RTPROT_BOOT
	rt[6] = scope
	rt[7] = unix.RTN_UNICAST
	attr := rt[unix.SizeofRtMsg:]
	ne.PutUint16(attr[0:], attrLen)
	ne.PutUint16(attr[2:], unix.RTA_OIF)
	ne.PutUint32(attr[4:], index)
	attr = attr[attrLen:]
	ne.PutUint16(attr[0:], uint16(srcLen))
	ne.PutUint16(attr[2:], unix.RTA_PREFSRC)
	copy(attr[4:], src)
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("add default route: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return fmt.Errorf("read route ack: %w", err)
	}
	if n < unix.SizeofNlMsghdr+4 || ne.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return fmt.Errorf("add default route: unexpected netlink answer")
	}
	if code := int32(ne.Uint32(buf[unix.SizeofNlMsghdr:])); code != 0 {
		return fmt.Errorf("add default route (family %d): %w", family, unix.Errno(-code))
	}
	return nil
}
