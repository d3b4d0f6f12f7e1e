// Package pnpm parses pnpm-lock.yaml into the lockfile model. It reads
// lockfile versions 5.x ("/name/version" keys), 6.x ("/name@version" keys,
// peer suffixes in parentheses) and 7 to 9 ("name@version" keys, with a
// separate snapshots section in 9).
//
// Each key of the packages section becomes one Package, in file order; peer
// variants of one name@version in 5.x/6.x are separate keys and so separate
// packages. Registry packages carry only an integrity hash; their Resolved is
// empty and Source is registry. InstallScript comes from requiresBuild,
// which lockfile 9 no longer writes. Lockfile 9 does not record whether a
// package is a dev dependency either, so Dev is false there; Optional comes
// from its snapshots. Registries configured in .npmrc or pnpm-workspace.yaml
// are not in the lockfile and are not read here.
//
// The YAML is decoded by package syml: a fast reader for the subset pnpm
// writes, with yaml.v3 for anything else.
package pnpm

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/syml"
)

// Parser parses pnpm-lock.yaml. The zero value is ready to use and safe for
// concurrent use.
type Parser struct{}

var _ lockfile.Parser = Parser{}

// Format returns "pnpm".
func (Parser) Format() string { return "pnpm" }

// Match reports whether base is "pnpm-lock.yaml".
func (Parser) Match(base string) bool { return base == "pnpm-lock.yaml" }

// parser holds the state of one Parse call.
type parser struct {
	path  string
	major int // lockfile major version: 5, 6, 9, ...
	lines int // lines in the input
	lf    *lockfile.Lockfile
}

// errorf reports a problem at node n. yaml.v3 can place an empty node just
// past the end of input; such positions move onto the last line.
func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	line, col := n.Line, n.Column
	if line > p.lines {
		line, col = p.lines, 1
	}
	return &lockfile.ParseError{Path: p.path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a pnpm lockfile. Malformed input returns a
// *lockfile.ParseError with the 1-based line of the problem.
//
// pnpm 11 and later may write two YAML documents: an "env" document (config
// dependencies and the pnpm version the project pins, with their packages)
// and then the project lockfile. Packages come from every document, since
// all of them are installed; Importers and Version come from the last one,
// the project's.
func (Parser) Parse(path string, data []byte) (*lockfile.Lockfile, error) {
	docs, err := decodeYAML(path, data)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		docs = []*yaml.Node{{Line: 1, Column: 1}}
	}
	p := &parser{path: path, lines: syml.Lines(data), lf: &lockfile.Lockfile{
		Path:      path,
		Format:    "pnpm",
		Importers: map[string]map[string]lockfile.Direct{},
	}}
	for i, root := range docs {
		if err := p.document(root, i == len(docs)-1); err != nil {
			return nil, err
		}
	}
	return p.lf, nil
}

// document reads one YAML document; only the last one (the project
// lockfile) contributes importers.
func (p *parser) document(root *yaml.Node, last bool) error {
	if root.Kind != yaml.MappingNode {
		return p.errorf(root, "lockfile is not a YAML mapping")
	}
	ver := field(root, "lockfileVersion")
	if ver == nil || ver.Kind != yaml.ScalarNode || ver.Value == "" {
		return p.errorf(root, "lockfile has no lockfileVersion")
	}
	major, _, _ := strings.Cut(ver.Value, ".")
	var err error
	if p.major, err = strconv.Atoi(major); err != nil || p.major < 1 {
		return p.errorf(ver, "invalid lockfileVersion %q", ver.Value)
	}
	if last {
		p.lf.Version = ver.Value
		if importers := field(root, "importers"); importers != nil {
			if importers.Kind != yaml.MappingNode {
				return p.errorf(importers, "importers is not a mapping")
			}
			err = mapping(importers, func(k, v *yaml.Node) error {
				return p.importer(k.Value, v)
			})
		} else {
			// A single-project lockfile keeps the root importer at the top level.
			err = p.importer(".", root)
		}
		if err != nil {
			return err
		}
	}
	return p.packages(field(root, "packages"), field(root, "snapshots"))
}

// importer records the dependencies of the project in dir from m, which is
// either an importers entry or (single project) the document root.
func (p *parser) importer(dir string, m *yaml.Node) error {
	if m.Kind != yaml.MappingNode && !(m.Kind == yaml.ScalarNode && m.Tag == "!!null") {
		return p.errorf(m, "importer %q is not a mapping", dir)
	}
	deps := map[string]lockfile.Direct{}
	specifiers := field(m, "specifiers") // lockfile 5.x only
	for _, section := range []string{"dependencies", "devDependencies", "optionalDependencies"} {
		err := mapping(field(m, section), func(k, v *yaml.Node) error {
			d := lockfile.Direct{Name: k.Value}
			switch v.Kind {
			case yaml.MappingNode: // 6.0 and later: {specifier, version}
				d.Spec, d.Version = scalar(v, "specifier"), scalar(v, "version")
			case yaml.ScalarNode: // 5.x: the version, with the range under specifiers
				d.Spec, d.Version = scalar(specifiers, k.Value), v.Value
			default:
				return p.errorf(k, "dependency %q is neither a version nor a mapping", k.Value)
			}
			d.Version = p.directVersion(d.Version)
			deps[k.Value] = d
			return nil
		})
		if err != nil {
			return err
		}
	}
	p.lf.Importers[dir] = deps
	return nil
}

// directVersion reduces an importer's version reference to the version:
// peer suffixes go, and an alias's "/bar@1.0.0" or "bar@1.0.0" (5.x:
// "/bar/1.0.0") becomes "1.0.0". link:, file: and URL references stay as
// written.
func (p *parser) directVersion(v string) string {
	if strings.Contains(v, ":") {
		return v
	}
	if p.major < 6 {
		if strings.HasPrefix(v, "/") {
			_, v = p.splitKey(v)
			return v
		}
		return cutPeers(v, '_')
	}
	v = strings.TrimPrefix(cutPeers(v, '('), "/")
	if len(v) > 1 {
		if i := strings.LastIndexByte(v[1:], '@'); i >= 0 {
			return v[i+2:]
		}
	}
	return v
}

// cutPeers removes a peer-dependency suffix starting at sep: "(react@18.2.0)"
// from 6.0 on, "_react@18.2.0" after a 5.x version.
func cutPeers(v string, sep byte) string {
	if i := strings.IndexByte(v, sep); i > 0 {
		return v[:i]
	}
	return v
}

// splitKey splits a packages or snapshots key into name and version. Keys
// are "/name/version" (5.x), "/name@version" (6.x) or "name@version" (7+),
// all possibly with a peer suffix, which is dropped. version is empty when
// the key has none.
func (p *parser) splitKey(key string) (name, version string) {
	key = strings.TrimPrefix(key, "/")
	if p.major < 6 {
		segs := strings.Split(key, "/")
		n := 1
		if strings.HasPrefix(key, "@") {
			n = 2
		}
		if len(segs) <= n {
			return key, ""
		}
		return strings.Join(segs[:n], "/"), cutPeers(strings.Join(segs[n:], "/"), '_')
	}
	key = cutPeers(key, '(')
	if len(key) > 1 {
		if i := strings.IndexByte(key[1:], '@'); i >= 0 {
			return key[:i+1], key[i+2:]
		}
	}
	return key, ""
}
