package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// sniffResult is what the proxy learned from the client's first bytes.
type sniffResult struct {
	data []byte // bytes read from the client, to replay upstream
	sni  string
	host string
	ech  bool
	// note says why nothing was learned ("no client hello", ...); empty
	// when a ClientHello or HTTP request head was parsed or the protocol
	// is simply not one the proxy reads.
	note string
	// bad is true when the client started TLS or HTTP but the head was
	// malformed or incomplete: a name could be hidden in it.
	bad bool
}

var sniffPool = sync.Pool{New: func() any { b := make([]byte, maxSniff); return &b }}

// handle runs one accepted connection to completion: decide, emit one
// event, then refuse or relay.
func (p *Proxy) handle(c net.Conn) {
	ev := event.Event{Kind: event.KindConnect, Proto: "tcp"}

	// Attribution starts as soon as the destination is known and runs
	// while the proxy sniffs and dials; attributed is closed when it is
	// done (at once without an attribution function). A refused (or
	// audited) connection's event waits for it before the client gets its
	// reset, so the process that tried is named; an allowed connection is
	// never held for it: its event follows when attribution is done.
	attributed := make(chan struct{})
	var pid int
	var cmdline string
	src, srcErr := netip.ParseAddrPort(c.RemoteAddr().String())
	attribute := func(dst netip.AddrPort) {
		switch {
		case srcErr != nil:
			close(attributed)
		case p.c.AttributeConn != nil && dst.IsValid():
			go func() {
				defer close(attributed)
				pid, cmdline = p.c.AttributeConn(src, dst)
			}()
		case p.c.Attribute != nil:
			go func() {
				defer close(attributed)
				pid, cmdline = p.c.Attribute("tcp", src)
			}()
		default:
			close(attributed)
		}
	}
	emit := func() {
		<-attributed
		ev.PID, ev.Cmdline = pid, cmdline
		ev.Time = p.c.Now()
		p.c.Sink.Emit(ev)
	}

	dst, err := p.c.OriginalDst(c)
	if err != nil {
		attribute(netip.AddrPort{})
		ev.Verdict = event.VerdictBlock
		ev.Reason = err.Error()
		emit()
		reset(c)
		return
	}
	attribute(dst)
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

	// Sniff when there is a name to check the SNI/Host against, or to
	// record what a refused (or audited) connection was after. An allowed
	// literal IP or host-port has nothing to verify, and waiting for a
	// ClientHello would cost a server-speaks-first protocol (a database
	// behind host-ports) the peek timeout on every connection.
	var s sniffResult
	var bufp *[]byte
	release := func() {
		if bufp != nil {
			sniffPool.Put(bufp)
			bufp = nil
		}
	}
	defer release()
	if name != "" || !d.Allow {
		bufp = sniffPool.Get().(*[]byte)
		s = p.sniff(c, (*bufp)[:0])
		ev.SNI, ev.Host = s.sni, s.host
	}

	var reasons []string
	if !d.Allow {
		reasons = append(reasons, nonEmpty(d.Reason, "not in policy"))
	}
	mismatch := mismatchReason(name, s)
	if mismatch != "" {
		reasons = append(reasons, mismatch)
	}
	if s.ech {
		reasons = append(reasons, "ech: the real server name is encrypted")
	}
	if s.note != "" && (mismatch == "" || !s.bad) {
		reasons = append(reasons, s.note)
	}
	ev.Reason = strings.Join(reasons, "; ")

	switch {
	case d.Allow && mismatch == "":
		ev.Verdict = event.VerdictAllow
	case stale || p.c.Policy.Mode() == policy.ModeBlock:
		ev.Verdict = event.VerdictBlock
		emit()
		reset(c)
		return
	default:
		ev.Verdict = event.VerdictAudit
	}

	target := dst.String()
	if name != "" {
		target = net.JoinHostPort(name, strconv.Itoa(int(dst.Port())))
	}
	up, err := p.dial(target)
	if err != nil {
		ev.Reason = joinReason(ev.Reason, "upstream unreachable: "+err.Error())
		emit()
		reset(c)
		return
	}
	if ta, ok := up.RemoteAddr().(*net.TCPAddr); ok && name != "" {
		// Report the address actually reached, not the synthetic one.
		ev.IP = ta.AddrPort().Addr().Unmap().String()
	}
	// Relay at once; the event follows as soon as attribution is done.
	// Close still waits for it. An allowed connection's answer does not
	// wait for attribution (an exact lookup started before the dial is
	// almost always done by the time the upstream answers); an audited
	// one's does, since the process matters for what block mode would
	// refuse.
	gate := closedGate
	if ev.Verdict != event.VerdictAllow {
		gate = attributed
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		emit()
	}()

	if !p.track(up) {
		reset(up)
		reset(c)
		return
	}
	defer p.untrack(up)
	if len(s.data) > 0 {
		if _, err := up.Write(s.data); err != nil {
			reset(up)
			reset(c)
			return
		}
	}
	release() // not held for the life of the relay
	relay(c, up, gate)
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

// sniff reads the client's first bytes into buf (capacity maxSniff) and
// parses a TLS ClientHello or an HTTP/1.x request head. It waits
// PeekTimeout for the first byte and SniffTimeout for a complete head; it
// never consumes more than maxSniff bytes, and leaves c without a deadline.
func (p *Proxy) sniff(c net.Conn, buf []byte) sniffResult {
	defer c.SetReadDeadline(time.Time{})
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(p.c.PeekTimeout))
	for {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > 0 {
			r, done := classify(buf)
			if done {
				r.data = buf
				return r
			}
		}
		if err != nil {
			r := sniffResult{data: buf}
			switch {
			case len(buf) == 0 && errors.Is(err, os.ErrDeadlineExceeded):
				r.note = "no client hello"
			case len(buf) == 0:
				r.note = "client sent nothing"
			default:
				r.note = "client hello incomplete"
				r.bad = true
			}
			return r
		}
		if len(buf) == cap(buf) {
			return sniffResult{data: buf, note: "client hello too long", bad: true}
		}
		if n > 0 && len(buf) == n {
			// Data started flowing: allow the full sniff budget.
			_ = c.SetReadDeadline(start.Add(p.c.SniffTimeout))
		}
	}
}

// classify inspects the buffered client bytes; done is false when more
// bytes are needed to tell.
func classify(b []byte) (r sniffResult, done bool) {
	if b[0] == recordTypeHandshake {
		ch, err := parseClientHello(b)
		switch {
		case errors.Is(err, errNeedMore):
			return r, false
		case errors.Is(err, errNotTLS):
			return sniffResult{note: "unrecognised protocol"}, true
		case err != nil:
			return sniffResult{note: "malformed client hello: " + err.Error(), bad: true}, true
		}
		return sniffResult{sni: ch.SNI, ech: ch.ECH}, true
	}
	req, err := parseHTTPRequest(b)
	switch {
	case errors.Is(err, errNeedMore):
		return r, false
	case errors.Is(err, errNotHTTP):
		return sniffResult{}, true
	case err != nil:
		return sniffResult{note: "malformed http request: " + err.Error(), bad: true}, true
	}
	return sniffResult{host: req.Host}, true
}

// mismatchReason returns why the sniffed SNI or Host contradicts the name
// the connection is bound to, or "" when they agree (or the connection is
// not bound to a name, or nothing was sniffed).
func mismatchReason(name string, s sniffResult) string {
	if name == "" {
		return ""
	}
	switch {
	case s.sni != "" && s.sni != name:
		return fmt.Sprintf("sni mismatch: sni %q on a connection to %q", s.sni, name)
	case s.host != "" && s.host != name:
		return fmt.Sprintf("host mismatch: host %q on a connection to %q", s.host, name)
	case s.bad:
		return "cannot verify the server name: " + s.note
	}
	return ""
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
