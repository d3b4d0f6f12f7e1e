// Package dnsproxy is the DNS server the sandboxed build talks to. Every
// query, over UDP or TCP and to whatever server address the build chose
// (nftables redirects them all here), is decided by the policy and becomes
// exactly one event.
//
// Allowed names are answered with an address from a private synthetic range
// (198.18.0.0/15 by default), stable per name, and the server remembers
// which name each address stands for (NameFor); the TCP proxy maps a
// connection to that address back to the name and dials the name itself.
// The build never learns a real address, so a connection is bound to the
// name it asked for. What each query type gets is documented on Server.
//
// The server never sends a refused name upstream: a blocked query does not
// leave the machine, so DNS tunnelling through a refused domain carries no
// data. Resolve asks the upstream resolver for real addresses, for the
// proxy's dialer.
package dnsproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// DefaultSynthetic is the range synthetic answers come from: the RFC 2544
// benchmarking range, never routed on the internet.
var DefaultSynthetic = netip.MustParsePrefix("198.18.0.0/15")

// Defaults for the bounds in Config.
const (
	DefaultMaxNames          = 65536
	DefaultTTL               = 5 // seconds
	DefaultTunnelUniqueNames = 50
	DefaultTunnelWindow      = time.Minute
	// DefaultTunnelLimit is the default of Config.TunnelLimit: unique
	// query payload bytes per registrable domain and TunnelWindow.
	DefaultTunnelLimit = 4096
)

// Config configures a Server. Policy, Sink and one of Upstream and
// Exchange are required.
type Config struct {
	Policy *policy.Policy
	// Upstream is the resolver for real addresses and forwarded queries,
	// "ip:port".
	Upstream string
	// Exchange sends a query upstream; nil sends it to Upstream over UDP,
	// retrying over TCP when the answer is truncated. Tests inject a fake.
	Exchange func(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
	Sink     event.Sink
	// Attribute names the process behind a query's source address (best
	// effort); nil leaves PID and Cmdline empty.
	Attribute func(proto string, src netip.AddrPort) (pid int, cmdline string)
	// Synthetic is the range answers come from; zero means DefaultSynthetic.
	// It must be IPv4 and hold at least 4 addresses.
	Synthetic netip.Prefix
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MaxNames bounds how many names get a synthetic address (and so the
	// memory the name table uses); 0 means DefaultMaxNames. Past it, new
	// names are refused with SERVFAIL and reported.
	MaxNames int
	// TTL of synthetic answers in seconds; 0 means DefaultTTL.
	TTL uint32
	// TunnelUniqueNames and TunnelWindow: more than TunnelUniqueNames
	// different names under one domain within TunnelWindow are reported as
	// suspected tunnelling. Zero means the defaults.
	TunnelUniqueNames int
	TunnelWindow      time.Duration
	// TunnelLimit bounds the unique query payload bytes (the labels
	// below the registrable domain, each distinct name counted once;
	// TXT and NULL queries with high-entropy names count double) per
	// registrable domain within TunnelWindow, also under allowed names
	// and wildcards. Past it, queries to the domain are flagged in audit
	// mode and refused in block mode. 0: DefaultTunnelLimit; negative:
	// no bound.
	TunnelLimit int
	// AllowLoopbackAnswers keeps loopback addresses in Resolve's results.
	// By default they are dropped, so that no allowed name can be made to
	// reach the runner's own loopback (DNS rebinding); only host-ports may.
	// Tests whose fake servers listen on loopback set it.
	AllowLoopbackAnswers bool
}

// Server is a DNS server for one run. Its methods are safe for concurrent
// use.
type Server struct {
	c      Config
	pool   *pool
	tunnel *tunnelDetector
	cache  *cache

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queueDropped  atomic.Int64 // UDP queries to a full queue, TCP connections over maxTCPConns
	kernelDropped atomic.Int64
	tcpConns      atomic.Int64

	mu      sync.Mutex
	closers []func() error
	closed  bool
}

// New checks c and returns a Server. It starts nothing: call ServeUDP and
// ServeTCP.
func New(c Config) (*Server, error) {
	if c.Policy == nil {
		return nil, errors.New("new dns server: no policy")
	}
	if c.Sink == nil {
		return nil, errors.New("new dns server: no event sink")
	}
	if c.Exchange == nil {
		if c.Upstream == "" {
			return nil, errors.New("new dns server: no upstream resolver")
		}
		if _, err := netip.ParseAddrPort(c.Upstream); err != nil {
			return nil, fmt.Errorf("new dns server: upstream %q is not ip:port: %w", c.Upstream, err)
		}
		c.Exchange = udpExchange(c.Upstream)
	}
	if !c.Synthetic.IsValid() {
		c.Synthetic = DefaultSynthetic
	}
	c.Synthetic = c.Synthetic.Masked()
	if !c.Synthetic.Addr().Is4() || c.Synthetic.Bits() > 30 {
		return nil, fmt.Errorf("new dns server: synthetic range %s must be IPv4 with at least 4 addresses", c.Synthetic)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxNames <= 0 {
		c.MaxNames = DefaultMaxNames
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TunnelUniqueNames <= 0 {
		c.TunnelUniqueNames = DefaultTunnelUniqueNames
	}
	if c.TunnelWindow <= 0 {
		c.TunnelWindow = DefaultTunnelWindow
	}
	if c.TunnelLimit == 0 {
		c.TunnelLimit = DefaultTunnelLimit
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		c:      c,
		pool:   newPool(c.Synthetic, c.MaxNames),
		tunnel: newTunnelDetector(c.TunnelUniqueNames, c.TunnelWindow, max(c.TunnelLimit, 0)),
		cache:  newCache(4096),
		ctx:    ctx,
		cancel: cancel,
	}, nil
}

// NameFor returns the name the synthetic address a was handed out for.
func (s *Server) NameFor(a netip.Addr) (string, bool) { return s.pool.nameFor(a) }

func (s *Server) track(closer func() error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closers = append(s.closers, closer)
	s.wg.Add(1) // done when the Serve loop returns
	return true
}

// udpWorkers answer UDP queries at once (a forwarded query waits for
// upstream); udpQueue more wait for one. A query arriving to a full queue
// is dropped and counted (Dropped), like the ones the kernel drops when
// the socket's receive buffer overflows.
const (
	udpWorkers = 256
	udpQueue   = 4096
)

type udpQuery struct {
	pkt  []byte
	src  netip.AddrPort
	addr net.Addr
}

// ServeUDP answers queries arriving on pc until pc fails or Close is called
// (then it returns nil). The Server closes pc on Close. One goroutine
// reads as fast as it can into a bounded queue; udpWorkers answer.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	closeUDP := func() error {
		// What is still queued in the socket at Close would be lost
		// without a trace: count it, with the kernel's final drop count.
		left, drops, ok := drainUDP(pc)
		s.queueDropped.Add(int64(left))
		if ok {
			storeMax(&s.kernelDropped, drops)
		}
		return pc.Close()
	}
	if !s.track(closeUDP) {
		pc.Close()
		return nil
	}
	defer s.wg.Done()
	queue := make(chan udpQuery, udpQueue)
	defer close(queue)
	for range udpWorkers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for q := range queue {
				if resp := s.handlePacket(s.ctx, "udp", q.src, q.pkt); resp != nil {
					pc.WriteTo(resp, q.addr) // a lost answer is the client's retry
				}
			}
		}()
	}
	read := newUDPReader(pc, &s.kernelDropped)
	buf := make([]byte, 65535)
	for {
		n, addr, err := read(buf)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("read dns query: %w", err)
		}
		select {
		case queue <- udpQuery{pkt: append([]byte(nil), buf[:n]...), src: addrPortOf(addr), addr: addr}:
		default:
			s.queueDropped.Add(1)
		}
	}
}

// storeMax raises a to v unless it is already higher.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// Dropped returns how many queries were lost unanswered so far: UDP
// queries that found the queue full, those the kernel dropped because the
// socket's receive buffer was full (where the system reports them), and
// TCP connections refused over maxTCPConns.
func (s *Server) Dropped() int {
	return int(s.queueDropped.Load() + s.kernelDropped.Load())
}

// ServeTCP answers queries on connections accepted from l until l fails or
// Close is called (then it returns nil). The Server closes l on Close.
func (s *Server) ServeTCP(l net.Listener) error {
	if !s.track(l.Close) {
		l.Close()
		return nil
	}
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept dns connection: %w", err)
		}
		if s.tcpConns.Add(1) > maxTCPConns {
			// Each connection holds a descriptor: refuse, and count it
			// like a dropped query.
			s.tcpConns.Add(-1)
			s.queueDropped.Add(1)
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.tcpConns.Add(-1)
			s.serveConn(c)
		}()
	}
}

const tcpIdle = 10 * time.Second

// maxTCPConns bounds the DNS-over-TCP connections served at once.
const maxTCPConns = 256

func (s *Server) serveConn(c net.Conn) {
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	src := addrPortOf(c.RemoteAddr())
	var lenBuf [2]byte
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := readFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(lenBuf[0])<<8 | int(lenBuf[1])
		pkt := make([]byte, n)
		if _, err := readFull(c, pkt); err != nil {
			return
		}
		resp := s.handlePacket(s.ctx, "tcp", src, pkt)
		if resp == nil {
			return
		}
		out := make([]byte, 2+len(resp))
		out[0], out[1] = byte(len(resp)>>8), byte(len(resp))
		copy(out[2:], resp)
		c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close stops every Serve call, closes the connections and listeners they
// serve, and waits for queries in flight. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	closers := s.closers
	s.mu.Unlock()
	s.cancel()
	var errs []error
	for _, c := range closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
