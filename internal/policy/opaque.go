package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"go.yaml.in/yaml/v3"
)

// The `tcp:` list opts destinations in to opaque TCP. By default a
// connection bound to a name is relayed only when its first bytes are a
// TLS ClientHello or HTTP/1.x requests naming that name; a protocol that
// is neither (a database, SSH, a server that speaks first) is refused. An
// entry "db.example.com:5432" (or "*.corp.example:22") allows that name
// and port, as an allow entry would, and lets its connections through
// without verifying their bytes. The port is required: opaque TCP to
// every port of a name is what the verification exists to stop.

// parseTCPEntry parses one `tcp:` entry: a host or wildcard with a port.
func parseTCPEntry(raw string) (entry, error) {
	e, err := parseEntry(raw)
	if err != nil {
		return entry{}, err
	}
	switch {
	case e.kind == kindPreset || e.kind == kindCIDR:
		return entry{}, errors.New("a tcp entry is a host or wildcard with a port, as in db.example.com:5432 (literal addresses and CIDRs are never verified: list them under allow)")
	case e.port == 0:
		return entry{}, errors.New("a tcp entry needs a port, as in db.example.com:5432")
	}
	return e, nil
}

func (p *parser) tcp(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "tcp: expected a list of host:port entries, got %s", kindName(n))
		return
	}
	for _, item := range n.Content {
		item = resolveAlias(item)
		v, ok := p.scalar(item, "tcp entry")
		if !ok {
			continue
		}
		if _, err := parseTCPEntry(v); err != nil {
			p.errorf(item, "tcp entry %q: %s", v, err)
			continue
		}
		s.TCP = append(s.TCP, v)
		s.tcpPos = append(s.tcpPos, pos{item.Line, item.Column})
	}
}

// compileTCP adds the `tcp:` entries of s to p, both as allow rules and
// as opaque rules.
func (p *Policy) compileTCP(s *Spec) []error {
	p.spec.TCP = slices.Clone(s.TCP)
	p.opaqueExact, p.opaqueWild = map[string][]rule{}, map[string][]rule{}
	var errs []error
	for i, raw := range s.TCP {
		e, err := parseTCPEntry(raw)
		if err != nil {
			pe := &Error{File: s.File, Msg: fmt.Sprintf("tcp entry %q: %s", raw, err)}
			if i < len(s.tcpPos) {
				pe.Line, pe.Col = s.tcpPos[i].line, s.tcpPos[i].col
			}
			errs = append(errs, pe)
			continue
		}
		text := "tcp: " + raw
		p.add(e, text)
		r := rule{port: e.port, text: text}
		if e.kind == kindWildcard {
			p.opaqueWild[e.host] = append(p.opaqueWild[e.host], r)
		} else {
			p.opaqueExact[e.host] = append(p.opaqueExact[e.host], r)
		}
	}
	return errs
}

// OpaqueTCP reports whether connections to name on port are opted in to
// opaque TCP by a `tcp:` entry, and the entry ("tcp: db.example.com:5432").
// It is pure and safe for concurrent use.
func (p *Policy) OpaqueTCP(name string, port uint16) (rule string, ok bool) {
	if port == 0 {
		return "", false
	}
	name = normalizeName(name)
	for _, r := range p.opaqueExact[name] {
		if r.port == port {
			return r.text, true
		}
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		for _, r := range p.opaqueWild[name[i+1:]] {
			if r.port == port {
				return r.text, true
			}
		}
	}
	return "", false
}

// CIDRAllows reports whether a CIDR (or literal address) allow entry
// covers a, on any port, and the entry. Resolution limits use it: an
// upstream answer in a private, link-local or metadata range is dropped
// unless such an entry lists it.
func (p *Policy) CIDRAllows(a netip.Addr) (rule string, ok bool) {
	a = a.Unmap()
	for _, c := range p.cidrs {
		if c.prefix.Contains(a) {
			return c.text, true
		}
	}
	return "", false
}
