package tcpproxy

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
)

// maxMethodLen bounds the request method token (the longest registered
// method, UPDATEREDIRECTREF, has 17 letters).
const maxMethodLen = 20

// maxHead bounds one request head (request line and header block), and
// the chunk-size and trailer lines of a chunked body.
const maxHead = maxSniff

// maxLeadingCRLF is how many empty lines may precede a request line
// (RFC 9112 section 2.2 lets a server skip at least one); more is refused.
const maxLeadingCRLF = 4

// errNotHTTP reports that the bytes do not start an HTTP/1.x request.
var errNotHTTP = errors.New("not an http/1.x request")

// errH2C reports an HTTP/2 cleartext connection preface ("PRI *
// HTTP/2.0"): prior-knowledge h2c, whose streams the proxy does not read.
var errH2C = errors.New("http/2 cleartext (prior knowledge)")

// targetForm is the form of a request target (RFC 9112 section 3.2).
type targetForm uint8

const (
	formOrigin    targetForm = iota // "/path"
	formAbsolute                    // "http://host/path" (proxy style)
	formAuthority                   // "host:port" (CONNECT)
	formAsterisk                    // "*" (OPTIONS)
)

// requestHead is what the proxy learns from one HTTP/1.x request head.
type requestHead struct {
	Method string
	// Host is the Host header, lower-cased, without port or trailing
	// dot; HasHost says whether there was one.
	Host    string
	HasHost bool
	// Form is the request target's form; Authority is its host
	// (normalised like Host) for formAbsolute and formAuthority.
	Form      targetForm
	Authority string
	// Upgrade is the Upgrade header, lower-cased ("" when absent).
	Upgrade string
	// ForwardedHost is an X-Forwarded-Host or X-Host header, normalised
	// like Host: some front ends route by it.
	ForwardedHost string
	// Chunked: Transfer-Encoding chunked. ContentLength is the
	// Content-Length header, -1 when absent.
	Chunked       bool
	ContentLength int64
	// Len is the length of the head in bytes, leading empty lines and
	// the final empty line included.
	Len int

	http10 bool
}

// tchar reports whether c is a token character (RFC 9110 section 5.6.2).
func tchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// skipCRLF returns the length of the empty lines at the start of b, or
// errNeedMore/errNotHTTP.
func skipCRLF(b []byte) (int, error) {
	i := 0
	for n := 0; ; n++ {
		switch {
		case i == len(b):
			return 0, errNeedMore
		case b[i] != '\r':
			return i, nil
		case i+1 == len(b):
			return 0, errNeedMore
		case b[i+1] != '\n' || n == maxLeadingCRLF:
			return 0, errNotHTTP
		}
		i += 2
	}
}

// looksLikeHTTP reports whether b could be the start of an HTTP/1.x
// request: optional empty lines, then a method token of any case followed
// by a space. Lower-case and unregistered methods are recognised on
// purpose: a server may accept them, so they must be verified, not passed
// as an unknown protocol. It returns errNeedMore when b is too short to
// tell.
func looksLikeHTTP(b []byte) error {
	skip, err := skipCRLF(b)
	if err != nil {
		return err
	}
	for i, c := range b[skip:] {
		switch {
		case c == ' ' && i > 0:
			return nil
		case tchar(c) && i < maxMethodLen:
		default:
			return errNotHTTP
		}
	}
	return errNeedMore
}

// malformedError is an HTTP/1.x request the proxy cannot parse safely:
// one that could be read two ways (and so hide a request from it).
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return "http: " + e.msg }

func malformed(msg string) error { return &malformedError{msg} }

// parseRequestHead parses the HTTP/1.x request head at the start of b. It
// returns errNeedMore when the head is not complete yet, errNotHTTP when
// b is not an HTTP/1.x request, errH2C for an HTTP/2 preface, and a
// *malformedError for a head that could be read more than one way: bare
// LF line ends, folded or nameless header lines, two Host, Content-Length
// or Transfer-Encoding headers, Content-Length with Transfer-Encoding, a
// transfer coding other than chunked, or a Host or target that is not a
// plain authority. It reads only the head, never the body.
func parseRequestHead(b []byte) (requestHead, error) {
	if err := looksLikeHTTP(b); err != nil {
		return requestHead{}, err
	}
	skip, _ := skipCRLF(b)
	rest := b[skip:]
	eol := bytes.IndexByte(rest, '\n')
	if eol < 0 {
		if len(b) >= maxHead {
			return requestHead{}, malformed("request line too long")
		}
		return requestHead{}, errNeedMore
	}
	if eol == 0 || rest[eol-1] != '\r' {
		return requestHead{}, errNotHTTP
	}
	h := requestHead{ContentLength: -1}
	target, err := h.requestLine(rest[:eol-1])
	if err != nil {
		return requestHead{}, err
	}
	end := bytes.Index(rest, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= maxHead {
			return requestHead{}, malformed("request head too long")
		}
		if bareLF(rest[eol+1:]) {
			// Some servers end a line (or the head) at a bare LF: the
			// proxy could not tell where the head ends.
			return requestHead{}, malformed("bare lf in request head")
		}
		return requestHead{}, errNeedMore
	}
	h.Len = skip + end + 4
	if h.Len > maxHead {
		return requestHead{}, malformed("request head too long")
	}
	if eol+1 < end+2 {
		if err := h.headers(rest[eol+1 : end+2]); err != nil {
			return requestHead{}, err
		}
	}
	if err := h.target(target); err != nil {
		return requestHead{}, err
	}
	return h, nil
}

// requestLine parses "METHOD SP target SP HTTP/1.x" into h and returns
// the target.
func (h *requestHead) requestLine(line []byte) (string, error) {
	parts := strings.Split(string(line), " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", errNotHTTP
	}
	switch v := parts[2]; {
	case v == "HTTP/2.0" && parts[0] == "PRI" && parts[1] == "*":
		return "", errH2C
	case v == "HTTP/1.0":
		h.http10 = true
	case v != "HTTP/1.1":
		return "", errNotHTTP
	}
	for i := 0; i < len(parts[1]); i++ {
		if c := parts[1][i]; c <= ' ' || c >= 0x7f {
			return "", malformed("control or non-ascii byte in request target")
		}
	}
	h.Method = parts[0]
	return parts[1], nil
}

// headers parses the header lines (each ended by CRLF) into h.
func (h *requestHead) headers(block []byte) error {
	var seenCL, seenTE bool
	for len(block) > 0 {
		i := bytes.Index(block, []byte("\r\n"))
		if i < 0 {
			return malformed("header line without crlf")
		}
		line := string(block[:i])
		block = block[i+2:]
		if strings.ContainsAny(line, "\r\n\x00") {
			return malformed("bare cr, lf or nul in a header line")
		}
		if line[0] == ' ' || line[0] == '\t' {
			return malformed("folded header line")
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" {
			return malformed("header line without a name")
		}
		for j := 0; j < len(k); j++ {
			if !tchar(k[j]) {
				return malformed("invalid header name")
			}
		}
		if err := underscoreAlias(k); err != nil {
			return err
		}
		v = strings.Trim(v, " \t")
		switch {
		case strings.EqualFold(k, "Host"):
			if h.HasHost {
				return malformed("more than one host header")
			}
			host, err := hostOnly(v)
			if err != nil {
				return err
			}
			h.Host, h.HasHost = host, true
		case strings.EqualFold(k, "Content-Length"):
			n, err := strconv.ParseInt(v, 10, 64)
			if seenCL || err != nil || n < 0 || v == "" || v[0] == '+' {
				return malformed("bad or repeated content-length")
			}
			seenCL, h.ContentLength = true, n
		case strings.EqualFold(k, "Transfer-Encoding"):
			if seenTE || !strings.EqualFold(v, "chunked") {
				return malformed("transfer-encoding other than one chunked")
			}
			seenTE, h.Chunked = true, true
		case strings.EqualFold(k, "Upgrade"):
			h.Upgrade = strings.ToLower(joinComma(h.Upgrade, v))
		case strings.EqualFold(k, "X-Forwarded-Host") || strings.EqualFold(k, "X-Host"):
			if h.ForwardedHost != "" {
				return malformed("more than one forwarded host header")
			}
			host, err := hostOnly(v)
			if err != nil || host == "" {
				return malformed("invalid forwarded host header")
			}
			h.ForwardedHost = host
		case strings.EqualFold(k, "Forwarded"):
			if err := h.forwarded(v); err != nil {
				return err
			}
		}
	}
	if seenCL && seenTE {
		return malformed("both content-length and transfer-encoding")
	}
	if (seenTE || h.ContentLength > 0) && (strings.EqualFold(h.Method, "GET") || strings.EqualFold(h.Method, "HEAD")) {
		// Some servers ignore the body of a GET or HEAD ("CL.0") and
		// would read a request hidden in it as the next one.
		return malformed("body on a get or head request")
	}
	if seenTE && h.http10 {
		// An HTTP/1.0 server may ignore Transfer-Encoding and read the
		// chunks as the next request.
		return malformed("transfer-encoding in an http/1.0 request")
	}
	return nil
}

// framingHeaders are the headers the proxy frames or routes requests by.
var framingHeaders = []string{"host", "content-length", "transfer-encoding", "x-forwarded-host", "x-host"}

// underscoreAlias refuses a header name that spells one of
// framingHeaders with underscores ("Transfer_Encoding"): servers that map
// "_" to "-" (CGI-style stacks) would frame or route by a header the
// proxy did not read, and smuggle a request past it.
func underscoreAlias(k string) error {
	if strings.IndexByte(k, '_') < 0 {
		return nil
	}
	alias := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	if slices.Contains(framingHeaders, alias) {
		return malformed("header name " + alias + " spelled with underscores")
	}
	return nil
}

// forwarded reads the host= parameters of a Forwarded header (RFC 7239)
// into h.ForwardedHost, like X-Forwarded-Host: some front ends route by
// it. More than one forwarded host is refused.
func (h *requestHead) forwarded(v string) error {
	for _, elem := range strings.Split(v, ",") {
		for _, pair := range strings.Split(elem, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "host") {
				continue
			}
			host, err := hostOnly(strings.Trim(strings.TrimSpace(val), `"`))
			if err != nil || host == "" {
				return malformed("invalid host in forwarded header")
			}
			if h.ForwardedHost != "" {
				return malformed("more than one forwarded host header")
			}
			h.ForwardedHost = host
		}
	}
	return nil
}

// bareLF reports whether b holds an LF not preceded by CR.
func bareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

func joinComma(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// target classifies the request target and records its authority.
func (h *requestHead) target(t string) error {
	switch {
	case len(t) >= 2 && (t[0] == '/' || t[0] == '\\') && (t[1] == '/' || t[1] == '\\'):
		// Not a valid origin-form, but some servers (Go's among them)
		// read it as a network-path reference naming a host; URL
		// parsers that follow WHATWG read a backslash as a slash.
		auth := t[2:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		host, err := hostOnly(auth)
		if err != nil || host == "" {
			return malformed("bad authority in a //host target")
		}
		h.Form, h.Authority = formAbsolute, host
		return nil
	case strings.HasPrefix(t, "/"):
		h.Form = formOrigin
		return nil
	case t == "*":
		h.Form = formAsterisk
		return nil
	}
	if i := strings.Index(t, "://"); i > 0 {
		for j := 0; j < i; j++ {
			if c := t[j]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
				return malformed("bad scheme in absolute-form target")
			}
		}
		auth := t[i+3:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		host, err := hostOnly(auth)
		if err != nil || host == "" {
			return malformed("bad authority in absolute-form target")
		}
		h.Form, h.Authority = formAbsolute, host
		return nil
	}
	host, err := hostOnly(t)
	if err != nil || host == "" {
		return malformed("request target is not a path, url or authority")
	}
	h.Form, h.Authority = formAuthority, host
	return nil
}

// hostOnly strips an optional port and brackets from an authority and
// normalises the host name. An authority with user info, a path or a bad
// port is an error.
func hostOnly(authority string) (string, error) {
	if authority == "" {
		return "", nil
	}
	host := authority
	if h, port, err := net.SplitHostPort(authority); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil && port != "" {
			return "", malformed("invalid port")
		}
		host = h
	} else if strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") {
		host = authority[1 : len(authority)-1]
	}
	if host == "" || !validHostBytes([]byte(host)) || strings.ContainsAny(host, "/?#@[]\\,") {
		return "", malformed("invalid host")
	}
	return normalizeName(host), nil
}
