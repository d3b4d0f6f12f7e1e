package tcpproxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// openingKind is what a connection's first client bytes turned out to be.
type openingKind uint8

const (
	openNone  openingKind = iota // nothing (timeout or EOF)
	openTLS                      // a TLS ClientHello
	openHTTP                     // an HTTP/1.x request head
	openOther                    // neither
)

// sniffResult is what the proxy learned from the client's first bytes.
type sniffResult struct {
	data []byte // bytes read from the client, to replay upstream
	kind openingKind
	sni  string
	host string
	ech  bool
	// mismatch is why an HTTP opening does not verify against the bound
	// name ("" when it does, or when there is no name).
	mismatch string
	// stream is the verifier of a plain HTTP connection that has
	// consumed data; fwd is the verified part of data, to send upstream
	// instead of data. Nil when the opening did not verify.
	stream *httpStream
	fwd    []byte
	// note says why nothing was learned ("no client hello", ...); empty
	// when a ClientHello or HTTP request head was parsed.
	note string
	// timeout: no complete opening arrived in time.
	timeout bool
	// bad is true when the client started TLS or HTTP but the head was
	// malformed or incomplete: a name could be hidden in it.
	bad bool
}

var sniffPool = sync.Pool{New: func() any { b := make([]byte, maxSniff); return &b }}

// sniff reads the client's first bytes into buf (capacity maxSniff; it may
// already hold bytes read before) and classifies them against name (see
// classify). With verify, the whole opening must arrive within
// OpeningTimeout: a name-bound connection is never relayed on a timer.
// Without, it waits PeekTimeout for the first byte and SniffTimeout for a
// complete head (the connection is refused anyway, or not name-bound:
// this only records what it was after). It never consumes more than
// maxSniff bytes, and leaves c without a deadline.
func (p *Proxy) sniff(c net.Conn, buf []byte, name string, verify bool) sniffResult {
	defer c.SetReadDeadline(time.Time{})
	start := time.Now()
	switch {
	case verify:
		_ = c.SetReadDeadline(start.Add(p.c.OpeningTimeout))
	case len(buf) > 0:
		_ = c.SetReadDeadline(start.Add(p.c.SniffTimeout))
	default:
		_ = c.SetReadDeadline(start.Add(p.c.PeekTimeout))
	}
	for {
		if len(buf) == cap(buf) {
			return sniffResult{data: buf, note: "client hello too long", bad: true}
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > 0 && mayComplete(buf, n) {
			r, done := classify(name, buf)
			if done {
				r.data = buf
				return r
			}
		}
		if err != nil {
			r := sniffResult{data: buf}
			timeout := errors.Is(err, os.ErrDeadlineExceeded)
			switch {
			case len(buf) == 0 && timeout:
				r.note, r.timeout = "no client hello", true
			case len(buf) == 0:
				r.note = "client sent nothing"
			case timeout:
				r.note, r.timeout, r.bad = "client hello incomplete", true, true
			default:
				r.note, r.bad = "client hello incomplete", true
			}
			return r
		}
		if n > 0 && len(buf) == n && !verify {
			// Data started flowing: allow the full sniff budget.
			_ = c.SetReadDeadline(start.Add(p.c.SniffTimeout))
		}
	}
}

// mayComplete reports whether the n bytes just added to buf can change
// what classify says: always for TLS and for what does not start like an
// HTTP request line, and for HTTP only when they hold a line end (a head
// cannot end without one). A client dripping a head byte by byte thus
// costs one parse per line, not one per byte.
func mayComplete(buf []byte, n int) bool {
	return buf[0] == recordTypeHandshake || looksLikeHTTP(buf) != nil ||
		bytes.IndexByte(buf[len(buf)-n:], '\n') >= 0
}

// sniffNow classifies what the client has already sent, with one
// non-blocking read and no deadline (no timer): on the usual path (a
// client that connects and writes its ClientHello or request at once) the
// proxy decides without waiting. done is false when more bytes are needed
// or none are there yet; r.data then holds what was read, for sniff to
// continue from.
func sniffNow(c net.Conn, buf []byte, name string) (r sniffResult, done bool) {
	n := readNow(c, buf[:cap(buf)])
	buf = buf[:n]
	if n > 0 {
		if r, done = classify(name, buf); done {
			r.data = buf
			return r, true
		}
	}
	return sniffResult{data: buf}, false
}

// classify inspects the buffered client bytes of a connection bound to
// name ("": not bound; the head is only recorded); done is false when
// more bytes are needed to tell. An HTTP opening is run through an
// httpStream, so every request head already buffered (pipelined ones
// too) is verified.
func classify(name string, b []byte) (r sniffResult, done bool) {
	if b[0] == recordTypeHandshake {
		ch, err := parseClientHello(b)
		switch {
		case errors.Is(err, errNeedMore):
			return r, false
		case errors.Is(err, errNotTLS):
			return sniffResult{kind: openOther, note: "unrecognised protocol"}, true
		case err != nil:
			return sniffResult{kind: openTLS, note: "malformed client hello: " + err.Error(), bad: true}, true
		}
		return sniffResult{kind: openTLS, sni: ch.SNI, ech: ch.ECH}, true
	}
	switch err := looksLikeHTTP(b); {
	case errors.Is(err, errNeedMore):
		return r, false
	case err != nil:
		return sniffResult{kind: openOther}, true
	}
	st := &httpStream{name: name}
	out, err := st.feed(nil, b)
	var v *violation
	switch {
	case errors.As(err, &v):
		host := v.host
		if host == "" {
			host = st.first.Host
		}
		return sniffResult{kind: openHTTP, host: host, mismatch: v.reason}, true
	case errors.Is(err, errNotHTTP):
		return sniffResult{kind: openOther}, true
	case err != nil:
		return sniffResult{kind: openHTTP, host: st.first.Host, note: "malformed http request: " + err.Error(), bad: true}, true
	case st.heads == 0:
		return r, false
	}
	host := st.first.Host
	if !st.first.HasHost {
		host = st.first.Authority
	}
	return sniffResult{kind: openHTTP, host: host, stream: st, fwd: out}, true
}

// mismatchReason returns why the opening s does not verify on a
// connection bound to name, or "" when it does (or the connection is not
// bound to a name). A bound connection is relayed only after a TLS
// ClientHello whose SNI is the name (no ECH) or HTTP/1.x requests naming
// it; an opening that is neither, or none at all, does not verify.
func mismatchReason(name string, s sniffResult, opening time.Duration) string {
	if name == "" {
		return ""
	}
	switch {
	case s.bad:
		return "cannot verify the server name: " + s.note
	case s.kind == openTLS:
		return tlsMismatch(name, clientHello{SNI: s.sni, ECH: s.ech})
	case s.kind == openHTTP:
		return s.mismatch
	case s.kind == openOther:
		return "opaque tcp not allowed: the opening is neither a tls client hello nor an http/1.x request (list the destination under tcp: to allow it)"
	case s.timeout:
		return fmt.Sprintf("opening timeout: no tls client hello or http request within %v (a server-speaks-first protocol needs the destination under tcp:)", opening)
	}
	return "no opening: " + s.note
}
