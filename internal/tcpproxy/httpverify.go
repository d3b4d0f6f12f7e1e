package tcpproxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// violation is a request on a name-bound connection that names another
// host, or that the proxy cannot verify.
type violation struct {
	reason string
	// host is the HTTP name seen that differs from the bound one (the
	// Host header, an absolute-form target or a CONNECT target), or the
	// Host header when nothing differs.
	host string
	sni  string
}

func (v *violation) Error() string { return v.reason }

// streamState is where an httpStream is in the client's byte stream.
type streamState uint8

const (
	stHead      streamState = iota // at a request boundary
	stBodyStart                    // at the start of a Content-Length body
	stBody                         // in a Content-Length body
	stChunkLine                    // at a chunk-size line
	stChunkData                    // in chunk data
	stChunkCRLF                    // at the CRLF after chunk data
	stTrailers                     // in the trailer section
	stTunnel                       // after a verified CONNECT
	stTLS                          // reading a ClientHello inside a CONNECT tunnel
	stPass                         // verified opaque bytes (TLS in a tunnel)
)

// httpStream verifies a plain HTTP/1.x client byte stream: every request
// head on the connection (the first, kept-alive and pipelined ones) must
// name the bound host, in its Host header and, when present, in its
// request-target authority. It follows request bodies (Content-Length and
// chunked) to find the next head, and refuses what it cannot frame
// unambiguously. After a verified CONNECT to the bound name it expects a
// TLS ClientHello naming it (then the rest is opaque) or another request.
// An Upgrade (h2c, WebSocket) is refused: what follows it cannot be read.
//
// An httpStream is not safe for concurrent use; it is fed by one
// direction of one relay.
type httpStream struct {
	name      string // "" records the first head without verifying
	st        streamState
	remaining int64  // body or chunk bytes left
	pending   []byte // an incomplete head, chunk line, trailer or ClientHello
	heads     int    // request heads verified
	first     requestHead
}

// feed appends to out the bytes of b that belong to verified requests (or
// to a verified tunnel), and returns it. Bytes of an incomplete head are
// held until the head is complete. It returns a *violation when a request
// names another host or cannot be verified, and a *malformedError or
// errNotHTTP when the stream cannot be framed; out then holds the bytes
// before the offending head, which may be forwarded, and pending the rest
// of what was fed.
func (s *httpStream) feed(out, b []byte) ([]byte, error) {
	for len(b) > 0 {
		switch s.st {
		case stPass:
			return append(out, b...), nil
		case stBody, stChunkData:
			n := int(min(int64(len(b)), s.remaining))
			out, b = append(out, b[:n]...), b[n:]
			s.skip(int64(n))
			continue
		}
		buf := b
		if len(s.pending) > 0 {
			buf = append(s.pending, b...)
		}
		n, err := s.unit(buf)
		if errors.Is(err, errNeedMore) {
			if len(buf) > maxHead {
				return out, malformed("request head, chunk line or trailers too long")
			}
			s.pending = append(s.pending[:0:0], buf...)
			return out, nil
		}
		if err != nil {
			s.pending = append(s.pending[:0:0], buf...) // what was not forwarded
			return out, err
		}
		s.pending = nil
		out, b = append(out, buf[:n]...), buf[n:]
	}
	return out, nil
}

// bulk returns how many of the next bytes of the stream need no parsing:
// the rest of a Content-Length body or of a chunk's data; -1 when the rest
// of the stream is opaque (a verified TLS tunnel); 0 when the next bytes
// must be fed.
func (s *httpStream) bulk() int64 {
	if len(s.pending) > 0 {
		return 0
	}
	switch s.st {
	case stBody, stChunkData:
		return s.remaining
	case stPass:
		return -1
	}
	return 0
}

// skip records that n bytes of the current body or chunk data went by
// (0 <= n <= bulk()).
func (s *httpStream) skip(n int64) {
	if s.st != stBody && s.st != stChunkData {
		return
	}
	s.remaining -= n
	switch {
	case s.remaining > 0:
	case s.st == stBody:
		s.st = stHead
	default:
		s.st = stChunkCRLF
	}
}

// unit reads one complete unit of the current state at the start of b,
// verifies it and moves to the next state. It returns the unit's length or
// errNeedMore.
func (s *httpStream) unit(b []byte) (int, error) {
	switch s.st {
	case stHead:
		return s.head(b)
	case stBodyStart:
		return s.bodyStart(b)
	case stChunkLine:
		i := strings.Index(string(b[:min(len(b), maxHead)]), "\r\n")
		if i < 0 {
			if bareLF(b) {
				return 0, malformed("bare lf in chunk size")
			}
			return 0, errNeedMore
		}
		size, ext, _ := strings.Cut(string(b[:i]), ";")
		n, err := strconv.ParseUint(size, 16, 62)
		if err != nil || size == "" || strings.ContainsAny(ext, "\r\n\x00") {
			return 0, malformed("bad chunk size")
		}
		s.remaining = int64(n)
		s.st = stChunkData
		if n == 0 {
			s.st = stTrailers
		}
		return i + 2, nil
	case stChunkCRLF:
		if len(b) < 2 {
			return 0, errNeedMore
		}
		if b[0] != '\r' || b[1] != '\n' {
			return 0, malformed("chunk data not followed by crlf")
		}
		s.st = stChunkLine
		return 2, nil
	case stTrailers:
		i := strings.Index(string(b[:min(len(b), maxHead)]), "\r\n")
		if i < 0 {
			if bareLF(b) {
				return 0, malformed("bare lf in trailers")
			}
			return 0, errNeedMore
		}
		if i > 0 && (b[0] == ' ' || b[0] == '\t' || strings.ContainsAny(string(b[:i]), "\n\x00") || !strings.Contains(string(b[:i]), ":")) {
			return 0, malformed("bad trailer line")
		}
		if i == 0 {
			s.st = stHead
		}
		return i + 2, nil
	case stTunnel:
		if b[0] == recordTypeHandshake {
			s.st = stTLS
		} else {
			s.st = stHead
		}
		return 0, nil
	case stTLS:
		ch, err := parseClientHello(b)
		switch {
		case errors.Is(err, errNeedMore):
			return 0, err
		case err != nil:
			return 0, &violation{reason: "cannot verify the server name: malformed client hello in a connect tunnel: " + err.Error()}
		}
		if r := tlsMismatch(s.name, ch); r != "" && s.name != "" {
			return 0, &violation{reason: s.later(r), sni: ch.SNI}
		}
		s.st = stPass
		return len(b), nil
	}
	return 0, fmt.Errorf("http stream: bad state %d", s.st)
}

// head reads and verifies one request head.
func (s *httpStream) head(b []byte) (int, error) {
	h, err := parseRequestHead(b)
	switch {
	case errors.Is(err, errH2C):
		return 0, &violation{reason: s.later("h2c: an http/2 cleartext connection's streams are not verified")}
	case err != nil:
		return 0, err
	}
	if s.heads == 0 {
		s.first = h
	}
	if s.name != "" {
		if r, seen := headMismatch(s.name, h); r != "" {
			return 0, &violation{reason: s.later(r), host: seen}
		}
	}
	s.heads++
	switch {
	case h.Form == formAuthority:
		s.st = stTunnel
	case h.Chunked:
		s.st = stChunkLine
	case h.ContentLength > 0:
		s.st, s.remaining = stBodyStart, h.ContentLength
	}
	return h.Len, nil
}

// bodyStart refuses a Content-Length body that starts with an HTTP/1.x
// request line. A server that does not read the body of some requests
// (a redirect, a static file, an "Expect: 100-continue" it answered with
// a final status) reads that line as the next request: CL.0 and
// Expect-based desync, a request for another host hidden from the proxy
// as body bytes. It waits until the body's first line is complete (at
// most maxHead bytes), and moves to stBody without consuming anything.
func (s *httpStream) bodyStart(b []byte) (int, error) {
	body := b[:min(int64(len(b)), s.remaining, maxHead)]
	enough := int64(len(body)) == s.remaining || len(body) == maxHead
	_, err := parseRequestHead(body)
	switch {
	case errors.Is(err, errNotHTTP):
	case errors.Is(err, errNeedMore) && !enough:
		return 0, errNeedMore
	case !hasLineEnd(body):
		// No complete request line in the body (or in its first
		// maxHead bytes, longer than servers take): the bytes after a
		// short body start the next head, verified like any other.
	default:
		return 0, &violation{reason: "cannot verify the server name: a request body starts with a request line (a server that does not read the body would take it for the next request)"}
	}
	s.st = stBody
	return 0, nil
}

// hasLineEnd reports whether b holds a line end after optional leading
// empty lines.
func hasLineEnd(b []byte) bool {
	skip, err := skipCRLF(b)
	return err == nil && strings.IndexByte(string(b[skip:]), '\n') >= 0
}

// later prefixes the reason for a request after the first on the
// connection.
func (s *httpStream) later(reason string) string {
	if s.heads == 0 {
		return reason
	}
	return fmt.Sprintf("second request host mismatch: request %d: %s", s.heads+1, reason)
}

// headMismatch returns why the request head h does not verify on a
// connection bound to name, and the host it names instead; "" when it
// verifies.
func headMismatch(name string, h requestHead) (reason, seen string) {
	switch {
	case h.Form == formAuthority && h.Authority != name:
		return fmt.Sprintf("connect mismatch: %s %q on a connection to %q", h.Method, h.Authority, name), h.Authority
	case h.Form == formAbsolute && h.Authority != name:
		return fmt.Sprintf("absolute-form mismatch: target %q on a connection to %q", h.Authority, name), h.Authority
	case h.HasHost && h.Host != name:
		return fmt.Sprintf("host mismatch: host %q on a connection to %q", h.Host, name), h.Host
	case h.ForwardedHost != "" && h.ForwardedHost != name:
		return fmt.Sprintf("host mismatch: forwarded host %q on a connection to %q", h.ForwardedHost, name), h.ForwardedHost
	case !h.HasHost && h.Form != formAbsolute && h.Form != formAuthority:
		return fmt.Sprintf("no host: the request names no host on a connection to %q", name), ""
	case strings.Contains(h.Upgrade, "h2c"):
		return "h2c: upgrade to http/2 cleartext refused (its streams are not verified)", h.Host
	case h.Upgrade != "":
		return fmt.Sprintf("upgrade %q refused: what follows it cannot be verified", h.Upgrade), h.Host
	}
	return "", ""
}

// tlsMismatch returns why a ClientHello does not verify on a connection
// bound to name; "" when it does.
func tlsMismatch(name string, ch clientHello) string {
	switch {
	case ch.ECH:
		return "ech: the real server name is encrypted"
	case ch.SNI == "":
		return fmt.Sprintf("no sni: the client hello names no server on a connection to %q", name)
	case ch.SNI != name:
		return fmt.Sprintf("sni mismatch: sni %q on a connection to %q", ch.SNI, name)
	}
	return ""
}
