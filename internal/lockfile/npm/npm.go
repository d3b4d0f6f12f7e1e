// Package npm parses npm lockfiles (package-lock.json and
// npm-shrinkwrap.json, lockfileVersion 1, 2 and 3) into the lockfile model,
// in one pass over the input with the position of every entry.
//
// For versions 2 and 3 the flat "packages" map is read and the legacy
// "dependencies" tree that version 2 also carries is skipped. Version 1
// files are read from the nested "dependencies" tree, with paths rebuilt
// in the same "node_modules/a/node_modules/b" form.
package npm

import (
	"errors"
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/jsonpos"
)

// Parser parses npm lockfiles. The zero value is ready to use and safe for
// concurrent use.
type Parser struct{}

var _ lockfile.Parser = Parser{}

// Format returns "npm".
func (Parser) Format() string { return "npm" }

// Match reports whether base is package-lock.json or npm-shrinkwrap.json.
func (Parser) Match(base string) bool {
	return base == "package-lock.json" || base == "npm-shrinkwrap.json"
}

// Parse parses an npm lockfile. The result is described field by field in
// the package documentation of lockfile; npm specifics:
//
//   - Packages holds every entry of "packages" except the root ("") and
//     the folder entries of workspaces and linked directories (keys
//     without a node_modules segment, such as "packages/a"); those are
//     importers. A link entry ("link": true) has Source SourceLink,
//     Resolved the folder as written, and Version the folder's version.
//   - Dev and Optional come from "dev" and "optional"; "devOptional"
//     (needed by both a dev and an optional path) sets both.
//   - A bundled dependency ("inBundle", or v1 "bundled") without a
//     resolved URL ships inside its parent's tarball and has Source
//     SourceUnknown: it has no source of its own to check.
//   - A version 1 entry whose version is a spec rather than a version
//     ("git+https://...#sha", "file:../x", "https://host/x.tgz") keeps it
//     as written in Version, and in Resolved when there is no "resolved".
//     A "file:" directory (not a tarball) has Source SourceLink: npm 6
//     symlinks it, as later versions record with "link": true.
//   - Importers has "." and one entry per folder key, with Spec from the
//     folder's dependencies, optionalDependencies, devDependencies and
//     peerDependencies (the first of those that names the dependency) and
//     Version from where Node's resolution finds it. Version 1 records no
//     specs: "." maps every top-level entry with an empty Spec.
//
// Parse returns a *lockfile.ParseError for malformed input.
func (Parser) Parse(path string, data []byte) (*lockfile.Lockfile, error) {
	p := &parser{d: jsonpos.NewDecoder(data, jsonpos.Options{})}
	lf, err := p.parse()
	if err != nil {
		var je *jsonpos.Error
		if errors.As(err, &je) {
			return nil, &lockfile.ParseError{Path: path, Line: je.Line, Column: je.Column, Msg: je.Msg}
		}
		return nil, &lockfile.ParseError{Path: path, Msg: err.Error()}
	}
	lf.Path = path
	return lf, nil
}

// parser holds the state of one Parse call.
type parser struct {
	d     *jsonpos.Decoder
	arena jsonpos.Arena

	lockVersion string
	// From "packages" (v2, v3).
	havePackages bool
	pkgs         []lockfile.Package
	links        []int // indexes in pkgs of link entries
	folders      []folder
	// From the legacy "dependencies" tree (v1).
	tree    []lockfile.Package
	scratch []byte
}

// folder is the root or a workspace/linked directory entry of "packages".
type folder struct {
	key     string // "" for the root
	version string
	deps    [4][]spec // by sectionOrder
}

type spec struct{ name, spec string }

// sectionOrder is the precedence of dependency sections when a name appears
// in several: what npm installs for the importer.
var sectionOrder = [4]string{"dependencies", "optionalDependencies", "devDependencies", "peerDependencies"}

func (p *parser) parse() (*lockfile.Lockfile, error) {
	d := p.d
	k, err := d.Peek()
	if err != nil {
		return nil, err
	}
	if k != jsonpos.Object {
		return nil, d.Errorf(d.Pos(), "lockfile must be a JSON object, found %s", k)
	}
	err = d.Object(func(key []byte) error {
		switch string(key) {
		case "lockfileVersion":
			k, err := d.Peek()
			if err != nil {
				return err
			}
			if k != jsonpos.Number {
				return d.Errorf(d.Pos(), `"lockfileVersion" must be a number, found %s`, k)
			}
			p.lockVersion, err = d.Number()
			return err
		case "packages":
			p.havePackages = true
			return p.packages()
		case "dependencies":
			if p.havePackages {
				return nil // the v2 legacy tree duplicates "packages"
			}
			p.tree = make([]lockfile.Package, 0, reserve(d))
			return p.tree1("", &p.tree)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	lf := &lockfile.Lockfile{Format: "npm", Version: p.lockVersion}
	if p.havePackages {
		lf.Packages = p.pkgs
		lf.Importers = p.importers()
	} else {
		lf.Packages = p.tree
		lf.Importers = rootImporter(p.tree)
	}
	return lf, nil
}

// reserve estimates how many packages a lockfile holds. npm writes about
// 400 to 600 bytes per entry (v2 twice that); reserving for the densest
// keeps the package slice from being regrown and copied on large files.
func reserve(d *jsonpos.Decoder) int { return d.Len() / 400 }

// str reads a string member value, naming the field in a type error.
func (p *parser) str(field string) (string, error) {
	k, err := p.d.Peek()
	if err != nil {
		return "", err
	}
	if k != jsonpos.String {
		return "", p.d.Errorf(p.d.Pos(), "%q must be a string, found %s", field, k)
	}
	b, err := p.d.Bytes()
	return p.arena.String(b), err
}

// boolean reads a boolean member value, naming the field in a type error.
func (p *parser) boolean(field string) (bool, error) {
	k, err := p.d.Peek()
	if err != nil {
		return false, err
	}
	if k != jsonpos.Bool {
		return false, p.d.Errorf(p.d.Pos(), "%q must be a boolean, found %s", field, k)
	}
	return p.d.Bool()
}

// object checks that the next value is an object, naming the field.
func (p *parser) object(field string) error {
	k, err := p.d.Peek()
	if err != nil {
		return err
	}
	if k != jsonpos.Object {
		return p.d.Errorf(p.d.Pos(), "%q must be an object, found %s", field, k)
	}
	return nil
}

// nameFromPath returns the package name installed at an npm path: what
// follows the last "node_modules/" segment. ok is false when the path has
// no node_modules segment (a folder entry).
func nameFromPath(path string) (name string, ok bool) {
	const nm = "node_modules/"
	i := strings.LastIndex(path, nm)
	if i < 0 || (i > 0 && path[i-1] != '/') {
		return "", false
	}
	return path[i+len(nm):], true
}

// splitAlias splits an alias spec "npm:name@version" into the real name and
// version. ok is false when v is not an alias.
func splitAlias(v string) (name, version string, ok bool) {
	rest, found := strings.CutPrefix(v, "npm:")
	if !found {
		return "", "", false
	}
	at := strings.LastIndexByte(rest, '@')
	if at <= 0 { // "npm:name" or "npm:@scope/name" without a version
		return rest, "", rest != ""
	}
	return rest[:at], rest[at+1:], true
}
