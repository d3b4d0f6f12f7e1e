package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Policy is a compiled Spec. It is immutable and safe for concurrent use.
type Policy struct {
	spec  Spec
	mode  Mode
	exact map[string][]rule // host → rules, in policy order
	wild  map[string][]rule // suffix of "*.suffix" → rules
	cidrs []cidrRule
	// opaqueExact and opaqueWild are the `tcp:` entries (opaque.go).
	opaqueExact map[string][]rule
	opaqueWild  map[string][]rule
	hostPorts   map[uint16]string // port → rule text
	ports       []uint16          // sorted keys of hostPorts
	upstream    string
	// tunnelLimit is dns.tunnel-limit (0: the DNS server's default).
	tunnelLimit int
	warnings    []string
	expanded    map[string][]string
}

type rule struct {
	port uint16 // 0: any
	text string
}

type cidrRule struct {
	prefix netip.Prefix
	rule
}

// Request is one thing the build tried to reach.
type Request struct {
	// Name is the DNS name asked for or the name a connection is bound to.
	// When Name is set, Addr is not consulted (a name is never allowed or
	// refused because of the address it resolved to). A Name that is a
	// literal IP address is treated as Addr.
	Name string
	// Addr is the destination of a connection to a literal address.
	Addr netip.Addr
	// Port is the destination port; 0 means "any port would do", which is
	// how DNS lookups ask (a name is resolvable when some rule allows it).
	Port uint16
	// Proto is "tcp" or "dns"; other protocols are never allowed.
	Proto string
}

// Decision is the answer to a Request.
type Decision struct {
	Allow bool
	// Rule is the allow entry that matched, as written in the policy
	// ("npm", "*.example.com:443", "host-ports: 5432"); empty when denied.
	Rule string
	// Reason says why a request was denied; empty when allowed.
	Reason string
}

// Reasons Decide gives for a denial.
const (
	ReasonNotInPolicy = "not in policy"
	ReasonIPLiteral   = "literal ip not in policy"
	ReasonLoopback    = "loopback port not in host-ports"
	ReasonProto       = "protocol not proxied"
	ReasonNoDest      = "no destination"
)

// Compile checks s and expands its presets from env. Errors are *Error
// values (joined) naming the entry's position when s was parsed. A preset
// that expands to nothing is not an error: it is reported by Warnings.
func Compile(s *Spec, env Env) (*Policy, error) {
	if s == nil {
		s = &Spec{}
	}
	p := &Policy{
		spec:      *s,
		mode:      s.Mode,
		exact:     map[string][]rule{},
		wild:      map[string][]rule{},
		hostPorts: map[uint16]string{},
		expanded:  map[string][]string{},
	}
	p.spec.Allow = slices.Clone(s.Allow)
	p.spec.HostPorts = slices.Clone(s.HostPorts)
	switch s.Mode {
	case "":
		p.mode = ModeBlock
	case ModeAudit, ModeBlock:
	default:
		return nil, &Error{File: s.File, Msg: fmt.Sprintf("mode: %q is not audit or block", s.Mode)}
	}
	var errs []error
	for i, raw := range s.Allow {
		e, err := parseEntry(raw)
		if err != nil {
			pe := &Error{File: s.File, Msg: fmt.Sprintf("allow entry %q: %s", raw, err)}
			if i < len(s.allowPos) {
				pe.Line, pe.Col = s.allowPos[i].line, s.allowPos[i].col
			}
			errs = append(errs, pe)
			continue
		}
		if e.kind == kindPreset {
			p.addPreset(e.host, raw, env)
			continue
		}
		p.add(e, raw)
	}
	errs = append(errs, p.compileTCP(s)...)
	for _, port := range s.HostPorts {
		if port == 0 {
			errs = append(errs, &Error{File: s.File, Msg: "host-ports: port must be a number from 1 to 65535"})
			continue
		}
		p.addHostPort(port, "host-ports: "+strconv.Itoa(int(port)))
	}
	for _, u := range s.UnixSockets {
		if err := checkUnixSocket(u); err != nil {
			errs = append(errs, &Error{File: s.File, Msg: fmt.Sprintf("unix-sockets entry %q: %s", u, err)})
		}
	}
	p.spec.UnixSockets = slices.Clone(s.UnixSockets)
	if s.DNS.Upstream != "" {
		u, err := normalizeUpstream(s.DNS.Upstream)
		if err != nil {
			errs = append(errs, &Error{File: s.File, Msg: fmt.Sprintf("dns upstream %q: %s", s.DNS.Upstream, err)})
		}
		p.upstream = u
	}
	if l := s.DNS.TunnelLimit; l != 0 && (l < MinTunnelLimit || l > MaxTunnelLimit) {
		errs = append(errs, &Error{File: s.File, Msg: fmt.Sprintf("dns tunnel-limit %d: must be from %d to %d bytes per minute", l, MinTunnelLimit, MaxTunnelLimit)})
	}
	p.tunnelLimit = s.DNS.TunnelLimit
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for port := range p.hostPorts {
		p.ports = append(p.ports, port)
	}
	slices.Sort(p.ports)
	return p, nil
}

func (p *Policy) add(e entry, text string) {
	r := rule{port: e.port, text: text}
	switch e.kind {
	case kindHost:
		p.exact[e.host] = append(p.exact[e.host], r)
	case kindWildcard:
		p.wild[e.host] = append(p.wild[e.host], r)
	case kindCIDR:
		p.cidrs = append(p.cidrs, cidrRule{prefix: e.prefix, rule: r})
	}
}

func (p *Policy) addHostPort(port uint16, text string) {
	if _, ok := p.hostPorts[port]; !ok {
		p.hostPorts[port] = text
	}
}

// Mode is the policy's mode (block when the Spec left it empty).
func (p *Policy) Mode() Mode { return p.mode }

// TunnelLimit is dns.tunnel-limit in bytes per minute, or 0 for the
// default.
func (p *Policy) TunnelLimit() int { return p.tunnelLimit }

// Upstream is the DNS upstream from the policy as "ip:port", or "".
func (p *Policy) Upstream() string { return p.upstream }

// HostPorts are the loopback ports on the runner the build may reach, sorted,
// including those a preset added (a registry configured on loopback).
func (p *Policy) HostPorts() []uint16 { return slices.Clone(p.ports) }

// UnixSockets are the host sockets under /run and /var/run the build may
// reach, as listed.
func (p *Policy) UnixSockets() []string { return slices.Clone(p.spec.UnixSockets) }

// GitWritable says the build may write the repository's git directory
// (policy key git-writable); by default it is read-only in the sandbox.
func (p *Policy) GitWritable() bool { return p.spec.GitWritable }

// Spec returns a copy of the Spec the policy was compiled from.
func (p *Policy) Spec() Spec {
	s := p.spec
	s.Allow = slices.Clone(s.Allow)
	s.HostPorts = slices.Clone(s.HostPorts)
	s.UnixSockets = slices.Clone(s.UnixSockets)
	s.TCP = slices.Clone(s.TCP)
	return s
}

// Warnings are problems that do not stop a run, such as a preset that
// expanded to nothing because its toolchain is not configured here.
func (p *Policy) Warnings() []string { return slices.Clone(p.warnings) }

// Expanded returns what each preset used by the policy expanded to, as
// allow entries ("registry.example:443", "*.corp.example", "127.0.0.1:4873"
// for a loopback registry).
func (p *Policy) Expanded() map[string][]string {
	out := make(map[string][]string, len(p.expanded))
	for k, v := range p.expanded {
		out[k] = slices.Clone(v)
	}
	return out
}

// Decide answers whether r is allowed. It is pure and safe for concurrent
// use. Mode does not change the answer: in audit mode the caller lets a
// denied request through and records it with verdict "audit".
func (p *Policy) Decide(r Request) Decision {
	switch r.Proto {
	case "", "tcp", "dns":
	default:
		return Decision{Reason: ReasonProto}
	}
	name := r.Name
	if t := strings.TrimSuffix(name, "."); t != "" && mayBeIP(t) {
		if a, err := netip.ParseAddr(t); err == nil {
			name, r.Addr = "", a
		}
	}
	if name == "" {
		return p.decideAddr(r.Addr, r.Port)
	}
	return p.decideName(normalizeName(name), r.Port)
}

func (p *Policy) decideName(name string, port uint16) Decision {
	var portMiss []rule
	if rs, ok := p.exact[name]; ok {
		if r, ok := matchPort(rs, port); ok {
			return Decision{Allow: true, Rule: r.text}
		}
		portMiss = append(portMiss, rs...)
	}
	// Walk the suffixes of name from the longest: a.b.c → b.c → c.
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		if rs, ok := p.wild[name[i+1:]]; ok {
			if r, ok := matchPort(rs, port); ok {
				return Decision{Allow: true, Rule: r.text}
			}
			portMiss = append(portMiss, rs...)
		}
	}
	if len(portMiss) > 0 {
		return Decision{Reason: portReason(port, name, portMiss)}
	}
	return Decision{Reason: ReasonNotInPolicy}
}

func (p *Policy) decideAddr(a netip.Addr, port uint16) Decision {
	if !a.IsValid() {
		return Decision{Reason: ReasonNoDest}
	}
	a = a.Unmap()
	if a.IsLoopback() {
		if text, ok := p.hostPorts[port]; ok {
			return Decision{Allow: true, Rule: text}
		}
		return Decision{Reason: ReasonLoopback}
	}
	var portMiss []rule
	for _, c := range p.cidrs {
		if !c.prefix.Contains(a) {
			continue
		}
		if c.port == 0 || port == 0 || c.port == port {
			return Decision{Allow: true, Rule: c.text}
		}
		portMiss = append(portMiss, c.rule)
	}
	if len(portMiss) > 0 {
		return Decision{Reason: portReason(port, a.String(), portMiss)}
	}
	return Decision{Reason: ReasonIPLiteral}
}

func matchPort(rs []rule, port uint16) (rule, bool) {
	for _, r := range rs {
		if r.port == 0 || port == 0 || r.port == port {
			return r, true
		}
	}
	return rule{}, false
}

func portReason(port uint16, dest string, rs []rule) string {
	var ports []string
	for _, r := range rs {
		ports = append(ports, strconv.Itoa(int(r.port)))
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	return fmt.Sprintf("port %d not allowed for %s (allowed: %s)", port, dest, strings.Join(ports, ", "))
}

// mayBeIP is a cheap pre-check before netip.ParseAddr (whose error
// allocates): an IPv4 literal ends in a digit, an IPv6 one contains ':',
// and no host name has an all-numeric last label.
func mayBeIP(s string) bool {
	c := s[len(s)-1]
	return '0' <= c && c <= '9' || strings.IndexByte(s, ':') >= 0
}
