package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/netfilter"
)

// nfnetlink_log constants (linux/netfilter/nfnetlink_log.h); x/sys/unix
// does not carry them.
const (
	nfulnlMsgPacket    = 0
	nfulnlMsgConfig    = 1
	nfulaPayload       = 9
	nfulaPrefix        = 10
	nfulaCfgCmd        = 1
	nfulaCfgMode       = 2
	nfulaCfgQThresh    = 5
	nfulnlCfgCmdBind   = 1
	nfulnlCopyPacket   = 2
	nflogGroup         = 7 // any group: the instance is private to the sandbox netns
	nflogCopyRange     = 128
	sizeofNfgenmsg     = 4
	nlaHeaderLen       = 4
	nflogRecvBufferLen = 1 << 16
)

// openNflog opens an nfnetlink_log socket bound to nflogGroup in the current
// network namespace, copying the first nflogCopyRange bytes of each packet
// and delivering every packet at once. Runs in the init.
func openNflog() (*os.File, error) {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open nflog socket: %w", err)
	}
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(s)
		return nil, fmt.Errorf("bind nflog socket: %w", err)
	}
	mode := make([]byte, 6)
	binary.BigEndian.PutUint32(mode, nflogCopyRange)
	mode[4] = nfulnlCopyPacket
	thresh := binary.BigEndian.AppendUint32(nil, 1)
	for i, attr := range []struct {
		typ  uint16
		data []byte
	}{
		{nfulaCfgCmd, []byte{nfulnlCfgCmdBind}},
		{nfulaCfgMode, mode},
		{nfulaCfgQThresh, thresh},
	} {
		if err := nflogConfig(s, uint32(i+1), attr.typ, attr.data); err != nil {
			unix.Close(s)
			return nil, err
		}
	}
	return os.NewFile(uintptr(s), "nflog"), nil
}

func nflogConfig(s int, seq uint32, typ uint16, data []byte) error {
	ne := binary.NativeEndian
	alen := nlaHeaderLen + len(data)
	msg := make([]byte, unix.SizeofNlMsghdr+sizeofNfgenmsg+align4(alen))
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NFNL_SUBSYS_ULOG<<8|nfulnlMsgConfig)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], seq)
	g := msg[unix.SizeofNlMsghdr:]
	g[0] = unix.AF_UNSPEC
	binary.BigEndian.PutUint16(g[2:], nflogGroup)
	a := g[sizeofNfgenmsg:]
	ne.PutUint16(a[0:], uint16(alen))
	ne.PutUint16(a[2:], typ)
	copy(a[nlaHeaderLen:], data)
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("configure nflog: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return fmt.Errorf("read nflog ack: %w", err)
	}
	if n >= unix.SizeofNlMsghdr+4 && ne.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		if code := int32(ne.Uint32(buf[unix.SizeofNlMsghdr:])); code != 0 {
			return fmt.Errorf("configure nflog (attr %d): %w", typ, unix.Errno(-code))
		}
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// readNflog reads logged packets from f until it is closed, calling fn for
// each. It returns nil when f is closed.
func readNflog(f *os.File, fn func(Drop)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("read nflog: %w", err)
	}
	buf := make([]byte, nflogRecvBufferLen)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return nil // closed
		}
		if rerr != nil {
			if errors.Is(rerr, unix.ENOBUFS) {
				continue // the kernel dropped log messages; keep reading
			}
			return fmt.Errorf("read nflog: %w", rerr)
		}
		now := time.Now()
		for _, m := range nflogPackets(buf[:n]) {
			d, ok := parsePacket(m.payload)
			if !ok {
				continue
			}
			if m.prefix == netfilter.RefusedPrefix {
				// The logged packet is the reset going back to the
				// client: the refused destination is its source.
				d.Src, d.Dst, d.Refused = d.Dst, d.Src, true
			}
			d.Time = now
			fn(d)
		}
	}
}

type nflogPacket struct {
	payload []byte
	prefix  string
}

// nflogPackets returns the packets (and log prefixes) of the
// NFULNL_MSG_PACKET messages in b.
func nflogPackets(b []byte) []nflogPacket {
	ne := binary.NativeEndian
	var out []nflogPacket
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(ne.Uint32(b[0:]))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			break
		}
		typ := ne.Uint16(b[4:])
		body := b[unix.SizeofNlMsghdr:l]
		b = b[min(align4(l), len(b)):]
		if typ != unix.NFNL_SUBSYS_ULOG<<8|nfulnlMsgPacket || len(body) < sizeofNfgenmsg {
			continue
		}
		attrs := body[sizeofNfgenmsg:]
		var pkt nflogPacket
		for len(attrs) >= nlaHeaderLen {
			al := int(ne.Uint16(attrs[0:]))
			at := ne.Uint16(attrs[2:]) & 0x3fff // strip NLA_F_NESTED / byte-order flags
			if al < nlaHeaderLen || al > len(attrs) {
				break
			}
			switch at {
			case nfulaPayload:
				pkt.payload = attrs[nlaHeaderLen:al]
			case nfulaPrefix:
				pkt.prefix = strings.TrimRight(string(attrs[nlaHeaderLen:al]), "\x00")
			}
			attrs = attrs[min(align4(al), len(attrs)):]
		}
		if pkt.payload != nil {
			out = append(out, pkt)
		}
	}
	return out
}

// parsePacket decodes the IP and transport headers of a rejected packet.
func parsePacket(p []byte) (Drop, bool) {
	if len(p) < 1 {
		return Drop{}, false
	}
	var d Drop
	var proto byte
	var l4 []byte
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return Drop{}, false
		}
		ihl := int(p[0]&0x0f) * 4
		proto = p[9]
		src, _ := netip.AddrFromSlice(p[12:16])
		dst, _ := netip.AddrFromSlice(p[16:20])
		d.Src, d.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		if ihl <= len(p) {
			l4 = p[ihl:]
		}
	case 6:
		if len(p) < 40 {
			return Drop{}, false
		}
		proto = p[6]
		src, _ := netip.AddrFromSlice(p[8:24])
		dst, _ := netip.AddrFromSlice(p[24:40])
		d.Src, d.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		l4 = p[40:]
	default:
		return Drop{}, false
	}
	switch proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP:
		d.Proto = "tcp"
		if proto == unix.IPPROTO_UDP {
			d.Proto = "udp"
		}
		if len(l4) >= 4 {
			d.Src = netip.AddrPortFrom(d.Src.Addr(), binary.BigEndian.Uint16(l4[0:]))
			d.Dst = netip.AddrPortFrom(d.Dst.Addr(), binary.BigEndian.Uint16(l4[2:]))
		}
	case unix.IPPROTO_ICMP:
		d.Proto = "icmp"
	case unix.IPPROTO_ICMPV6:
		d.Proto = "icmpv6"
	default:
		d.Proto = strconv.Itoa(int(proto))
	}
	return d, true
}
