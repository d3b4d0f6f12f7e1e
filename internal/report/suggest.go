package report

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// Suggestion is the smallest policy that allows what a run let through.
type Suggestion struct {
	// Spec is the suggested policy, mode block.
	Spec *policy.Spec
	// Notes explains each allow entry (what it covered), by entry.
	Notes map[string]string
	// Omitted lists destinations left out on purpose (suspected DNS
	// tunnelling), for the reviewer.
	Omitted []string
	// Command and Mode describe the run the suggestion came from.
	Command []string
	Mode    policy.Mode
}

// benchmarking is the RFC 2544 range the DNS server's synthetic answers
// come from; it is never a real destination.
var benchmarking = netip.MustParsePrefix("198.18.0.0/15")

type seen struct {
	ports map[uint16]bool
	count int
	dns   bool // looked up
	conn  bool // connected
}

// Suggest derives a policy from the DNS and connection events a run
// allowed or audited: every name connected to becomes "name:port" when one
// port was used and "name" otherwise; names only looked up become "name";
// literal addresses become "ip:port" or "ip"; loopback ports become
// host-ports. A preset replaces the names it covers (as env expands it)
// whenever it covers at least one. Names flagged as suspected DNS
// tunnelling are left out and listed in Omitted. The DNS upstream of the
// run's policy is kept.
func Suggest(r *Report, env policy.Env) *Suggestion {
	names := map[string]*seen{}
	ips := map[netip.Addr]*seen{}
	hostPorts := map[uint16]bool{}
	omitted := map[string]bool{}
	get := func(m map[string]*seen, k string) *seen {
		if m[k] == nil {
			m[k] = &seen{ports: map[uint16]bool{}}
		}
		return m[k]
	}
	for _, e := range r.Events {
		if e.Verdict != event.VerdictAllow && e.Verdict != event.VerdictAudit {
			continue
		}
		switch e.Kind {
		case event.KindDNS:
			if e.Name == "" || e.Rule == "synthetic address" {
				continue
			}
			if strings.Contains(e.Reason, tunnelPrefix) {
				omitted[e.Name] = true
				continue
			}
			s := get(names, e.Name)
			s.dns = true
		case event.KindConnect:
			if e.Name != "" {
				if omitted[e.Name] {
					continue
				}
				s := get(names, e.Name)
				s.conn, s.count = true, s.count+1
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
			if benchmarking.Contains(a) {
				continue // a synthetic address with no name: nothing to allow
			}
			if a.IsLoopback() {
				if e.Port != 0 {
					hostPorts[e.Port] = true
				}
				continue
			}
			if ips[a] == nil {
				ips[a] = &seen{ports: map[uint16]bool{}}
			}
			ips[a].conn, ips[a].count = true, ips[a].count+1
			if e.Port != 0 {
				ips[a].ports[e.Port] = true
			}
		}
	}
	for n := range omitted {
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

	// Presets first, in their documented order.
	covered := map[string]bool{}
	for _, preset := range policy.Presets() {
		p, err := policy.Compile(&policy.Spec{Allow: []string{preset}}, env)
		if err != nil {
			continue
		}
		var hits []string
		for _, n := range sortedNames(names) {
			s := names[n]
			if covers(p, n, s) {
				hits = append(hits, n)
			}
		}
		if len(hits) == 0 {
			continue
		}
		for _, h := range hits {
			covered[h] = true
		}
		sug.Spec.Allow = append(sug.Spec.Allow, preset)
		sug.Notes[preset] = "covers " + summarizeNames(hits)
	}
	for _, n := range sortedNames(names) {
		if covered[n] {
			continue
		}
		s := names[n]
		entry := n
		if len(s.ports) == 1 {
			for port := range s.ports {
				entry = n + ":" + strconv.Itoa(int(port))
			}
		}
		sug.Spec.Allow = append(sug.Spec.Allow, entry)
		sug.Notes[entry] = note(s)
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
	sug.Omitted = sortedKeys(omitted)
	return sug
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
	switch {
	case s.conn && s.count == 1:
		return "1 connection"
	case s.conn:
		return fmt.Sprintf("%d connections", s.count)
	}
	return "looked up, never connected to"
}

func summarizeNames(ns []string) string {
	if len(ns) > 3 {
		return strings.Join(ns[:3], ", ") + fmt.Sprintf(" and %d more", len(ns)-3)
	}
	return strings.Join(ns, ", ")
}

func sortedNames(m map[string]*seen) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WriteYAML writes the suggestion as a ready-to-commit buildwall.yml `run:`
// section with a comment header.
func (s *Suggestion) WriteYAML(w io.Writer) error {
	var hdr strings.Builder
	hdr.WriteString("Suggested by `buildwall policy suggest` from a run of:\n")
	fmt.Fprintf(&hdr, "  %s\n", truncate(strings.Join(s.Command, " "), 100))
	fmt.Fprintf(&hdr, "(that run was in %s mode). It allows exactly what the run reached.\n", s.Mode)
	hdr.WriteString("Review every entry before committing; then run in block mode.")
	if len(s.Omitted) > 0 {
		fmt.Fprintf(&hdr, "\nLeft out as suspected DNS tunnelling: %d name(s), such as", len(s.Omitted))
		for i, n := range s.Omitted {
			if i == 3 {
				break
			}
			fmt.Fprintf(&hdr, "\n  %s", truncate(n, 100))
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
	if s.Spec.DNS.Upstream != "" {
		dns := &yaml.Node{Kind: yaml.MappingNode}
		dns.Content = append(dns.Content, str("upstream"), str(s.Spec.DNS.Upstream))
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
