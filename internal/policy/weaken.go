package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// defaultTunnelLimit is what dns.tunnel-limit 0 means; it equals
// dnsproxy.DefaultTunnelLimit (a test checks), which this package cannot
// import.
const defaultTunnelLimit = 4096

// Weakenings returns every way the branch policy lets more through, or
// flags less, than the trusted one: a short phrase per difference, in a
// fixed order (mode, allow entries, tcp, host-ports, unix-sockets,
// git-writable, dns), naming the entry as the branch wrote it. Nil means
// branch is at most as permissive as trusted.
//
// Entries are compared by what they allow, not as text: "api.example.com"
// is covered by a trusted "*.example.com", a port-less entry only by a
// port-less one, a CIDR by a trusted CIDR containing it. Presets are
// compared by what they expanded to, so a registry that the branch's own
// .npmrc feeds to the npm preset is a weakening when the trusted policy
// was compiled without it. Both policies should be compiled with the same
// --mode override, when there is one. Weakenings is pure.
//
// Counted as weakening: audit replacing block; an allow, tcp, host-ports
// or unix-sockets entry (or preset endpoint) the trusted policy does not
// cover; git-writable turned on; a dns.upstream the trusted policy does
// not name (a resolver of the branch's choosing answers for every allowed
// name); a higher dns.tunnel-limit.
func Weakenings(trusted, branch *Policy) []string {
	var out []string
	if trusted.mode == ModeBlock && branch.mode == ModeAudit {
		out = append(out, "mode: audit replaces block")
	}
	out = append(out, weakerAllow(trusted, branch)...)
	out = append(out, weakerTCP(trusted, branch)...)
	for _, port := range branch.ports {
		if _, ok := trusted.hostPorts[port]; ok {
			continue
		}
		if text := branch.hostPorts[port]; strings.HasPrefix(text, "host-ports:") {
			out = append(out, fmt.Sprintf("host-ports adds %d", port))
		} else {
			out = append(out, fmt.Sprintf("preset %s reaches the runner's loopback port %d", text, port))
		}
	}
	for _, u := range branch.spec.UnixSockets {
		if !slices.Contains(trusted.spec.UnixSockets, u) {
			out = append(out, fmt.Sprintf("unix-sockets adds %s", u))
		}
	}
	if branch.spec.GitWritable && !trusted.spec.GitWritable {
		out = append(out, "git-writable: true makes the git directory writable")
	}
	if branch.upstream != "" && branch.upstream != trusted.upstream {
		was := trusted.upstream
		if was == "" {
			was = "the runner's resolver"
		}
		out = append(out, fmt.Sprintf("dns.upstream %s replaces %s", branch.upstream, was))
	}
	if tl, bl := effTunnelLimit(trusted), effTunnelLimit(branch); bl > tl {
		out = append(out, fmt.Sprintf("dns.tunnel-limit %d is higher than %d", bl, tl))
	}
	return out
}

func effTunnelLimit(p *Policy) int {
	if p.tunnelLimit == 0 {
		return defaultTunnelLimit
	}
	return p.tunnelLimit
}

// weakerAllow lists the branch's allow rules (hosts, wildcards, CIDRs and
// preset endpoints; `tcp:` entries are weakerTCP's) the trusted policy does
// not cover.
func weakerAllow(trusted, branch *Policy) []string {
	var out []string
	say := func(r rule, dest string) {
		if isPreset(strings.ToLower(r.text)) {
			out = append(out, fmt.Sprintf("preset %s reaches %s", r.text, dest))
		} else {
			out = append(out, fmt.Sprintf("allow adds %s", r.text))
		}
	}
	for _, host := range slices.Sorted(maps.Keys(branch.exact)) {
		for _, r := range branch.exact[host] {
			if !isTCPRule(r) && !coversName(trusted.exact, trusted.wild, host, r.port) {
				say(r, dest(host, r.port))
			}
		}
	}
	for _, suffix := range slices.Sorted(maps.Keys(branch.wild)) {
		for _, r := range branch.wild[suffix] {
			if !isTCPRule(r) && !coversWild(trusted.wild, suffix, r.port) {
				say(r, dest("*."+suffix, r.port))
			}
		}
	}
	for _, c := range branch.cidrs {
		if !slices.ContainsFunc(trusted.cidrs, func(t cidrRule) bool {
			return portCovers(t.port, c.port) && t.prefix.Bits() <= c.prefix.Bits() && t.prefix.Contains(c.prefix.Addr())
		}) {
			say(c.rule, cidrDest(c.prefix, c.port))
		}
	}
	return out
}

// weakerTCP lists the branch's `tcp:` entries no trusted `tcp:` entry
// covers (a trusted tcp entry also allows, so allow coverage follows).
func weakerTCP(trusted, branch *Policy) []string {
	var out []string
	for _, host := range slices.Sorted(maps.Keys(branch.opaqueExact)) {
		for _, r := range branch.opaqueExact[host] {
			if !coversName(trusted.opaqueExact, trusted.opaqueWild, host, r.port) {
				out = append(out, fmt.Sprintf("%s adds opaque TCP", r.text))
			}
		}
	}
	for _, suffix := range slices.Sorted(maps.Keys(branch.opaqueWild)) {
		for _, r := range branch.opaqueWild[suffix] {
			if !coversWild(trusted.opaqueWild, suffix, r.port) {
				out = append(out, fmt.Sprintf("%s adds opaque TCP", r.text))
			}
		}
	}
	return out
}

func isTCPRule(r rule) bool { return strings.HasPrefix(r.text, "tcp: ") }

// portCovers reports whether a trusted rule's port covers a branch rule's:
// a port-less rule covers every port, a port-less branch rule only a
// port-less trusted one.
func portCovers(trusted, branch uint16) bool {
	return trusted == 0 || trusted == branch
}

func anyPortCovers(rs []rule, port uint16) bool {
	return slices.ContainsFunc(rs, func(r rule) bool { return portCovers(r.port, port) })
}

// coversName reports whether exact or wild allow host on port.
func coversName(exact, wild map[string][]rule, host string, port uint16) bool {
	if anyPortCovers(exact[host], port) {
		return true
	}
	for i := 0; i < len(host); i++ {
		if host[i] == '.' && anyPortCovers(wild[host[i+1:]], port) {
			return true
		}
	}
	return false
}

// coversWild reports whether wild allows every subdomain of suffix on
// port: the same suffix or a parent of it.
func coversWild(wild map[string][]rule, suffix string, port uint16) bool {
	if anyPortCovers(wild[suffix], port) {
		return true
	}
	for i := 0; i < len(suffix); i++ {
		if suffix[i] == '.' && anyPortCovers(wild[suffix[i+1:]], port) {
			return true
		}
	}
	return false
}

func dest(host string, port uint16) string {
	if port == 0 {
		return host + " (every port)"
	}
	return host + ":" + strconv.Itoa(int(port))
}

func cidrDest(p netip.Prefix, port uint16) string {
	switch {
	case port == 0 && p.IsSingleIP():
		return p.Addr().String() + " (every port)"
	case port == 0:
		return p.String() + " (every port)"
	case p.IsSingleIP():
		return netip.AddrPortFrom(p.Addr(), port).String()
	}
	return p.String() + " port " + strconv.Itoa(int(port))
}

// WithWarnings returns a copy of p whose Warnings end with ws (what the
// run records in its report, such as a policy weakened by the branch). p
// is unchanged.
func (p *Policy) WithWarnings(ws ...string) *Policy {
	c := *p
	c.warnings = append(slices.Clone(p.warnings), ws...)
	return &c
}
