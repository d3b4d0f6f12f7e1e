package tcpproxy

import (
	"bytes"
	"errors"
	"net"
	"net/url"
	"strings"
)

// maxMethodLen bounds the request method token (the longest registered
// method, UPDATEREDIRECTREF, has 17 letters).
const maxMethodLen = 20

// errNotHTTP reports that the bytes do not start an HTTP/1.x request.
var errNotHTTP = errors.New("not an http/1.x request")

// httpRequest is what the proxy learns from the head of an HTTP/1.x request.
type httpRequest struct {
	// Host is the authority the request names, lower-cased, without port
	// or trailing dot: the Host header, or the host of an absolute-form
	// request target when the header is absent. Empty when neither exists.
	Host string
}

// looksLikeHTTP reports whether b could be the start of an HTTP/1.x request
// line: an upper-case method token followed by a space. It returns
// errNeedMore when b is too short to tell.
func looksLikeHTTP(b []byte) error {
	for i, c := range b {
		switch {
		case c == ' ' && i > 0:
			return nil
		case c >= 'A' && c <= 'Z' && i < maxMethodLen:
		default:
			return errNotHTTP
		}
	}
	return errNeedMore
}

// parseHTTPRequest parses an HTTP/1.x request line and header block at the
// start of b. It returns errNeedMore when the header block is not complete
// yet, errNotHTTP when b is not an HTTP/1.x request, and another error for
// a malformed request (two Host headers, a bad Host value). Only the first
// header block is read; bodies are ignored.
func parseHTTPRequest(b []byte) (httpRequest, error) {
	if err := looksLikeHTTP(b); err != nil {
		return httpRequest{}, err
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		// A request line that is complete but is not HTTP/1.x (e.g. a
		// protocol that happens to start with capitals) stops here.
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			if _, _, err := parseRequestLine(b[:i]); err != nil {
				return httpRequest{}, err
			}
		}
		return httpRequest{}, errNeedMore
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	_, target, err := parseRequestLine([]byte(lines[0]))
	if err != nil {
		return httpRequest{}, err
	}
	var req httpRequest
	seenHost := false
	for _, line := range lines[1:] {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return httpRequest{}, errors.New("http: malformed header line")
		}
		if !strings.EqualFold(k, "Host") {
			continue
		}
		if seenHost {
			return httpRequest{}, errors.New("http: more than one host header")
		}
		seenHost = true
		h, err := hostOnly(strings.TrimSpace(v))
		if err != nil {
			return httpRequest{}, err
		}
		req.Host = h
	}
	if !seenHost && !strings.HasPrefix(target, "/") && target != "*" {
		// absolute-form (proxy style) or authority-form (CONNECT).
		authority := target
		if u, err := url.Parse(target); err == nil && u.Host != "" {
			authority = u.Host
		}
		if h, err := hostOnly(authority); err == nil {
			req.Host = h
		}
	}
	return req, nil
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.x".
func parseRequestLine(line []byte) (method, target string, err error) {
	parts := strings.Split(string(line), " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") || parts[1] == "" {
		return "", "", errNotHTTP
	}
	return parts[0], parts[1], nil
}

// hostOnly strips an optional port and brackets from an authority and
// normalises the host name.
func hostOnly(authority string) (string, error) {
	if authority == "" {
		return "", nil
	}
	host := authority
	if h, _, err := net.SplitHostPort(authority); err == nil {
		host = h
	} else if strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") {
		host = authority[1 : len(authority)-1]
	}
	if host == "" || !validHostBytes([]byte(host)) || strings.ContainsAny(host, "/?#@") {
		return "", errors.New("http: invalid host")
	}
	return normalizeName(host), nil
}
