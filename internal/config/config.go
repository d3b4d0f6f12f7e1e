// Package config reads buildwall.yml, the optional repository configuration.
//
// The file is decoded from go.yaml.in/yaml/v3 nodes so that every error
// carries file:line:column, and unknown keys are errors: a typo must never
// silently disable a control. The `run:` section belongs to the run-time
// firewall policy (package policy); it is kept here as a raw *yaml.Node.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/spelling"
	"github.com/buildwall/buildwall/internal/treefs"
	"go.yaml.in/yaml/v3"
)

// FileName is the configuration file looked up at the repository root.
const FileName = "buildwall.yml"

// MaxSize bounds the configuration file size.
const MaxSize = 4 << 20

// Config is a decoded buildwall.yml. The zero value is a valid empty
// configuration.
type Config struct {
	// Path is the file the configuration came from ("" when none).
	Path string
	Scan Scan
	// Run is the raw `run:` section for package policy; nil when absent.
	Run *yaml.Node
}

// Scan is the `scan:` section.
type Scan struct {
	// FailOn is the default for --fail-on; nil when not configured.
	FailOn *finding.Severity
	// Registries are extra allowed registry URLs, as written.
	Registries []string
	// InstallScriptsAllow lists package names allowed to run install scripts.
	InstallScriptsAllow []string
	// Ignores suppress findings; see Ignore.Match.
	Ignores []Ignore
	// Exclude are globs (scan.exclude) of paths the walk skips; see
	// Exclude.
	Exclude []Glob

	// Positions in the file, for findings about the configuration itself
	// (zero when unknown): FailOnPos of the fail-on value, RegistryPos and
	// InstallScriptsAllowPos of each entry, parallel to their lists.
	FailOnPos              Position
	RegistryPos            []Position
	InstallScriptsAllowPos []Position
	ExcludePos             []Position
}

// Position is a 1-based line and column in the configuration file.
type Position struct{ Line, Column int }

func posOf(n *yaml.Node) Position { return Position{Line: n.Line, Column: n.Column} }

func positions(n *yaml.Node) []Position {
	out := make([]Position, len(n.Content))
	for i, e := range n.Content {
		out[i] = posOf(e)
	}
	return out
}

// Ignore suppresses findings that match every field it sets.
type Ignore struct {
	Rule string
	// Package is a package name ("esbuild") or name@version ("esbuild@0.19.2").
	Package string
	// Path is a slash-separated glob over finding paths; "**" matches any
	// number of directories.
	Path   string
	Reason string
	// Until is the last day (UTC) the ignore applies; zero for no end.
	Until time.Time
	// Line and Column locate the entry in the configuration file (1-based).
	Line, Column int

	glob glob
}

// Error is a configuration error with its position. Line and Column are
// 1-based; 0 when unknown.
type Error struct {
	Path         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
}

// Find returns the configuration file that applies to dir: FileName in dir
// or in the nearest ancestor that is the repository root (holds .git). It
// returns "" when there is none. It never climbs above a repository root.
// Any directory entry of that name counts, even a FIFO or a link leading
// out of the repository, so that LoadFound reports it instead of the scan
// quietly running without configuration.
func Find(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(abs, FileName)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
		if _, err := os.Lstat(filepath.Join(abs, ".git")); err == nil {
			return ""
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
}

// Load reads and parses the configuration file at path, which the user
// named (--config): it may lie anywhere, but only a regular file is read,
// without blocking, at most MaxSize bytes. Errors are *Error for malformed
// content, or an I/O error wrapped with the path (treefs.ErrNotRegular for
// a FIFO or device).
func Load(path string) (*Config, error) {
	data, err := treefs.ReadFile(context.Background(), path, MaxSize)
	return load(path, data, err)
}

// LoadFound reads the configuration file Find returned. It belongs to the
// scanned tree, so it is read through a treefs.Root at the repository root
// (the nearest ancestor of its directory holding .git, else the directory
// itself): a link leading out of the repository, a link loop, a FIFO or a
// device fails with an error wrapping treefs.ErrOutside, syscall.ELOOP or
// treefs.ErrNotRegular, and nothing of it is read.
func LoadFound(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}
	dir := filepath.Dir(abs)
	top := dir
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			top = d
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	tree, err := treefs.Open(top)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}
	defer tree.Close()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}
	rel, ok := tree.Rel(filepath.Join(realDir, filepath.Base(abs)))
	if !ok {
		return nil, fmt.Errorf("read config %q: %w", path, treefs.ErrOutside)
	}
	data, err := tree.ReadFile(context.Background(), rel, MaxSize)
	return load(path, data, err)
}

func load(path string, data []byte, err error) (*Config, error) {
	var se *treefs.SizeError
	if errors.As(err, &se) {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxSize)}
	}
	if err != nil {
		return nil, fmt.Errorf("open config %q: %w", path, unwrap(err))
	}
	return Parse(path, data)
}

// unwrap drops the *fs.PathError treefs adds: the caller names the file.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse decodes configuration data; path is used in error messages.
// Malformed content returns *Error.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{Path: path}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // empty file
		}
		return nil, yamlError(path, err)
	}
	// A second document would be ignored silently, while a reviewer may
	// read its settings (say fail-on) as the ones in force: refuse it.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Path: path, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document; buildwall.yml must hold one"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil
	}
	d := decoder{path: path}
	err := d.mapping(root, "top level", map[string]func(*yaml.Node) error{
		"scan": func(n *yaml.Node) error { return d.scan(n, &c.Scan) },
		"run": func(n *yaml.Node) error {
			c.Run = n
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// yamlError turns a yaml syntax error ("yaml: line 3: ...") into *Error.
func yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if _, scanErr := fmt.Sscanf(n, "%d", &line); scanErr == nil {
				msg = after
			}
		}
	}
	return &Error{Path: path, Line: line, Msg: msg}
}

type decoder struct{ path string }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) error {
	return &Error{Path: d.path, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// mapping walks a mapping node, calling the handler for each known key and
// failing on unknown or duplicate keys.
func (d *decoder) mapping(n *yaml.Node, what string, keys map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "%s must be a mapping", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := keys[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			names := knownKeys(keys)
			return d.errorf(k, "unknown key %q in %s%s (known: %s)", k.Value, what, spelling.Hint(k.Value, names), strings.Join(names, ", "))
		}
		if seen[k.Value] {
			return d.errorf(k, "duplicate key %q in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func knownKeys(keys map[string]func(*yaml.Node) error) []string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sortStrings(names)
	return names
}

func (d *decoder) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", d.errorf(n, "%s must be a string", what)
	}
	return n.Value, nil
}

func (d *decoder) strings(n *yaml.Node, what string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errorf(n, "%s must be a list of strings", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		s, err := d.str(e, what+" entry")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *decoder) scan(n *yaml.Node, s *Scan) error {
	if n.Tag == "!!null" {
		return nil
	}
	return d.mapping(n, "scan", map[string]func(*yaml.Node) error{
		"fail-on": func(v *yaml.Node) error {
			name, err := d.str(v, "scan.fail-on")
			if err != nil {
				return err
			}
			sev, err := finding.ParseSeverity(name)
			if err != nil {
				return d.errorf(v, "scan.fail-on: %v", err)
			}
			s.FailOn = &sev
			s.FailOnPos = posOf(v)
			return nil
		},
		"registries": func(v *yaml.Node) error {
			list, err := d.strings(v, "scan.registries")
			if err != nil {
				return err
			}
			for i, r := range list {
				u, err := url.Parse(r)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return d.errorf(v.Content[i], "scan.registries: %q is not an http(s) URL", r)
				}
			}
			s.Registries = list
			s.RegistryPos = positions(v)
			return nil
		},
		"install-scripts": func(v *yaml.Node) error {
			return d.mapping(v, "scan.install-scripts", map[string]func(*yaml.Node) error{
				"allow": func(v *yaml.Node) error {
					list, err := d.strings(v, "scan.install-scripts.allow")
					s.InstallScriptsAllow = list
					s.InstallScriptsAllowPos = positions(v)
					return err
				},
			})
		},
		"exclude": func(v *yaml.Node) error {
			list, err := d.strings(v, "scan.exclude")
			if err != nil {
				return err
			}
			for i, p := range list {
				g, err := CompileGlob(p)
				if err != nil {
					return d.errorf(v.Content[i], "scan.exclude %q: %v", p, err)
				}
				s.Exclude = append(s.Exclude, g)
			}
			s.ExcludePos = positions(v)
			return nil
		},
		"ignore": func(v *yaml.Node) error {
			if v.Kind != yaml.SequenceNode {
				return d.errorf(v, "scan.ignore must be a list")
			}
			for _, e := range v.Content {
				ig, err := d.ignore(e)
				if err != nil {
					return err
				}
				s.Ignores = append(s.Ignores, ig)
			}
			return nil
		},
	})
}

func (d *decoder) ignore(n *yaml.Node) (Ignore, error) {
	ig := Ignore{Line: n.Line, Column: n.Column}
	field := func(dst *string, what string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			s, err := d.str(v, "scan.ignore "+what)
			*dst = strings.TrimSpace(s)
			return err
		}
	}
	err := d.mapping(n, "scan.ignore entry", map[string]func(*yaml.Node) error{
		"rule":    field(&ig.Rule, "rule"),
		"package": field(&ig.Package, "package"),
		"path":    field(&ig.Path, "path"),
		"reason":  field(&ig.Reason, "reason"),
		"until": func(v *yaml.Node) error {
			s, err := d.str(v, "scan.ignore until")
			if err != nil {
				return err
			}
			t, err := ParseUntil(s)
			if err != nil {
				return d.errorf(v, "scan.ignore until: %v", err)
			}
			ig.Until = t
			return nil
		},
	})
	if err != nil {
		return ig, err
	}
	if ig.Rule == "" && ig.Package == "" && ig.Path == "" {
		return ig, d.errorf(n, "scan.ignore entry must name a rule, a package or a path")
	}
	if ig.Reason == "" {
		return ig, d.errorf(n, "scan.ignore entry has no reason: say why the finding is acceptable")
	}
	if ig.Path != "" {
		g, err := compileGlob(ig.Path)
		if err != nil {
			return ig, d.errorf(n, "scan.ignore path %q: %v", ig.Path, err)
		}
		ig.glob = g
	}
	return ig, nil
}

// CheckRules fails when an ignore names a rule that is not in ids, so that
// a misspelt rule ID is an error (naming the nearest ID) rather than a
// no-op.
func (c *Config) CheckRules(ids []string) error {
	for _, ig := range c.Scan.Ignores {
		if ig.Rule != "" && !slices.Contains(ids, ig.Rule) {
			return &Error{Path: c.Path, Line: ig.Line, Column: ig.Column, Msg: fmt.Sprintf("scan.ignore names unknown rule %q%s", ig.Rule, spelling.Hint(ig.Rule, ids))}
		}
	}
	return nil
}

// Match reports whether ig suppresses f: every field ig sets must match.
func (ig *Ignore) Match(f *finding.Finding) bool {
	if ig.Rule != "" && ig.Rule != f.Rule {
		return false
	}
	if ig.Package != "" {
		if f.Package == nil {
			return false
		}
		if ig.Package != f.Package.Name && ig.Package != f.Package.String() {
			return false
		}
	}
	if ig.Path != "" && !ig.glob.match(f.Path) {
		return false
	}
	return true
}

// ParseUntil parses an ignore's expiry date, YYYY-MM-DD (UTC).
func ParseUntil(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date written YYYY-MM-DD", s)
	}
	return t, nil
}

// Expired reports whether an ignore with expiry date until (zero: none)
// no longer applies at now: it applies through the whole of that day, UTC.
func Expired(until, now time.Time) bool {
	return !until.IsZero() && !now.Before(until.AddDate(0, 0, 1))
}

// Excluded reports whether the slash path rel, relative to the scan root,
// matches a scan.exclude glob.
func (s *Scan) Excluded(rel string) bool {
	for _, g := range s.Exclude {
		if g.Match(rel) {
			return true
		}
	}
	return false
}

// CoversPath reports whether the ignore's path glob (if any) matches the
// slash path p, relative to the repository.
func (ig *Ignore) CoversPath(p string) bool {
	return ig.Path == "" || ig.glob.match(p)
}

// InstallScriptAllowed reports whether the package name is allowlisted.
func (s *Scan) InstallScriptAllowed(name string) bool {
	for _, a := range s.InstallScriptsAllow {
		if a == name {
			return true
		}
	}
	return false
}

// Suppress marks the findings of fs that an ignore matches (Suppressed set,
// kind external, Source source:line of the ignore) and returns, parallel to
// s.Ignores, how many findings each ignore matched. An ignore that is
// Expired at now suppresses nothing (and counts nothing); a finding already
// suppressed is left as it is. skip, when not nil, exempts findings no
// ignore may suppress.
func (s *Scan) Suppress(fs []finding.Finding, source string, now time.Time, skip func(*finding.Finding) bool) []int {
	used := make([]int, len(s.Ignores))
	if len(s.Ignores) == 0 {
		return used
	}
	sups := make([]*finding.Suppression, len(s.Ignores))
	for i := range fs {
		f := &fs[i]
		if f.Suppressed != nil || (skip != nil && skip(f)) {
			continue
		}
		for j := range s.Ignores {
			ig := &s.Ignores[j]
			if Expired(ig.Until, now) || !ig.Match(f) {
				continue
			}
			if sups[j] == nil {
				sups[j] = &finding.Suppression{Kind: finding.SuppressionExternal, Reason: ig.Reason, Source: fmt.Sprintf("%s:%d", source, ig.Line)}
			}
			f.Suppressed = sups[j]
			used[j]++
			break
		}
	}
	return used
}
