//go:build linux

package tcpproxy

import (
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/policy"
)

// Connections from a TCP listener are accepted raw: no keep-alive (useless
// on loopback, four system calls), but no-delay, and they relay as usual.
func TestRawAcceptSocketOptions(t *testing.T) {
	up := serveLoopback(t, echo)
	type opts struct {
		raw                bool
		keepAlive, noDelay int
		err                error
	}
	got := make(chan opts, 1)
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
		tweak: func(c *Config) {
			orig := c.OriginalDst
			c.OriginalDst = func(conn net.Conn) (netip.AddrPort, error) {
				var o opts
				_, o.raw = conn.(*fileConn)
				rc, err := conn.(syscall.Conn).SyscallConn()
				if err == nil {
					err = rc.Control(func(fd uintptr) {
						o.keepAlive, o.err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
						if o.err == nil {
							o.noDelay, o.err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY)
						}
					})
				}
				if o.err == nil {
					o.err = err
				}
				got <- o
				return orig(conn)
			}
		}})
	h.echoThrough("198.18.0.1:443")
	o := <-got
	if !o.raw || o.err != nil || o.keepAlive != 0 || o.noDelay == 0 {
		t.Errorf("accepted connection: raw %v, SO_KEEPALIVE %d, TCP_NODELAY %d, err %v; want raw, 0, on, nil",
			o.raw, o.keepAlive, o.noDelay, o.err)
	}
}
