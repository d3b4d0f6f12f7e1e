package dnsproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Resolution limits. An allowed name is dialled by the proxy from the
// runner's own network, so an upstream answer pointing into the runner's
// surroundings (its loopback, the cloud metadata service, the private
// network it sits in) would turn "allowed.example" into a way in. Such
// answers are dropped, by Resolve and again before every dial
// (CheckDialAddr), unless a CIDR allow entry in the policy lists the
// address. The classes, most specific first:
var answerLimits = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "metadata answer"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "metadata answer"},
	// Other clouds' instance endpoints outside link-local: Azure's
	// WireServer (hosted CI runners run on Azure; it serves the VM's
	// goal state and certificates), Alibaba's metadata service (inside
	// CGNAT space, which alone a literal connection in audit mode may
	// reach) and Oracle's legacy one.
	{netip.MustParsePrefix("168.63.129.16/32"), "metadata answer"},
	{netip.MustParsePrefix("100.100.100.200/32"), "metadata answer"},
	{netip.MustParsePrefix("192.0.0.192/32"), "metadata answer"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local answer"},
	{netip.MustParsePrefix("fe80::/10"), "link-local answer"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback answer"},
	{netip.MustParsePrefix("::1/128"), "loopback answer"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified answer"},
	{netip.MustParsePrefix("::/128"), "unspecified answer"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private answer"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private answer"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private answer"},
	{netip.MustParsePrefix("100.64.0.0/10"), "private answer"},
	{netip.MustParsePrefix("fc00::/7"), "private answer"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast answer"},
	{netip.MustParsePrefix("ff00::/8"), "multicast answer"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast answer"},
}

// nat64 is the well-known NAT64 prefix (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// ErrAnswerRefused is wrapped by the errors of Resolve and CheckDialAddr
// when every address of a name falls under the resolution limits.
var ErrAnswerRefused = errors.New("answer refused")

// AnswerError says why an address is not dialled for a name.
type AnswerError struct {
	Name string
	// Reasons are the limit classes hit ("metadata answer", ...), sorted
	// by first appearance; Addrs the refused addresses.
	Reasons []string
	Addrs   []netip.Addr
}

func (e *AnswerError) Error() string {
	addrs := make([]string, len(e.Addrs))
	for i, a := range e.Addrs {
		addrs[i] = a.String()
	}
	return fmt.Sprintf("%s: %s resolved to %s (not allowed unless a CIDR allow entry lists it)",
		strings.Join(e.Reasons, ", "), e.Name, strings.Join(addrs, " "))
}

func (e *AnswerError) Unwrap() error { return ErrAnswerRefused }

// limitReason returns the limit class a falls under ("" when none), not
// counting what the policy or Config.AllowLoopbackAnswers lets through.
func limitReason(a netip.Addr) string {
	a = a.Unmap()
	if nat64.Contains(a) {
		// The well-known NAT64 prefix embeds an IPv4 address that a
		// NAT64 gateway would reach: judge that one.
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, l := range answerLimits {
		if l.prefix.Contains(a) {
			return l.reason
		}
	}
	return ""
}

// refusal returns why a may not be dialled for a name ("" when it may).
func (s *Server) refusal(a netip.Addr) string {
	a = a.Unmap()
	if !a.IsValid() {
		return "invalid answer"
	}
	if s.c.Synthetic.Contains(a) {
		return "synthetic answer"
	}
	r := limitReason(a)
	switch {
	case r == "":
		return ""
	case r == "loopback answer" && s.c.AllowLoopbackAnswers:
		return ""
	}
	if _, ok := s.c.Policy.CIDRAllows(a); ok {
		return ""
	}
	return r
}

// CheckDialAddr reports whether the proxy may dial a for the allowed name:
// nil, or an *AnswerError (wrapping ErrAnswerRefused). The dialer calls
// it on every address it is about to dial for a name, whatever told it
// the address.
func (s *Server) CheckDialAddr(name string, a netip.Addr) error {
	if r := s.refusal(a); r != "" {
		return &AnswerError{Name: name, Reasons: []string{r}, Addrs: []netip.Addr{a.Unmap()}}
	}
	return nil
}

// CheckLiteralAddr reports whether the proxy may dial the literal address
// a: a connection the build made to an IP that the policy let through (a
// CIDR entry, host-ports, or audit mode). Metadata and link-local
// addresses are refused unless a CIDR entry lists them, so the runner's
// metadata service is not reached even in audit mode. The error wraps
// ErrAnswerRefused.
func (s *Server) CheckLiteralAddr(a netip.Addr) error {
	a = a.Unmap()
	r := limitReason(a)
	if r != "metadata answer" && r != "link-local answer" {
		return nil
	}
	if _, ok := s.c.Policy.CIDRAllows(a); ok {
		return nil
	}
	return fmt.Errorf("%w: %s %s (not allowed unless a CIDR allow entry lists it)",
		ErrAnswerRefused, strings.TrimSuffix(r, " answer")+" address", a)
}

// filterAnswers splits addrs into those that may be dialled and the error
// describing the rest (nil when none was dropped).
func (s *Server) filterAnswers(name string, addrs []netip.Addr) ([]netip.Addr, *AnswerError) {
	var ok []netip.Addr
	var refused *AnswerError
	for _, a := range addrs {
		r := s.refusal(a)
		if r == "" {
			ok = append(ok, a.Unmap())
			continue
		}
		if refused == nil {
			refused = &AnswerError{Name: name}
		}
		if !containsString(refused.Reasons, r) {
			refused.Reasons = append(refused.Reasons, r)
		}
		refused.Addrs = append(refused.Addrs, a.Unmap())
	}
	return ok, refused
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Synthetic is the range synthetic answers come from (the proxy refuses
// a connection to an address in it that was never handed out).
func (s *Server) Synthetic() netip.Prefix { return s.c.Synthetic }
