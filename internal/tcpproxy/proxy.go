package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// ErrNotSupported is returned by the default original-destination lookup
// on systems without conntrack (everything but Linux).
var ErrNotSupported = errors.New("transparent proxying is not supported on this system")

// ErrDialRefused is wrapped by a Config.Dial error that refuses the
// destination itself (a name that resolved only to addresses the run may
// not reach, such as cloud metadata or private ranges). The connection is
// then recorded as "block" in every mode, with the error as reason.
var ErrDialRefused = errors.New("destination refused")

// Defaults for the Config durations left zero.
const (
	DefaultPeekTimeout  = 250 * time.Millisecond
	DefaultSniffTimeout = 5 * time.Second
	// DefaultOpeningTimeout bounds the wait for a name-bound
	// connection's ClientHello or request head.
	DefaultOpeningTimeout = 10 * time.Second
	DefaultDialTimeout    = 30 * time.Second
	DefaultCloseWait      = 5 * time.Second
	// DefaultAttributionGrace is how long an allowed connection's first
	// answer may wait for attribution.
	DefaultAttributionGrace = 25 * time.Millisecond
	// maxSniff bounds how many client bytes are buffered before deciding.
	maxSniff = 16 << 10
	// DefaultMaxConns is the default of Config.MaxConns.
	DefaultMaxConns = 4096
)

// ReasonConnLimit is the reason of the block event of a connection
// refused because Config.MaxConns were open.
const ReasonConnLimit = "connection limit"

// Config configures a Proxy. Policy and Dial are required.
type Config struct {
	// Policy decides which destinations are allowed and the mode.
	Policy *policy.Policy
	// Names maps a synthetic address handed out by the DNS server back to
	// the name the build asked for. Nil: every destination is a literal IP.
	Names interface {
		NameFor(netip.Addr) (string, bool)
	}
	// Dial opens the upstream connection. address is "name:port" for a
	// connection bound to a name and "ip:port" for a literal IP. It must
	// honour ctx (Close cancels it). The proxy turns TCP keep-alive on
	// for the connection itself once the relay runs, so a dialer need
	// not spend the system calls on the path of the first bytes
	// (net.Dialer{KeepAlive: -1}). An error wrapping ErrDialRefused
	// blocks the connection in every mode.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Sink receives one "connect" event per accepted connection. Nil:
	// events are dropped.
	Sink event.Sink
	// Attribute names the process behind a client address (best effort;
	// nil or pid 0 when unknown).
	Attribute func(proto string, src netip.AddrPort) (pid int, cmdline string)
	// AttributeConn names the process behind the connection from src to
	// its original destination dst (an exact socket lookup); preferred
	// over Attribute when set.
	AttributeConn func(src, dst netip.AddrPort) (pid int, cmdline string)
	// AttributeConnNow, when set, is asked first: a lookup of the same
	// answer that takes a few microseconds and never blocks (the sandbox's
	// kernel record of who connected). The proxy calls it inline, with no
	// goroutine, channel or gate spent on the connection; ok false means
	// it has no answer and AttributeConn (or Attribute) runs as usual.
	AttributeConnNow func(src, dst netip.AddrPort) (pid int, cmdline string, ok bool)
	// Synthetic is the range the DNS server hands synthetic addresses out
	// of. A connection to an address in it that Names does not know is
	// refused in every mode (there is nothing real to dial). Zero: no
	// such check; such an address is a literal IP like any other.
	Synthetic netip.Prefix
	// OriginalDst returns where the client meant to connect. Nil: the
	// conntrack lookup SO_ORIGINAL_DST (Linux only).
	OriginalDst func(c net.Conn) (netip.AddrPort, error)
	// Now stamps events. Nil: time.Now.
	Now func() time.Time

	// PeekTimeout is how long the proxy waits for the first bytes of a
	// connection it refuses (or relays unverified: a literal IP in audit
	// mode), only to record what it was after. Zero: DefaultPeekTimeout.
	PeekTimeout time.Duration
	// OpeningTimeout bounds the wait for the complete opening (TLS
	// ClientHello or HTTP/1.x request head) of a connection bound to a
	// name; one without is refused ("opening timeout"). Zero:
	// DefaultOpeningTimeout.
	OpeningTimeout time.Duration
	// SniffTimeout bounds reading a complete ClientHello or HTTP header
	// block once it has started. Zero: DefaultSniffTimeout.
	SniffTimeout time.Duration
	// DialTimeout bounds Dial. Zero: DefaultDialTimeout.
	DialTimeout time.Duration
	// CloseWait bounds how long Close waits for connection handlers after
	// aborting them. Zero: DefaultCloseWait.
	CloseWait time.Duration
	// AttributionGrace is how long the first bytes from the upstream of
	// an allowed connection may wait for its attribution to finish, so
	// that a client which closes its socket as soon as it has its answer
	// is still named. Attribution runs while the proxy dials and relays
	// the request, so with a lookup off the proxy's CPU (the sandbox runs
	// it in its init) the answer rarely waits at all. Zero:
	// DefaultAttributionGrace; negative: never wait. Refused and audited
	// connections always wait (the process matters for what was
	// refused).
	AttributionGrace time.Duration
	// MaxConns bounds the connections handled at once (each holds file
	// descriptors: the client's, the upstream's, relay pipes). A
	// connection accepted while MaxConns are open is reset at once and
	// recorded as a block event with reason ReasonConnLimit, without
	// attribution beyond AttributeConnNow; Refused counts them. Zero:
	// DefaultMaxConns; negative: no bound.
	MaxConns int
}

// Proxy serves transparent TCP connections. It is safe for concurrent use;
// Serve may be called with several listeners.
type Proxy struct {
	c      Config
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]*acceptor
	conns     map[net.Conn]struct{}
	active    int // client connections being handled (admit)
	wg        sync.WaitGroup

	// workers run attributions, early dials and the client→upstream
	// half of relays.
	workers *workers

	refused atomic.Int64 // connections refused at MaxConns
}

// New checks c, fills defaults and returns a Proxy ready to Serve.
func New(c Config) (*Proxy, error) {
	if c.Policy == nil {
		return nil, errors.New("new tcp proxy: no policy")
	}
	if c.Dial == nil {
		return nil, errors.New("new tcp proxy: no dialer")
	}
	if c.Sink == nil {
		c.Sink = event.Discard
	}
	if c.OriginalDst == nil {
		c.OriginalDst = originalDst
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PeekTimeout <= 0 {
		c.PeekTimeout = DefaultPeekTimeout
	}
	if c.OpeningTimeout <= 0 {
		c.OpeningTimeout = DefaultOpeningTimeout
	}
	if c.SniffTimeout <= 0 {
		c.SniffTimeout = DefaultSniffTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.CloseWait <= 0 {
		c.CloseWait = DefaultCloseWait
	}
	if c.AttributionGrace == 0 {
		c.AttributionGrace = DefaultAttributionGrace
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy{
		workers:   newWorkers(maxIdleWorkers, ctx.Done()),
		c:         c,
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]*acceptor{},
		conns:     map[net.Conn]struct{}{},
	}, nil
}

// Serve accepts connections on l until l fails or the proxy is closed, and
// handles each in its own goroutine. It returns nil once the proxy is
// closed (also when Serve is called after Close), and the accept error
// otherwise. The proxy closes l when it is closed.
//
// The goroutine that accepts a connection goes on to handle it, after
// making sure another one is waiting in Accept: the connection is handled
// on the thread the network poller woke, with no hand-off between accept
// and dial. When it is done it goes back to accepting (up to
// maxIdleAcceptors wait at once), so a steady stream of connections is
// served by the same few goroutines, whose stacks have already grown to
// what a connection needs.
func (p *Proxy) Serve(l net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = l.Close()
		return nil
	}
	a := &acceptor{l: l, errc: make(chan error, 1)}
	a.accept, a.closeRaw = rawAcceptor(l)
	if a.accept == nil {
		a.accept = l.Accept
	}
	p.listeners[l] = a
	p.mu.Unlock()

	a.idle.Store(1)
	go p.accept(a)
	return <-a.errc
}

// maxIdleWorkers bounds the idle goroutines kept for attributions and
// relays.
const maxIdleWorkers = 8

// maxIdleAcceptors bounds the goroutines of one listener that wait in
// Accept; a handler finding that many returns instead.
const maxIdleAcceptors = 4

// acceptor is the state the goroutines accepting on one listener share.
type acceptor struct {
	l        net.Listener
	accept   func() (net.Conn, error) // l.Accept, or rawAcceptor's
	closeRaw func() error             // rawAcceptor's; nil with l.Accept
	idle     atomic.Int32             // goroutines in (or on their way to) Accept
	stopped  atomic.Bool
	once     sync.Once
	errc     chan error // Serve's result, sent once
}

// stop ends Serve with err (nil: the proxy was closed).
func (a *acceptor) stop(err error) {
	a.stopped.Store(true)
	a.once.Do(func() { a.errc <- err })
}

// accept accepts and handles connections on a.l until it fails, the proxy
// is closed or enough other goroutines are waiting in Accept.
func (p *Proxy) accept(a *acceptor) {
	var backoff time.Duration
	for !a.stopped.Load() {
		c, err := a.accept()
		if err != nil {
			if p.isClosed() {
				a.stop(nil)
				return
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors and the like: back off, as
				// net/http does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			a.stop(fmt.Errorf("accept connection: %w", err))
			return
		}
		backoff = 0
		switch p.admit(c) {
		case admitClosed:
			reset(c)
			a.stop(nil)
			return
		case admitFull:
			p.refuse(c)
			continue
		}
		p.wg.Add(1)
		if a.idle.Add(-1) == 0 {
			// Nobody else is waiting in Accept: start a goroutine that
			// does, then handle this connection here.
			a.idle.Add(1)
			go p.accept(a)
		}
		p.handle(c)
		p.release(c)
		p.wg.Done()
		if a.idle.Add(1) > maxIdleAcceptors {
			a.idle.Add(-1)
			return
		}
	}
	a.idle.Add(-1)
}

// Close stops every listener, aborts every connection being sniffed,
// dialled or relayed, and waits up to Config.CloseWait for their handlers
// to return. It is idempotent; it returns an error when handlers are still
// running after the wait.
func (p *Proxy) Close() error {
	p.mu.Lock()
	var errs []error
	if !p.closed {
		p.closed = true
		p.cancel()
		for l, a := range p.listeners {
			if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close listener: %w", err))
			}
			if a.closeRaw != nil {
				a.closeRaw()
			}
		}
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()

	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	t := time.NewTimer(p.c.CloseWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		errs = append(errs, fmt.Errorf("close tcp proxy: connections still open after %v", p.c.CloseWait))
	}
	return errors.Join(errs...)
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// What admit did with a client connection.
const (
	admitted    = iota
	admitClosed // the proxy is closed: the caller must close c
	admitFull   // MaxConns are open: the caller must refuse c
)

// admit tracks the client connection c (see track) unless the proxy is
// closed or MaxConns client connections are open; release undoes it.
func (p *Proxy) admit(c net.Conn) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return admitClosed
	}
	if p.c.MaxConns > 0 && p.active >= p.c.MaxConns {
		return admitFull
	}
	p.conns[c] = struct{}{}
	p.active++
	return admitted
}

// track registers c so Close can abort it; it reports false when the
// proxy is already closed (the caller must then close c).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) release(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.active--
	p.mu.Unlock()
}

// refuse resets a connection accepted over MaxConns and records it: one
// block event (the recorder adds identical ones up), the destination
// and, when the sandbox's record answers at once, the process. It does
// no more work than that, so a flood of connections costs little.
func (p *Proxy) refuse(c net.Conn) {
	p.refused.Add(1)
	ev := event.Event{Time: p.c.Now(), Kind: event.KindConnect, Verdict: event.VerdictBlock, Proto: "tcp",
		Reason: fmt.Sprintf("%s: %d connections open", ReasonConnLimit, p.c.MaxConns)}
	if dst, err := p.c.OriginalDst(c); err == nil {
		ev.IP, ev.Port = dst.Addr().Unmap().String(), dst.Port()
		if p.c.Names != nil {
			ev.Name, _ = p.c.Names.NameFor(dst.Addr().Unmap())
		}
		if p.c.AttributeConnNow != nil {
			if src := addrPort(c.RemoteAddr()); src.IsValid() {
				if pid, cmd, ok := p.c.AttributeConnNow(src, dst); ok {
					ev.PID, ev.Cmdline = pid, cmd
				}
			}
		}
	}
	reset(c)
	p.c.Sink.Emit(ev)
}

// Refused returns how many connections were refused because MaxConns
// were open.
func (p *Proxy) Refused() int { return int(p.refused.Load()) }

// MaxConns returns the bound on connections handled at once (negative: none).
func (p *Proxy) MaxConns() int { return p.c.MaxConns }

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// reset closes c with a TCP RST (SO_LINGER 0) when it is a TCP connection,
// so a refused client fails at once instead of seeing an orderly EOF.
func reset(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = c.Close()
}
