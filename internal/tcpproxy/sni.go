package tcpproxy

import (
	"encoding/binary"
	"errors"
	"strings"
)

// TLS wire constants used by the ClientHello parser (RFC 8446, RFC 6066,
// draft-ietf-tls-esni).
const (
	recordTypeHandshake    = 0x16
	handshakeClientHello   = 0x01
	extServerName          = 0x0000
	extEncryptedClientHelo = 0xfe0d
	serverNameTypeHost     = 0x00
	recordHeaderLen        = 5
	maxRecordLen           = 1<<14 + 2048 // TLSCiphertext limit; plaintext limit is 2^14
)

// errNeedMore reports that the bytes seen so far are a valid prefix but do
// not yet hold the whole message; the caller should read more and retry.
var errNeedMore = errors.New("need more data")

// errNotTLS reports that the bytes are not a TLS handshake record.
var errNotTLS = errors.New("not a tls handshake")

// clientHello is what the proxy learns from a TLS ClientHello.
type clientHello struct {
	// SNI is the host_name of the server_name extension, lower-cased, without
	// a trailing dot; empty when the extension is absent. With ECH it is the
	// outer (public) name.
	SNI string
	// ECH is true when the encrypted_client_hello extension is present: the
	// real server name is hidden from the proxy.
	ECH bool
}

// parseClientHello parses the TLS records at the start of b, reassembling a
// ClientHello that may be split over several records (and, by the caller,
// over several TCP segments). It returns errNeedMore when b is a valid but
// incomplete prefix, errNotTLS when b does not start with a handshake
// record, or another error when the bytes are malformed. It never panics on
// any input and never reads outside b.
func parseClientHello(b []byte) (clientHello, error) {
	var msg []byte // reassembled handshake bytes
	for {
		if len(b) == 0 {
			return clientHello{}, errNeedMore
		}
		if b[0] != recordTypeHandshake {
			if msg == nil {
				return clientHello{}, errNotTLS
			}
			return clientHello{}, errors.New("tls: handshake interrupted by a non-handshake record")
		}
		if len(b) >= 2 && b[1] != 3 {
			if msg == nil {
				return clientHello{}, errNotTLS
			}
			return clientHello{}, errors.New("tls: bad record version")
		}
		if len(b) < recordHeaderLen {
			return clientHello{}, errNeedMore
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if n == 0 || n > maxRecordLen {
			return clientHello{}, errors.New("tls: bad record length")
		}
		if len(b) < recordHeaderLen+n {
			// Parse what we have so a bogus message is rejected early.
			msg = append(msg, b[recordHeaderLen:]...)
			if err := checkPrefix(msg); err != nil {
				return clientHello{}, err
			}
			return clientHello{}, errNeedMore
		}
		msg = append(msg, b[recordHeaderLen:recordHeaderLen+n]...)
		b = b[recordHeaderLen+n:]
		if len(msg) < 4 {
			continue
		}
		if msg[0] != handshakeClientHello {
			return clientHello{}, errors.New("tls: first handshake message is not a client hello")
		}
		hl := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if hl > 1<<17 {
			return clientHello{}, errors.New("tls: client hello too long")
		}
		if len(msg) < 4+hl {
			continue
		}
		return parseClientHelloBody(msg[4 : 4+hl])
	}
}

// checkPrefix rejects a partial handshake message whose header already shows
// it is not a ClientHello.
func checkPrefix(msg []byte) error {
	if len(msg) >= 1 && msg[0] != handshakeClientHello {
		return errors.New("tls: first handshake message is not a client hello")
	}
	return nil
}

// reader is a bounds-checked cursor over a byte slice.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) skip(n int) {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return
	}
	r.b = r.b[n:]
}

func (r *reader) u8() int {
	if !r.ok || len(r.b) < 1 {
		r.ok = false
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if !r.ok || len(r.b) < 2 {
		r.ok = false
		return 0
	}
	v := int(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// parseClientHelloBody parses the ClientHello body (after the 4-byte
// handshake header) and extracts SNI and the ECH flag. Unknown and GREASE
// extensions are skipped.
func parseClientHelloBody(body []byte) (clientHello, error) {
	r := &reader{b: body, ok: true}
	r.skip(2)       // legacy_version
	r.skip(32)      // random
	r.skip(r.u8())  // legacy_session_id
	r.skip(r.u16()) // cipher_suites
	r.skip(r.u8())  // legacy_compression_methods
	if !r.ok {
		return clientHello{}, errors.New("tls: truncated client hello")
	}
	var ch clientHello
	if len(r.b) == 0 {
		return ch, nil // no extensions (SSLv3-style hello)
	}
	exts := &reader{b: r.bytes(r.u16()), ok: r.ok}
	if !r.ok {
		return clientHello{}, errors.New("tls: truncated extensions")
	}
	seen := map[int]bool{}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.bytes(exts.u16())
		if !exts.ok {
			return clientHello{}, errors.New("tls: truncated extension")
		}
		if seen[typ] {
			return clientHello{}, errors.New("tls: duplicate extension")
		}
		seen[typ] = true
		switch typ {
		case extServerName:
			name, err := parseServerName(data)
			if err != nil {
				return clientHello{}, err
			}
			ch.SNI = name
		case extEncryptedClientHelo:
			ch.ECH = true
		}
	}
	return ch, nil
}

// parseServerName returns the host_name entry of a server_name extension.
func parseServerName(data []byte) (string, error) {
	r := &reader{b: data, ok: true}
	list := &reader{b: r.bytes(r.u16()), ok: r.ok}
	if !r.ok || len(r.b) != 0 {
		return "", errors.New("tls: malformed server_name extension")
	}
	var host string
	for len(list.b) > 0 {
		typ := list.u8()
		name := list.bytes(list.u16())
		if !list.ok {
			return "", errors.New("tls: malformed server_name list")
		}
		if typ != serverNameTypeHost {
			continue
		}
		if host != "" {
			return "", errors.New("tls: more than one host_name in server_name")
		}
		if len(name) == 0 || !validHostBytes(name) {
			return "", errors.New("tls: invalid host_name in server_name")
		}
		host = normalizeName(string(name))
	}
	return host, nil
}

// validHostBytes reports whether b is printable ASCII without spaces, the
// only bytes a DNS host name in SNI may hold.
func validHostBytes(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// normalizeName lower-cases a DNS name and strips one trailing dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}
