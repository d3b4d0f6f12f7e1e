// Package bun parses bun's text lockfile, bun.lock (JSON with comments and
// trailing commas, lockfileVersion 0 and 1), into the lockfile model. The
// binary bun.lockb of older bun releases is out of scope: Match does not
// accept it, and bun can convert it with `bun install --save-text-lockfile`.
//
// A bun.lock records no install scripts; it lists in trustedDependencies the
// packages allowed to run them, and those are the packages whose scripts do
// run, so they get InstallScript. It records no dev or optional flags either.
// Packages that are not from a registry (git, tarball, file, link,
// workspace) have no version in the lockfile; their Version is the spec as
// written ("github:user/repo#abc123"), for workspaces the version from the
// workspaces section when it has one. Path is the packages key as a
// node_modules path ("parent/child" becomes
// "node_modules/parent/node_modules/child"); for a copy nested under a
// workspace that path goes through the workspace's symlink.
package bun

import (
	"errors"
	"fmt"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// Parser parses bun.lock. The zero value is ready to use and safe for
// concurrent use.
type Parser struct{}

var _ lockfile.Parser = Parser{}

// Format returns "bun".
func (Parser) Format() string { return "bun" }

// Match reports whether base is "bun.lock" (not the binary "bun.lockb").
func (Parser) Match(base string) bool { return base == "bun.lock" }

// Parse parses a bun.lock. Malformed input returns a *lockfile.ParseError
// with the 1-based line and column (in bytes) of the problem. Packages are
// in file order; each carries the position of its key.
func (Parser) Parse(path string, data []byte) (*lockfile.Lockfile, error) {
	root, err := decodeJSONC(data)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return nil, &lockfile.ParseError{Path: path, Line: se.line, Column: se.col, Msg: se.msg}
		}
		return nil, &lockfile.ParseError{Path: path, Msg: err.Error()}
	}
	p := &parser{path: path, lf: &lockfile.Lockfile{
		Path:      path,
		Format:    "bun",
		Importers: map[string]map[string]lockfile.Direct{},
	}}
	if root.kind != kindObject {
		return nil, p.errorf(&root, "lockfile is a JSON %s, want an object", root.kind)
	}
	ver := root.get("lockfileVersion")
	if ver == nil || ver.kind != kindNumber {
		return nil, p.errorf(&root, "lockfile has no numeric lockfileVersion")
	}
	p.lf.Version = ver.str
	if err := p.parse(&root); err != nil {
		return nil, err
	}
	return p.lf, nil
}

type parser struct {
	path string
	lf   *lockfile.Lockfile
}

func (p *parser) errorf(v *value, format string, args ...any) error {
	return &lockfile.ParseError{Path: p.path, Line: v.line, Column: v.col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errorAt(m *member, format string, args ...any) error {
	return &lockfile.ParseError{Path: p.path, Line: m.line, Column: m.col, Msg: fmt.Sprintf(format, args...)}
}

// depSections are the workspace fields that declare dependencies.
var depSections = []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies"}

func (p *parser) parse(root *value) error {
	workspaces, err := p.object(root, "workspaces")
	if err != nil {
		return err
	}
	pkgs, err := p.object(root, "packages")
	if err != nil {
		return err
	}
	trusted := map[string]bool{}
	if t := root.get("trustedDependencies"); t != nil {
		if t.kind != kindArray {
			return p.errorf(t, "trustedDependencies is a %s, want an array", t.kind)
		}
		for i := range t.items {
			trusted[t.items[i].str] = true
		}
	}
	// Workspace versions, by directory, for workspace: packages.
	wsVersion := map[string]string{}
	for i := range workspaces {
		m := &workspaces[i]
		if m.val.kind != kindObject {
			return p.errorAt(m, "workspace %q is a %s, want an object", m.key, m.val.kind)
		}
		if v := m.val.get("version"); v != nil && v.kind == kindString {
			wsVersion[m.key] = v.str
		}
	}
	byKey := make(map[string]int, len(pkgs))
	for i := range pkgs {
		pkg, err := p.pkg(&pkgs[i], wsVersion)
		if err != nil {
			return err
		}
		pkg.InstallScript = trusted[pkg.Name]
		byKey[pkgs[i].key] = len(p.lf.Packages)
		p.lf.Packages = append(p.lf.Packages, pkg)
	}
	for i := range workspaces {
		m := &workspaces[i]
		dir := m.key
		if dir == "" {
			dir = "."
		}
		prefix := ""
		if n := m.val.get("name"); n != nil && n.kind == kindString && n.str != "" && m.key != "" {
			prefix = n.str + "/"
		}
		deps := map[string]lockfile.Direct{}
		for _, section := range depSections {
			sec := m.val.get(section)
			if sec == nil {
				continue
			}
			if sec.kind != kindObject {
				return p.errorf(sec, "%s of workspace %q is a %s, want an object", section, m.key, sec.kind)
			}
			for j := range sec.members {
				d := &sec.members[j]
				if d.val.kind != kindString {
					return p.errorAt(d, "dependency %q is a %s, want a string", d.key, d.val.kind)
				}
				if _, dup := deps[d.key]; dup && section == "peerDependencies" {
					// A peer range beside a dependency the workspace installs
					// itself is not what the lockfile resolved.
					continue
				}
				direct := lockfile.Direct{Name: d.key, Spec: d.val.str}
				// A workspace's own copy is keyed under its name; else the
				// hoisted one is used.
				idx, ok := byKey[prefix+d.key]
				if !ok {
					idx, ok = byKey[d.key]
				}
				if ok {
					direct.Version = p.lf.Packages[idx].Version
				}
				deps[d.key] = direct
			}
		}
		p.lf.Importers[dir] = deps
	}
	return nil
}

// object returns the members of root's object field key (nil when absent).
func (p *parser) object(root *value, key string) ([]member, error) {
	v := root.get(key)
	if v == nil {
		return nil, nil
	}
	if v.kind != kindObject {
		return nil, p.errorf(v, "%s is a %s, want an object", key, v.kind)
	}
	return v.members, nil
}
