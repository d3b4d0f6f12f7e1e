package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// testTime is the fixed clock of every test proxy.
var testTime = time.Date(2026, 3, 31, 0, 21, 0, 0, time.UTC)

// harness runs a Proxy on a loopback listener with a fake original
// destination (looked up by the client's source address: each client
// dials from its own 127.0.0.0/8 address), fake DNS names and a fake
// dialer that connects every target to a local upstream server.
type harness struct {
	t     *testing.T
	proxy *Proxy
	ln    net.Listener
	rec   *event.Recorder
	serve chan error

	mu       sync.Mutex
	dsts     map[netip.Addr]netip.AddrPort // client source → original destination
	names    map[netip.Addr]string         // synthetic address → name
	upstream string                        // where every dial really goes
	dialed   []string                      // targets asked of Dial, in order
	nextSrc  int
}

type harnessOptions struct {
	spec     policy.Spec
	upstream string // address of the fake upstream server
	names    map[string]string
	tweak    func(*Config)
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	pol, err := policy.Compile(&o.spec, policy.Env{})
	if err != nil {
		t.Fatalf("compile policy: %v", err)
	}
	h := &harness{
		t: t,
		// No aggregation: these tests count one event per connection.
		rec:      event.New(event.Options{Now: func() time.Time { return testTime }, AggregateWindow: -1}),
		dsts:     map[netip.Addr]netip.AddrPort{},
		names:    map[netip.Addr]string{},
		upstream: o.upstream,
		nextSrc:  10,
		serve:    make(chan error, 1),
	}
	for a, n := range o.names {
		h.names[netip.MustParseAddr(a)] = n
	}
	cfg := Config{
		Policy: pol,
		Names:  h,
		Dial:   h.dial,
		Sink:   h.rec,
		Attribute: func(proto string, src netip.AddrPort) (int, string) {
			return 4242, "node postinstall.js " + proto
		},
		OriginalDst: h.originalDst,
		Now:         func() time.Time { return testTime },
		// Generous, so a slow (-race) client is never taken for a
		// server-speaks-first protocol; TestServerSpeaksFirst shortens it.
		PeekTimeout: 5 * time.Second,
	}
	if o.tweak != nil {
		o.tweak(&cfg)
	}
	h.proxy, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { h.serve <- h.proxy.Serve(h.ln) }()
	t.Cleanup(func() {
		if err := h.proxy.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-h.serve; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *harness) NameFor(a netip.Addr) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.names[a]
	return n, ok
}

func (h *harness) originalDst(c net.Conn) (netip.AddrPort, error) {
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.dsts[src]
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no original destination for %v", src)
	}
	return d, nil
}

func (h *harness) dial(ctx context.Context, network, address string) (net.Conn, error) {
	h.mu.Lock()
	h.dialed = append(h.dialed, address)
	up := h.upstream
	h.mu.Unlock()
	if up == "" {
		return nil, errors.New("no upstream in this test")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, up)
}

func (h *harness) dialedTargets() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.dialed...)
}

// connect opens a client connection through the proxy whose original
// destination is dst.
func (h *harness) connect(dst string) *net.TCPConn {
	h.t.Helper()
	h.mu.Lock()
	h.nextSrc++
	src := netip.AddrFrom4([4]byte{127, 0, byte(h.nextSrc >> 8), byte(h.nextSrc)})
	h.dsts[src] = netip.MustParseAddrPort(dst)
	h.mu.Unlock()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	c, err := d.Dial("tcp", h.ln.Addr().String())
	if err != nil {
		h.t.Fatalf("dial proxy: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// waitEvents waits (bounded) until n events were recorded and returns them
// with their time, which the fixed clock makes uninteresting, kept.
// echoThrough connects to dst through the proxy, sends an HTTP request
// for registry.example and reads it back from the echo upstream; it
// returns the client connection, still open.
func (h *harness) echoThrough(dst string) *net.TCPConn {
	h.t.Helper()
	c := h.connect(dst)
	req := httpGet("registry.example")
	if _, err := c.Write(req); err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
		h.t.Fatalf("echo through the proxy: %v", err)
	}
	return c
}

func (h *harness) waitEvents(n int) []event.Event {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := h.rec.Events()
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// serveLoopback runs handle for every connection to a new loopback
// listener until the test ends, and returns the listener's address.
func serveLoopback(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo copies everything back, then half-closes.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

// countingUpstream is an echo server that counts every byte it receives.
type countingUpstream struct {
	t     *testing.T
	addr  string
	ln    net.Listener
	wg    sync.WaitGroup
	total atomic.Int64

	mu       sync.Mutex
	accepted map[string]bool // remote addresses of the connections accepted
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &countingUpstream{t: t, addr: ln.Addr().String(), ln: ln, accepted: map[string]bool{}}
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.accepted[c.RemoteAddr().String()] = true
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					u.total.Add(int64(n))
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return u
}

// received returns the bytes the upstream has received over every
// connection, once every connection made to it so far has ended. Call it
// after every client of it is done (the proxy closed): a sentinel
// connection, accepted after all earlier ones, makes sure none is still
// waiting in the accept queue.
func (u *countingUpstream) received() int64 {
	u.t.Helper()
	s, err := net.Dial("tcp", u.addr)
	if err != nil {
		u.t.Fatalf("sentinel connection to the upstream: %v", err)
	}
	sentinel := s.LocalAddr().String()
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.mu.Lock()
		ok := u.accepted[sentinel]
		u.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			u.t.Fatal("the upstream never accepted the sentinel connection")
		}
		time.Sleep(time.Millisecond)
	}
	u.ln.Close()
	u.wg.Wait()
	return u.total.Load()
}
