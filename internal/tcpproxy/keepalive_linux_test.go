//go:build linux

package tcpproxy

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/policy"
)

// TestUpstreamKeepAlive checks that the proxy turns keep-alive on for an
// upstream connection dialled without it, once the relay has lasted
// keepAliveAfter.
func TestUpstreamKeepAlive(t *testing.T) {
	defer func(d time.Duration) { keepAliveAfter = d }(keepAliveAfter)
	keepAliveAfter = time.Second
	up := serveLoopback(t, echo)
	var mu sync.Mutex
	var dialed *net.TCPConn
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames,
		tweak: func(c *Config) {
			c.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
				d := net.Dialer{KeepAlive: -1}
				conn, err := d.DialContext(ctx, network, up)
				if err == nil {
					mu.Lock()
					dialed = conn.(*net.TCPConn)
					mu.Unlock()
				}
				return conn, err
			}
		}})
	h.echoThrough("198.18.0.1:443")
	mu.Lock()
	conn := dialed
	mu.Unlock()
	if conn == nil {
		t.Fatal("the proxy did not dial")
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	get := func(level, opt int) (v int) {
		rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), level, opt) })
		if err != nil {
			t.Fatalf("getsockopt: %v", err)
		}
		return v
	}
	// Not yet: the relay has only just started.
	if get(unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 0 {
		t.Error("keep-alive on at once, want it only once the relay has lasted keepAliveAfter")
	}
	// Set by a timer, not ordered with the echo.
	deadline := time.Now().Add(10 * time.Second)
	for get(unix.SOL_SOCKET, unix.SO_KEEPALIVE) == 0 || get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE) != 15 {
		if time.Now().After(deadline) {
			t.Fatalf("upstream keep-alive: SO_KEEPALIVE %d, TCP_KEEPIDLE %d; want on, 15 s",
				get(unix.SOL_SOCKET, unix.SO_KEEPALIVE), get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE))
		}
		time.Sleep(time.Millisecond)
	}
}
