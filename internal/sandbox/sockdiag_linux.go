package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// sockDiag looks sockets up by their exact 4-tuple with NETLINK_SOCK_DIAG
// (inet_diag). The netlink socket was created by the init, so it answers
// for the sandbox's network namespace; the parent only holds the fd (a
// netlink socket keeps the namespace it was created in), so no thread of
// the parent ever enters the namespace. One request is in flight at a time.
type sockDiag struct {
	mu  sync.Mutex
	f   *os.File
	fd  int
	seq uint32
	buf []byte
}

// Sizes and offsets of struct inet_diag_req_v2 and struct inet_diag_msg
// (linux/inet_diag.h); x/sys/unix has no Go types for them.
const (
	sizeofInetDiagSockID = 48 // sport, dport, src[4], dst[4], if, cookie[2]
	sizeofInetDiagReqV2  = 8 + sizeofInetDiagSockID
	inetDiagMsgInode     = 4 + sizeofInetDiagSockID + 16 // after expires, rqueue, wqueue, uid
	inetDiagNoCookie     = ^uint32(0)
)

// newSockDiag takes ownership of f, a NETLINK_SOCK_DIAG socket.
func newSockDiag(f *os.File) (*sockDiag, error) {
	fd := int(f.Fd()) // also puts the fd back into blocking mode
	// A lookup must never stall a connection: bound every read.
	tv := unix.Timeval{Usec: 200_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		f.Close()
		return nil, fmt.Errorf("sock_diag socket: set receive timeout: %w", err)
	}
	return &sockDiag{f: f, fd: fd, buf: make([]byte, 8192)}, nil
}

func (d *sockDiag) close() error { return d.f.Close() }

// tcpInode returns the inode of the TCP socket whose local address is src
// and remote address dst (both as the socket's owner sees them), or 0
// when there is none (closed, or in TIME_WAIT, which has no inode).
func (d *sockDiag) tcpInode(src, dst netip.AddrPort) (uint64, error) {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	family := uint8(unix.AF_INET)
	if sa.Is6() || da.Is6() {
		family = unix.AF_INET6
		sa, da = as16(sa), as16(da)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	req := make([]byte, unix.SizeofNlMsghdr+sizeofInetDiagReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], d.seq)
	r := req[unix.SizeofNlMsghdr:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], src.Port())
	binary.BigEndian.PutUint16(id[2:], dst.Port())
	copy(id[4:20], sa.AsSlice())
	copy(id[20:36], da.AsSlice())
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sock_diag answer: %w", err)
		}
		for b := d.buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := int(ne.Uint32(b[0:]))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return 0, errors.New("sock_diag answer: truncated message")
			}
			typ, seq, body := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[unix.SizeofNlMsghdr:l]
			b = b[(l+3)&^3:]
			if seq != d.seq {
				continue // the answer to a request that timed out
			}
			switch typ {
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if code := int32(ne.Uint32(body)); code != 0 {
						if unix.Errno(-code) == unix.ENOENT {
							return 0, nil
						}
						return 0, fmt.Errorf("sock_diag: %w", unix.Errno(-code))
					}
				}
				return 0, nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(body) < inetDiagMsgInode+4 {
					return 0, errors.New("sock_diag answer: short inet_diag_msg")
				}
				return uint64(ne.Uint32(body[inetDiagMsgInode:])), nil
			}
		}
	}
}

// as16 returns a as a 16-byte address (IPv4 as IPv4-mapped IPv6).
func as16(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// openSockDiag opens the NETLINK_SOCK_DIAG socket (in the caller's network
// namespace: the init calls it).
func openSockDiag() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind sock_diag socket: %w", err)
	}
	return os.NewFile(uintptr(fd), "sock_diag"), nil
}
