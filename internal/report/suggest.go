package report

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/termsafe"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// Suggestion is the smallest policy that allows what a run let through.
type Suggestion struct {
	// Spec is the suggested policy, mode block.
	Spec *policy.Spec
	// Notes explains each allow entry (what it covered), by entry.
	Notes map[string]string
	// NotSuggested lists what the run saw but the suggestion leaves out
	// on purpose, sorted by name, for the reviewer.
	NotSuggested []NotSuggested
	// Command and Mode describe the run the suggestion came from.
	Command []string
	Mode    policy.Mode
	// NotHeld counts the run's events that the report does not list
	// (Limits.EventsNotHeld): what they reached is not suggested.
	NotHeld int
}

// NotSuggested is a name or address a run saw that Suggest left out, and
// why.
type NotSuggested struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// benchmarking is the RFC 2544 range the DNS server's synthetic answers
// come from; it is never a real destination.
var benchmarking = netip.MustParsePrefix("198.18.0.0/15")

type seen struct {
	ports map[uint16]bool
	count int
}

// Suggest derives a policy from the connection events a run allowed or
// audited. It suggests only exact names that connections were made to —
// "name:port" when one port was used and "name" otherwise — literal
// addresses as "ip:port" or "ip", and loopback ports as host-ports. It
// never suggests a wildcard, a preset, or a string that is not a valid
// host name; a name a preset (as env expands it) covers gets a note
// saying so. Left out and listed in NotSuggested: names only looked up,
// connections whose name did not match what was sent on them (their
// event does not count), names flagged as suspected DNS tunnelling or as
// rebinding targets (in any event, whatever its verdict), and link-local
// addresses. The DNS upstream of the run's policy is kept.
func Suggest(r *Report, env policy.Env) *Suggestion {
	names := map[string]*seen{}
	ips := map[netip.Addr]*seen{}
	hostPorts := map[uint16]bool{}
	excluded := map[string]string{} // name → why, never suggested
	skipped := map[string]string{}  // name → why, unless seen clean
	lookedUp := map[string]bool{}
	for _, e := range r.Events {
		if why, whole, ok := NotSuggestable(e.Reason); ok {
			for _, n := range []string{e.Name, e.SNI, e.Host} {
				if n == "" {
					continue
				}
				if whole && n == e.Name {
					excluded[n] = why
				} else if skipped[n] == "" {
					skipped[n] = why
				}
			}
			continue
		}
		if e.Verdict != event.VerdictAllow && e.Verdict != event.VerdictAudit {
			continue
		}
		switch e.Kind {
		case event.KindDNS:
			if e.Name != "" && e.Rule != "synthetic address" {
				lookedUp[e.Name] = true
			}
		case event.KindConnect:
			if e.Name != "" {
				s := names[e.Name]
				if s == nil {
					s = &seen{ports: map[uint16]bool{}}
					names[e.Name] = s
				}
				s.count += max(e.Count, 1)
				if e.Port != 0 {
					s.ports[e.Port] = true
				}
				continue
			}
			a, err := netip.ParseAddr(e.IP)
			if err != nil {
				continue
			}
			a = a.Unmap()
			switch {
			case benchmarking.Contains(a):
				continue // a synthetic address with no name: nothing to allow
			case a.IsLoopback():
				if e.Port != 0 {
					hostPorts[e.Port] = true
				}
				continue
			case a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast():
				excluded[a.String()] = "link-local, unspecified or multicast address (cloud metadata lives there)"
				continue
			}
			if ips[a] == nil {
				ips[a] = &seen{ports: map[uint16]bool{}}
			}
			ips[a].count += max(e.Count, 1)
			if e.Port != 0 {
				ips[a].ports[e.Port] = true
			}
		}
	}
	notSuggested := map[string]string{}
	for n, why := range skipped {
		if names[n] == nil {
			notSuggested[n] = why
		}
	}
	for n := range lookedUp {
		if names[n] == nil && notSuggested[n] == "" {
			notSuggested[n] = "looked up, never connected to"
		}
	}
	for n := range names {
		if why := invalidHost(n); why != "" {
			notSuggested[n] = why
			delete(names, n)
		}
	}
	for n, why := range excluded {
		notSuggested[n] = why
		delete(names, n)
	}

	sug := &Suggestion{
		Spec:    &policy.Spec{Mode: policy.ModeBlock, Allow: []string{}},
		Notes:   map[string]string{},
		Command: r.Command,
		Mode:    r.Mode,
	}
	if r.Policy != nil {
		sug.Spec.DNS = r.Policy.DNS
	}
	if r.Limits != nil {
		sug.NotHeld = r.Limits.EventsNotHeld
	}
	presetOf := presetsCovering(names, env)
	for _, n := range sortedNames(names) {
		s := names[n]
		entry := n
		if len(s.ports) == 1 {
			for port := range s.ports {
				entry = n + ":" + strconv.Itoa(int(port))
			}
		}
		sug.Spec.Allow = append(sug.Spec.Allow, entry)
		sug.Notes[entry] = note(s)
		if p := presetOf[n]; p != "" {
			sug.Notes[entry] += "; preset " + p + " covers it"
		}
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for a := range ips {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		s := ips[a]
		entry := a.String()
		if len(s.ports) == 1 {
			for port := range s.ports {
				entry = netip.AddrPortFrom(a, port).String()
			}
		}
		sug.Spec.Allow = append(sug.Spec.Allow, entry)
		sug.Notes[entry] = note(s) + "; a literal address: prefer a name if the build can use one"
	}
	for port := range hostPorts {
		sug.Spec.HostPorts = append(sug.Spec.HostPorts, port)
	}
	slices.Sort(sug.Spec.HostPorts)
	for _, n := range slices.Sorted(maps.Keys(notSuggested)) {
		sug.NotSuggested = append(sug.NotSuggested, NotSuggested{Name: n, Why: notSuggested[n]})
	}
	return sug
}

// presetsCovering returns, for each name a preset covers (as env expands
// it), the first such preset in their documented order.
func presetsCovering(names map[string]*seen, env policy.Env) map[string]string {
	out := map[string]string{}
	for _, preset := range policy.Presets() {
		p, err := policy.Compile(&policy.Spec{Allow: []string{preset}}, env)
		if err != nil {
			continue
		}
		for n, s := range names {
			if out[n] == "" && covers(p, n, s) {
				out[n] = preset
			}
		}
	}
	return out
}

// invalidHost says why name cannot be an allow entry of its own ("" when
// it can): only a host name of at least two labels of letters, digits,
// '-' and '_' (no wildcard, no preset name, no address, no trailing dot)
// is suggested.
func invalidHost(name string) string {
	if slices.Contains(policy.Presets(), name) {
		return "a preset name, not a host"
	}
	if len(name) > 253 {
		return "not a valid host name"
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "not a valid host name (a single label)"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "not a valid host name"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "not a valid host name"
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "not a valid host name (numeric top-level label)"
	}
	return ""
}

// covers reports whether p allows everything s saw of name.
func covers(p *policy.Policy, name string, s *seen) bool {
	if len(s.ports) == 0 {
		return p.Decide(policy.Request{Name: name, Proto: "dns"}).Allow
	}
	for port := range s.ports {
		if !p.Decide(policy.Request{Name: name, Port: port, Proto: "tcp"}).Allow {
			return false
		}
	}
	return true
}

func note(s *seen) string {
	if s.count == 1 {
		return "1 connection"
	}
	return fmt.Sprintf("%d connections", s.count)
}

func sortedNames(m map[string]*seen) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// maxNotSuggestedShown bounds the "seen, not suggested" lines of the
// YAML header.
const maxNotSuggestedShown = 20

// WriteNotSuggested writes the "seen, not suggested" list as text lines,
// every name escaped (for stderr next to JSON output).
func (s *Suggestion) WriteNotSuggested(w io.Writer) error {
	if len(s.NotSuggested) == 0 {
		return nil
	}
	ew := &errWriter{w: w}
	ew.printf("seen, not suggested (%d):\n", len(s.NotSuggested))
	for _, n := range s.NotSuggested {
		ew.printf("  %s: %s\n", termsafe.String(truncate(n.Name, 200)), n.Why)
	}
	return ew.err
}

// WriteYAML writes the suggestion as a ready-to-commit buildwall.yml `run:`
// section with a comment header.
func (s *Suggestion) WriteYAML(w io.Writer) error {
	var hdr strings.Builder
	hdr.WriteString("Suggested by `buildwall policy suggest` from a run of:\n")
	fmt.Fprintf(&hdr, "  %s\n", termsafe.String(truncate(strings.Join(s.Command, " "), 100)))
	fmt.Fprintf(&hdr, "(that run was in %s mode). It allows exactly the names the run connected to.\n", s.Mode)
	hdr.WriteString("Review every entry before committing; then run in block mode.")
	if s.NotHeld > 0 {
		fmt.Fprintf(&hdr, "\nIncomplete: %d events of that run were past the report's memory bound and are\nnot in it; what they reached is not suggested (see the --events file).", s.NotHeld)
	}
	if len(s.NotSuggested) > 0 {
		fmt.Fprintf(&hdr, "\nSeen, not suggested (%d):", len(s.NotSuggested))
		for i, n := range s.NotSuggested {
			if i == maxNotSuggestedShown {
				fmt.Fprintf(&hdr, "\n  ... and %d more", len(s.NotSuggested)-i)
				break
			}
			fmt.Fprintf(&hdr, "\n  %s: %s", termsafe.String(truncate(n.Name, 100)), n.Why)
		}
	}

	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	run := &yaml.Node{Kind: yaml.MappingNode}
	run.Content = append(run.Content, str("mode"), str(string(s.Spec.Mode)))
	allow := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range s.Spec.Allow {
		n := str(a)
		if strings.HasPrefix(a, "*") || strings.HasPrefix(a, "[") {
			n.Style = yaml.DoubleQuotedStyle
		}
		n.LineComment = s.Notes[a]
		allow.Content = append(allow.Content, n)
	}
	if len(allow.Content) == 0 {
		allow.Style = yaml.FlowStyle
		allow.LineComment = "the run reached nothing outside the sandbox"
	}
	run.Content = append(run.Content, str("allow"), allow)
	if len(s.Spec.HostPorts) > 0 {
		hp := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, LineComment: "runner loopback services the build used"}
		for _, p := range s.Spec.HostPorts {
			hp.Content = append(hp.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(int(p))})
		}
		run.Content = append(run.Content, str("host-ports"), hp)
	}
	if s.Spec.DNS.Upstream != "" || s.Spec.DNS.TunnelLimit != 0 {
		dns := &yaml.Node{Kind: yaml.MappingNode}
		if s.Spec.DNS.Upstream != "" {
			dns.Content = append(dns.Content, str("upstream"), str(s.Spec.DNS.Upstream))
		}
		if s.Spec.DNS.TunnelLimit != 0 {
			dns.Content = append(dns.Content, str("tunnel-limit"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(s.Spec.DNS.TunnelLimit)})
		}
		run.Content = append(run.Content, str("dns"), dns)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, HeadComment: hdr.String()}
	root.Content = append(root.Content, str("run"), run)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}

	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	return nil
}
