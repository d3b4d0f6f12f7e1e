// Package policy is the egress policy of `buildwall run`: the reviewable
// `run:` section of buildwall.yml (or a --policy file) decoded into a Spec
// with positions, compiled against the toolchain configuration of this
// machine (Env) into a Policy, and asked one question, Decide.
//
// Decide is pure: it does no I/O, keeps no state and is safe for concurrent
// use. The package imports only the standard library and go.yaml.in/yaml/v3.
//
// Matching rules, in full, are in docs/policy.md. In short: a host matches
// exactly; "*.example.com" matches any subdomain of example.com but not
// example.com itself; names are compared case-insensitively with a trailing
// dot ignored and IDNA (punycode) labels compared as bytes; a rule without a
// port allows every port; a CIDR rule applies to literal IP destinations
// only, never to names; the runner's loopback is reachable only on
// host-ports; a `tcp:` entry (host:port) allows a destination as opaque
// TCP, relayed without verifying its first bytes as TLS or HTTP.
package policy

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/spelling"
)

// Mode says what happens to traffic the policy does not allow.
type Mode string

// The modes.
const (
	// ModeAudit lets everything through and records what block mode would
	// refuse (verdict "audit").
	ModeAudit Mode = "audit"
	// ModeBlock refuses what the policy does not allow.
	ModeBlock Mode = "block"
)

// Spec is the decoded `run:` section, as written. It is echoed in run
// reports (JSON) and produced by `buildwall policy suggest` (YAML).
type Spec struct {
	// Mode is "audit" or "block"; empty means block (a written policy is
	// meant to be enforced; --mode overrides it).
	Mode Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Allow holds the allow entries exactly as written: presets ("npm",
	// "go", "pypi", "github"), hosts, wildcards and CIDRs, each with an
	// optional port.
	Allow []string `json:"allow" yaml:"allow"`
	// HostPorts are TCP ports on the runner's loopback the build may reach.
	HostPorts []uint16 `json:"host_ports,omitempty" yaml:"host-ports,omitempty,flow"`
	// TCP opts destinations in to opaque TCP ("db.example.com:5432"):
	// allowed, and relayed without verifying their first bytes as TLS or
	// HTTP. See docs/policy.md.
	TCP []string `json:"tcp,omitempty" yaml:"tcp,omitempty"`
	// DNS configures the upstream resolver.
	DNS DNSSpec `json:"dns,omitzero" yaml:"dns,omitempty"`
	// UnixSockets are the host's sockets under /run and /var/run the
	// build may reach (absolute, clean paths); the rest is hidden.
	UnixSockets []string `json:"unix_sockets,omitempty" yaml:"unix-sockets,omitempty"`
	// GitWritable lets the build write the repository's git directory,
	// which is read-only inside the sandbox by default (a build step must
	// not rewrite the refs or objects a later trusted comparison reads).
	GitWritable bool `json:"git_writable,omitempty" yaml:"git-writable,omitempty"`

	// File is the name the Spec was parsed from ("" when built in code).
	File string `json:"file,omitempty" yaml:"-"`

	allowPos []pos // parallel to Allow when parsed from YAML
	tcpPos   []pos // parallel to TCP
}

// DNSSpec is the `dns:` mapping.
type DNSSpec struct {
	// Upstream is the resolver buildwall asks for real addresses, as
	// "ip:port" (a bare IP means port 53). Empty: --dns-upstream or the
	// host's resolv.conf.
	Upstream string `json:"upstream,omitempty" yaml:"upstream,omitempty"`
	// TunnelLimit bounds the unique query payload bytes per registrable
	// domain and minute before its queries are flagged (audit) or
	// refused (block) as DNS tunnelling; 0 means the default (4096).
	TunnelLimit int `json:"tunnel_limit,omitempty" yaml:"tunnel-limit,omitempty"`
}

// Bounds of dns.tunnel-limit.
const (
	MinTunnelLimit = 256
	MaxTunnelLimit = 1 << 20
)

type pos struct{ line, col int }

// Error is a policy error with the position it was found at. Line and Col
// are 1-based; both are 0 when the position is unknown (a Spec built in
// code).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.File != "":
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return e.Msg
}

// ParseFile reads and parses the policy file at path. See Parse.
func ParseFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a policy document. The document is either a mapping with a
// `run:` key (buildwall.yml; other top-level keys belong to other commands
// and are ignored) or the bare run mapping. name is used in error messages
// only. Every problem found is reported: the error is an errors.Join of
// *Error values, each naming name:line:col.
func Parse(name string, data []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: name, Msg: "parse yaml: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Msg: "empty policy: expected a mapping with mode and allow"}
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "run" {
				return ParseNode(name, root.Content[i+1])
			}
		}
		// buildwall.yml with other sections but no run: say so rather
		// than calling "scan" an unknown policy key.
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i]; k.Value == "scan" {
				return nil, &Error{File: name, Line: k.Line, Col: k.Column, Msg: "no run: section (the egress policy goes under run:)"}
			}
		}
	}
	return ParseNode(name, root)
}

// ParseNode decodes the value of a `run:` key (a mapping node). name is used
// in error messages only. Errors are as for Parse.
func ParseNode(name string, n *yaml.Node) (*Spec, error) {
	p := &parser{file: name}
	s := p.spec(n)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	s.File = name
	return s, nil
}

type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (p *parser) spec(n *yaml.Node) *Spec {
	s := &Spec{}
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			p.errorf(n, "run policy: expected a mapping with mode and allow, got %s", kindName(n))
		} else {
			p.errorf(nil, "run policy: expected a mapping with mode and allow")
		}
		return s
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if seen[k.Value] {
			p.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && k.Value != "mode" {
			if k.Value == "allow" {
				s.Allow = []string{} // "allow:" with nothing: allow nothing
			}
			continue
		}
		switch k.Value {
		case "mode":
			p.mode(s, v)
		case "allow":
			p.allow(s, v)
		case "host-ports":
			p.hostPorts(s, v)
		case "dns":
			p.dns(s, v)
		case "tcp":
			p.tcp(s, v)
		case "unix-sockets":
			p.unixSockets(s, v)
		case "git-writable":
			p.gitWritable(s, v)
		default:
			p.errorf(k, "unknown key %q%s (want mode, allow, tcp, host-ports, unix-sockets, git-writable or dns)", k.Value, spelling.Hint(k.Value, []string{"mode", "allow", "tcp", "host-ports", "unix-sockets", "git-writable", "dns"}))
		}
	}
	return s
}

func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s: expected a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) mode(s *Spec, n *yaml.Node) {
	v, ok := p.scalar(n, "mode")
	if !ok {
		return
	}
	switch Mode(v) {
	case ModeAudit, ModeBlock:
		s.Mode = Mode(v)
	default:
		p.errorf(n, "mode: %q is not audit or block", v)
	}
}

func (p *parser) allow(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "allow: expected a list of hosts, wildcards, CIDRs or presets, got %s", kindName(n))
		return
	}
	s.Allow = []string{}
	for _, item := range n.Content {
		item = resolveAlias(item)
		v, ok := p.scalar(item, "allow entry")
		if !ok {
			continue
		}
		e, err := parseEntry(v)
		if err != nil {
			p.errorf(item, "allow entry %q: %s", v, err)
			continue
		}
		if e.kind == kindHost && !strings.Contains(e.host, ".") {
			// A single-label name close to a preset is a misspelt preset
			// ("nmp"), which would otherwise allow a host nobody runs.
			if hint := spelling.Hint(e.host, Presets()); hint != "" {
				p.errorf(item, "allow entry %q is not a preset%s (presets: %s)", v, hint, strings.Join(Presets(), ", "))
				continue
			}
		}
		s.Allow = append(s.Allow, v)
		s.allowPos = append(s.allowPos, pos{item.Line, item.Column})
	}
}

func (p *parser) hostPorts(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "host-ports: expected a list of port numbers, got %s", kindName(n))
		return
	}
	for _, item := range n.Content {
		item = resolveAlias(item)
		v, ok := p.scalar(item, "host-ports entry")
		if !ok {
			continue
		}
		port, err := parsePort(v)
		if err != nil {
			p.errorf(item, "host-ports entry %q: %s", v, err)
			continue
		}
		s.HostPorts = append(s.HostPorts, port)
	}
}

func (p *parser) gitWritable(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, "git-writable: expected true or false, got %s", kindName(n))
		return
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errorf(n, "git-writable: expected true or false, got %q", n.Value)
		return
	}
	s.GitWritable = b
}

func (p *parser) unixSockets(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "unix-sockets: expected a list of socket paths under /run or /var/run, got %s", kindName(n))
		return
	}
	for _, item := range n.Content {
		item = resolveAlias(item)
		if v, ok := p.scalar(item, "unix-sockets entry"); ok {
			if err := checkUnixSocket(v); err != nil {
				p.errorf(item, "unix-sockets entry %q: %s", v, err)
				continue
			}
			s.UnixSockets = append(s.UnixSockets, v)
		}
	}
}

// checkUnixSocket accepts an absolute, clean path under /run or /var/run
// (elsewhere nothing is hidden, so there is nothing to list).
func checkUnixSocket(v string) error {
	if !path.IsAbs(v) || path.Clean(v) != v {
		return errors.New("want an absolute path without . or .. elements")
	}
	if !strings.HasPrefix(v, "/run/") && !strings.HasPrefix(v, "/var/run/") {
		return errors.New("only sockets under /run and /var/run are hidden; other paths need no entry")
	}
	return nil
}

func (p *parser) dns(s *Spec, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "dns: expected a mapping with upstream or tunnel-limit, got %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		switch k.Value {
		case "upstream":
			u, ok := p.scalar(v, "dns upstream")
			if !ok {
				continue
			}
			norm, err := normalizeUpstream(u)
			if err != nil {
				p.errorf(v, "dns upstream %q: %s", u, err)
				continue
			}
			s.DNS.Upstream = norm
		case "tunnel-limit":
			lim, ok := p.scalar(v, "dns tunnel-limit")
			if !ok {
				continue
			}
			n, err := parseTunnelLimit(lim)
			if err != nil {
				p.errorf(v, "dns tunnel-limit %q: %s", lim, err)
				continue
			}
			s.DNS.TunnelLimit = n
		default:
			p.errorf(k, "dns: unknown key %q%s (want upstream or tunnel-limit)", k.Value, spelling.Hint(k.Value, []string{"upstream", "tunnel-limit"}))
		}
	}
}

// parseTunnelLimit parses dns.tunnel-limit: bytes per minute.
func parseTunnelLimit(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < MinTunnelLimit || n > MaxTunnelLimit {
		return 0, fmt.Errorf("must be a number of bytes per minute from %d to %d", MinTunnelLimit, MaxTunnelLimit)
	}
	return n, nil
}

// parsePort parses a TCP port number, 1 to 65535.
func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, errors.New("port must be a number from 1 to 65535")
	}
	return uint16(n), nil
}
