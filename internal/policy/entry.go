package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The presets an allow entry may name. Each expands from Env.
const (
	PresetNPM    = "npm"
	PresetGo     = "go"
	PresetPyPI   = "pypi"
	PresetGitHub = "github"
)

// Presets lists the preset names in the order they are documented.
func Presets() []string { return []string{PresetNPM, PresetGo, PresetPyPI, PresetGitHub} }

func isPreset(s string) bool {
	switch s {
	case PresetNPM, PresetGo, PresetPyPI, PresetGitHub:
		return true
	}
	return false
}

var errNotEntry = errors.New("not a host, wildcard, CIDR or preset (write a host name, not a URL or path)")

type entryKind uint8

const (
	kindPreset entryKind = iota + 1
	kindHost
	kindWildcard
	kindCIDR
)

// entry is one parsed allow entry.
type entry struct {
	kind   entryKind
	host   string       // kindHost: the name; kindWildcard: the suffix after "*."; kindPreset: the preset
	prefix netip.Prefix // kindCIDR
	port   uint16       // 0: any port
}

// parseEntry parses one allow entry. Its errors are short phrases meant to
// follow `allow entry "...": `.
func parseEntry(raw string) (entry, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return entry{}, errors.New("empty entry")
	}
	if s != raw {
		return entry{}, errors.New("leading or trailing space")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, " \t\\?#@") {
		return entry{}, errNotEntry
	}
	if isPreset(strings.ToLower(s)) {
		return entry{kind: kindPreset, host: strings.ToLower(s)}, nil
	}
	if strings.Contains(s, "/") {
		return parseCIDREntry(s)
	}
	// A literal address, with or without a port.
	if a, err := netip.ParseAddr(s); err == nil {
		return ipEntry(a, 0)
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return entry{}, errors.New("port must be a number from 1 to 65535")
		}
		return ipEntry(ap.Addr(), ap.Port())
	}
	host, port := s, uint16(0)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			return entry{}, errors.New("not a host, wildcard, CIDR or preset (write IPv6 addresses as [addr]:port or addr/len)")
		}
		p, err := parsePort(s[i+1:])
		if err != nil {
			return entry{}, err
		}
		host, port = s[:i], p
	}
	name := normalizeName(host)
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		if err := checkName(rest); err != nil {
			return entry{}, err
		}
		return entry{kind: kindWildcard, host: rest, port: port}, nil
	}
	if strings.Contains(name, "*") {
		return entry{}, errors.New(`a wildcard is allowed only as the whole first label, as in "*.example.com"`)
	}
	if err := checkName(name); err != nil {
		return entry{}, err
	}
	return entry{kind: kindHost, host: name, port: port}, nil
}

func parseCIDREntry(s string) (entry, error) {
	cidr, port := s, uint16(0)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return entry{}, errors.New("missing ]")
		}
		cidr = s[1:end]
		rest := s[end+1:]
		if strings.HasPrefix(rest, "/") { // "[2001:db8::]/32:443"
			bits, _, _ := strings.Cut(rest, ":")
			cidr += bits
			rest = strings.TrimPrefix(rest, bits)
		}
		if rest != "" {
			ps, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return entry{}, errors.New("expected :port after ]")
			}
			p, err := parsePort(ps)
			if err != nil {
				return entry{}, err
			}
			port = p
		}
	} else if slash, colon := strings.IndexByte(s, '/'), strings.LastIndexByte(s, ':'); colon > slash {
		p, err := parsePort(s[colon+1:])
		if err != nil {
			return entry{}, err
		}
		cidr, port = s[:colon], p
	}
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		if _, aerr := netip.ParseAddr(strings.Split(cidr, "/")[0]); aerr != nil {
			return entry{}, errNotEntry
		}
		return entry{}, fmt.Errorf("invalid CIDR %q", cidr)
	}
	if pfx.Masked() != pfx {
		return entry{}, fmt.Errorf("CIDR has host bits set (did you mean %s?)", pfx.Masked())
	}
	return prefixEntry(pfx, port)
}

func ipEntry(a netip.Addr, port uint16) (entry, error) {
	a = a.Unmap()
	if a.Zone() != "" {
		return entry{}, errors.New("zoned IPv6 addresses are not supported")
	}
	return prefixEntry(netip.PrefixFrom(a, a.BitLen()), port)
}

func prefixEntry(p netip.Prefix, port uint16) (entry, error) {
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Overlaps(loopback4) || p.Overlaps(loopback6) {
		return entry{}, errors.New("covers loopback addresses: list the runner's loopback services under host-ports")
	}
	return entry{kind: kindCIDR, prefix: p, port: port}, nil
}

var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	loopback6 = netip.MustParsePrefix("::1/128")
)

// normalizeName lowercases ASCII letters and drops one trailing dot. It
// returns s itself when nothing changes, so Decide does not allocate for
// names that are already normal.
func normalizeName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// checkName accepts DNS names made of letters, digits, '-' and '_' (labels
// of 1 to 63 bytes, 253 in all). IDNA names must be written in punycode
// ("xn--..."); they are compared as bytes.
func checkName(s string) error {
	if s == "" {
		return errors.New("empty host name")
	}
	if len(s) > 253 {
		return errors.New("host name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return errors.New("empty label in host name")
		}
		if len(label) > 63 {
			return errors.New("host name label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				if c >= 0x80 {
					return errors.New("non-ASCII host name: write it in punycode (xn--...)")
				}
				return fmt.Errorf("invalid character %q in host name", c)
			}
		}
	}
	return nil
}

// normalizeUpstream turns "ip" or "ip:port" into "ip:port".
func normalizeUpstream(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", errors.New("port must be a number from 1 to 65535")
		}
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", errors.New("must be an IP address with an optional port, as in 127.0.0.53:53 (a resolver cannot be found by name)")
}
