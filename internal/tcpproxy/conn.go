package tcpproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// connEvent is one connection's "connect" event. It is emitted exactly once,
// by whichever of the handler (once it has filled the event in) and the
// attribution goroutine (once it knows the process) finishes second, so
// that neither waits for the other and no goroutine is started just to
// emit.
type connEvent struct {
	p  *Proxy
	ev event.Event
	// src and dst are the connection's client address and original
	// destination (dst invalid: unknown), for attribution.
	src, dst netip.AddrPort
	// refs counts the parties still to finish: the handler, and the
	// attribution goroutine while it runs.
	refs atomic.Int32
	// attributed is closed when the process is known (at once without
	// attribution); pid and cmdline are set before it is closed. Nil
	// until attribution has started.
	attributed chan struct{}
	lookup     func() (int, string)
	pid        int
	cmdline    string
}

// attribute starts naming the process behind the connection, once; only
// the handler calls it: for a relayed connection once the client's first
// bytes are on their way upstream, so the lookup overlaps the upstream's
// round trip (the answer waits for it at most AttributionGrace), for a
// refused one before the reset. AttributeConnNow answers inline; the
// other lookups run on a worker.
func (e *connEvent) attribute() {
	if e.attributed != nil {
		return
	}
	e.attributed = make(chan struct{})
	e.refs.Store(1)
	c, src, dst := e.p.c, e.src, e.dst
	if c.AttributeConnNow != nil && src.IsValid() && dst.IsValid() {
		if pid, cmd, ok := c.AttributeConnNow(src, dst); ok {
			e.pid, e.cmdline = pid, cmd
			close(e.attributed)
			return
		}
	}
	var fn func() (int, string)
	switch {
	case !src.IsValid():
	case c.AttributeConn != nil && dst.IsValid():
		fn = func() (int, string) { return c.AttributeConn(src, dst) }
	case c.Attribute != nil:
		fn = func() (int, string) { return c.Attribute("tcp", src) }
	}
	if fn == nil {
		close(e.attributed)
		return
	}
	e.lookup = fn
	e.refs.Add(1)
	e.p.wg.Add(1) // Close waits for the event
	e.p.workers.run(e.runAttribution)
}

// runAttribution does e's lookup and emits the event if the handler is
// done with it.
func (e *connEvent) runAttribution() {
	defer e.p.wg.Done()
	e.pid, e.cmdline = e.lookup()
	close(e.attributed)
	e.done()
}

// finish is called by the handler once the event is complete: it is
// emitted now if the process is known, else by the attribution goroutine.
func (e *connEvent) finish() {
	e.attribute()
	e.done()
}

// emitNow waits for attribution and emits the event: a refused (or
// failed) connection's client gets its reset only after the event names
// the process that tried.
func (e *connEvent) emitNow() {
	e.attribute()
	<-e.attributed
	e.done()
}

// done is called once by the handler and once by the attribution
// goroutine; the second call emits the event.
func (e *connEvent) done() {
	if e.refs.Add(-1) != 0 {
		return
	}
	e.ev.PID, e.ev.Cmdline = e.pid, e.cmdline
	e.ev.Time = e.p.c.Now()
	e.p.c.Sink.Emit(e.ev)
}

// handle runs one accepted connection to completion: decide, emit one
// event, then refuse or relay.
//
// The critical path of an allowed connection is: SO_ORIGINAL_DST, name
// and policy lookups (in memory), one non-blocking read of the client's
// first bytes, the dial, the replay of those bytes, the relay. When the
// client's first bytes are not there yet, the dial runs while the proxy
// waits for them (no byte reaches the upstream before the sniff has
// decided). Process attribution runs beside it and is joined only when the
// event is emitted (see connEvent).
func (p *Proxy) handle(c net.Conn) {
	e := &connEvent{p: p, ev: event.Event{Kind: event.KindConnect, Proto: "tcp"}}
	ev := &e.ev
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		e.src = netip.AddrPortFrom(ta.AddrPort().Addr().Unmap(), ta.AddrPort().Port())
	} else if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		e.src = ap
	}

	dst, err := p.c.OriginalDst(c)
	if err != nil {
		ev.Verdict = event.VerdictBlock
		ev.Reason = err.Error()
		e.emitNow()
		reset(c)
		return
	}
	e.dst = dst
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	ev.IP, ev.Port = dst.Addr().String(), dst.Port()

	var name string
	if p.c.Names != nil {
		if n, ok := p.c.Names.NameFor(dst.Addr()); ok {
			name = normalizeName(n)
		}
	}
	ev.Name = name
	// A synthetic address the DNS server never handed out (or has
	// forgotten) has nothing real behind it: refused in every mode.
	stale := name == "" && p.c.Synthetic.IsValid() && p.c.Synthetic.Contains(dst.Addr())
	d := policy.Decision{Reason: "synthetic address not handed out by the dns server"}
	if !stale {
		d = p.c.Policy.Decide(policy.Request{Name: name, Addr: dst.Addr(), Port: dst.Port(), Proto: "tcp"})
	}
	ev.Rule = d.Rule
	target := dst.String()
	if name != "" {
		target = net.JoinHostPort(name, strconv.Itoa(int(dst.Port())))
	}

	// A name-bound connection is verified: relayed only after a TLS
	// ClientHello naming it or HTTP/1.x requests naming it, unless the
	// policy lists the destination as opaque TCP. A refused connection
	// is sniffed only to record what it was after. An allowed literal IP
	// or host-port has nothing to verify, and waiting for a ClientHello
	// would cost a server-speaks-first protocol (a database behind
	// host-ports) the peek timeout on every connection.
	block := stale || p.c.Policy.Mode() == policy.ModeBlock
	opaque := false
	if name != "" && d.Allow {
		if rule, ok := p.c.Policy.OpaqueTCP(name, dst.Port()); ok {
			opaque, ev.Rule = true, rule
		}
	}
	// A name the policy refuses is not verified, only recorded (block
	// mode refuses it anyway; audit mode records it as audit already):
	// an audit run does not stall 10 s on each server-speaks-first
	// connection to a name not yet in the policy.
	verify := name != "" && !opaque && d.Allow
	var s sniffResult
	var bufp *[]byte
	release := func() {
		if bufp != nil {
			sniffPool.Put(bufp)
			bufp = nil
		}
	}
	defer release()
	var early *pendingDial
	if verify || !d.Allow {
		bufp = sniffPool.Get().(*[]byte)
		var done bool
		s, done = sniffNow(c, (*bufp)[:0], name)
		if !done {
			// The client has not sent (all of) its first bytes yet:
			// dial meanwhile when the connection will be dialled
			// unless the sniff refuses it.
			if d.Allow || !block {
				early = p.dialAsync(target)
			}
			s = p.sniff(c, s.data, name, verify)
		}
		ev.SNI, ev.Host = s.sni, s.host
	}

	var reasons []string
	if !d.Allow {
		reasons = append(reasons, nonEmpty(d.Reason, "not in policy"))
	}
	mismatch := ""
	if verify || s.kind == openTLS || s.kind == openHTTP {
		mismatch = mismatchReason(name, s, p.c.OpeningTimeout)
	}
	if mismatch != "" {
		reasons = append(reasons, mismatch)
	} else {
		if s.ech {
			reasons = append(reasons, "ech: the real server name is encrypted")
		}
		if s.note != "" {
			reasons = append(reasons, s.note)
		}
	}
	ev.Reason = strings.Join(reasons, "; ")

	switch {
	case d.Allow && mismatch == "":
		ev.Verdict = event.VerdictAllow
	case block:
		ev.Verdict = event.VerdictBlock
		e.emitNow()
		reset(c)
		if early != nil {
			early.abandon()
		}
		return
	default:
		ev.Verdict = event.VerdictAudit
	}

	var up net.Conn
	if early != nil {
		up, err = early.wait()
	} else {
		up, err = p.dial(target)
	}
	if err != nil {
		if errors.Is(err, ErrDialRefused) {
			// The destination itself is refused (e.g. the name
			// resolved only to private addresses): in every mode.
			ev.Verdict = event.VerdictBlock
			ev.Reason = joinReason(ev.Reason, err.Error())
		} else {
			ev.Reason = joinReason(ev.Reason, "upstream unreachable: "+err.Error())
		}
		e.emitNow()
		reset(c)
		return
	}
	if ta, ok := up.RemoteAddr().(*net.TCPAddr); ok && name != "" {
		// Report the address actually reached, not the synthetic one.
		ev.IP = ta.AddrPort().Addr().Unmap().String()
	}
	if !p.track(up) {
		reset(up)
		reset(c)
		e.finish()
		return
	}
	defer p.untrack(up)
	first := s.data
	var toUp copyFunc
	if s.stream != nil && ev.Verdict == event.VerdictAllow {
		// Plain HTTP: every later request head is verified too.
		first, toUp = s.fwd, p.verifiedCopy(e, *ev, s.stream)
	}
	if len(first) > 0 {
		if _, err := up.Write(first); err != nil {
			reset(up)
			reset(c)
			e.finish()
			return
		}
	}
	release() // not held for the life of the relay
	// The event follows as soon as attribution is done (Close waits for
	// it). An allowed connection's answer waits for attribution at most
	// AttributionGrace; an audited one's waits, since the process matters
	// for what block mode would refuse.
	e.attribute()
	gate, grace := (<-chan struct{})(e.attributed), time.Duration(0)
	if ev.Verdict == event.VerdictAllow {
		gate, grace = allowedGate(e.attributed, p.c.AttributionGrace)
	}
	ka := time.AfterFunc(keepAliveAfter, func() { upstreamKeepAlive(up) })
	relayWith(c, up, gate, grace, p.workers.run, e.finish, toUp)
	ka.Stop()
}

// pendingDial is an upstream dial running while the proxy still reads the
// client's first bytes.
type pendingDial struct {
	cancel context.CancelFunc
	ch     chan dialResult
}

type dialResult struct {
	c   net.Conn
	err error
}

// dialAsync starts dialling target; the caller must call exactly one of
// wait and abandon.
func (p *Proxy) dialAsync(target string) *pendingDial {
	ctx, cancel := context.WithTimeout(p.ctx, p.c.DialTimeout)
	d := &pendingDial{cancel: cancel, ch: make(chan dialResult, 1)}
	p.wg.Add(1)
	// On a reused worker: a dial runs deep (resolution, net.Dialer), and
	// a new goroutine per connection grew its stack by copying on every
	// connection.
	p.workers.run(func() {
		defer p.wg.Done()
		c, err := p.c.Dial(ctx, "tcp", target)
		d.ch <- dialResult{c, err}
	})
	return d
}

// wait returns the dial's result.
func (d *pendingDial) wait() (net.Conn, error) {
	r := <-d.ch
	d.cancel()
	return r.c, r.err
}

// abandon cancels the dial and resets the connection if it was made; not
// a byte has been written to it.
func (d *pendingDial) abandon() {
	d.cancel()
	if r := <-d.ch; r.c != nil {
		reset(r.c)
	}
}

// keepAliveAfter is how long a relay runs before its upstream connection
// gets TCP keep-alive (a variable for tests).
var keepAliveAfter = 5 * time.Second

// upstreamKeepAlive turns TCP keep-alive on for an upstream connection (as
// net.Dialer does by default), so a relay to an upstream that vanished
// ends. It costs four system calls (~5-10 us on the CI VM), so the proxy
// spends them only on a relay that lasts keepAliveAfter: most connections
// of a build are over long before, and keep-alive's first probe would
// come 15 s into idleness anyway.
func upstreamKeepAlive(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9})
	}
}

// allowedGate returns the gate and the bound on waiting for it for an
// allowed connection whose attribution closes attributed.
func allowedGate(attributed <-chan struct{}, grace time.Duration) (<-chan struct{}, time.Duration) {
	if grace < 0 {
		return closedGate, 0
	}
	return attributed, grace
}

// closedGate lets a relay pass bytes to the client at once.
var closedGate = func() <-chan struct{} { c := make(chan struct{}); close(c); return c }()

// dial opens the upstream connection, bounded by DialTimeout and
// cancelled by Close.
func (p *Proxy) dial(target string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.c.DialTimeout)
	defer cancel()
	return p.c.Dial(ctx, "tcp", target)
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
