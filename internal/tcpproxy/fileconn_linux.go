//go:build linux

package tcpproxy

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rawAcceptor accepts from a *net.TCPListener with accept4(2) and holds
// each connection as a fileConn. net.TCPListener.Accept spends five more
// system calls per connection than the proxy needs: getsockname (the
// proxy reads the original destination instead) and keep-alive's four
// setsockopts, which Go applies to every accepted connection of a
// listener made from a file (net.FileListener has no ListenConfig to turn
// them off) and which are useless on the sandbox's loopback, where a
// vanished client's socket is closed by the kernel. About 1 us each on
// the CI VM, on the path of every connection.
//
// The listener's RawConn cannot wait for readability, so the acceptor
// polls a duplicate of its descriptor; close releases the duplicate (the
// socket stops listening once both are closed). It returns nil when l is
// not a TCP listener with a file descriptor; the caller then uses
// l.Accept.
func rawAcceptor(l net.Listener) (accept func() (net.Conn, error), close func() error) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil, nil
	}
	lrc, err := tl.SyscallConn()
	if err != nil {
		return nil, nil
	}
	dup := -1
	if lrc.Control(func(fd uintptr) { dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }) != nil || err != nil {
		return nil, nil
	}
	// Non-blocking (the flag is shared with the listener's own fd), so
	// the *os.File uses the network poller.
	f := os.NewFile(uintptr(dup), "tcp-listener")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil
	}
	accept = func() (net.Conn, error) {
		var nfd int
		var sa unix.Sockaddr
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
				switch aerr {
				case unix.EINTR, unix.ECONNABORTED:
					continue // as net.TCPListener does
				case unix.EAGAIN:
					return false // wait in the poller
				}
				return true
			}
		})
		if err != nil {
			return nil, err
		}
		if aerr != nil {
			return nil, os.NewSyscallError("accept4", aerr)
		}
		c := &fileConn{}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			c.raddr = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		case *unix.SockaddrInet6:
			c.raddr = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
			c.v6 = true
		default:
			unix.Close(nfd)
			return nil, errors.New("accept4: not an IP socket")
		}
		// Small writes to the client must not wait for its ACKs.
		if err := unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			unix.Close(nfd)
			return nil, os.NewSyscallError("setsockopt", err)
		}
		// A non-blocking fd makes the *os.File use the network poller:
		// reads park the goroutine and deadlines work.
		c.f = os.NewFile(uintptr(nfd), "tcp")
		return c, nil
	}
	return accept, f.Close
}

// fileConn is an accepted TCP connection held as a pollable *os.File. It
// is what rawAcceptor returns; the relay splices it like a *net.TCPConn.
type fileConn struct {
	f     *os.File
	raddr *net.TCPAddr
	v6    bool // an AF_INET6 socket
}

func (c *fileConn) Read(b []byte) (int, error)  { return c.f.Read(b) }
func (c *fileConn) Write(b []byte) (int, error) { return c.f.Write(b) }
func (c *fileConn) Close() error                { return c.f.Close() }
func (c *fileConn) RemoteAddr() net.Addr        { return c.raddr }

// LocalAddr asks the kernel (the proxy itself never needs it).
func (c *fileConn) LocalAddr() net.Addr {
	var a net.Addr = &net.TCPAddr{}
	c.control(func(fd int) error {
		sa, err := unix.Getsockname(fd)
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			a = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		case *unix.SockaddrInet6:
			a = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		}
		return err
	})
	return a
}

func (c *fileConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *fileConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *fileConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn gives the relay and SO_ORIGINAL_DST the descriptor.
func (c *fileConn) SyscallConn() (syscall.RawConn, error) { return c.f.SyscallConn() }

// CloseWrite shuts the sending side down (passes an EOF on).
func (c *fileConn) CloseWrite() error {
	return c.control(func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) })
}

// SetLinger sets SO_LINGER as net.TCPConn.SetLinger does (0: close with
// a reset).
func (c *fileConn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	return c.control(func(fd int) error { return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l) })
}

func (c *fileConn) control(fn func(fd int) error) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// isIPv6 tells originalDst which SO_ORIGINAL_DST to ask without a
// getsockname.
func (c *fileConn) isIPv6() bool { return c.v6 }
