// Package manifest parses package.json files into lockfile.Manifest, with
// the 1-based position of every dependency key, so that rules comparing a
// manifest with its lockfile (lockfile-drift) can point at the declaration.
package manifest

import (
	"errors"
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/jsonpos"
)

// sections are the dependency sections of package.json, by key.
var sections = []lockfile.DepKind{lockfile.DepProd, lockfile.DepDev, lockfile.DepOptional, lockfile.DepPeer}

// Parse parses a package.json. path is only used in errors and copied to
// Manifest.Path; data is not retained.
//
// Dependencies lists the entries of dependencies, devDependencies,
// optionalDependencies and peerDependencies in file order; when a section
// names a package twice, the last entry wins (as in JavaScript) and keeps
// the place of the first. Workspaces accepts the array form and the
// {"packages": [...]} form. Scripts holds every entry of "scripts".
// Unknown keys are ignored; known keys with a value of the wrong type, and
// malformed JSON, return a *lockfile.ParseError with the position.
func Parse(path string, data []byte) (*lockfile.Manifest, error) {
	m, err := parse(jsonpos.NewDecoder(data, jsonpos.Options{}))
	if err != nil {
		var je *jsonpos.Error
		if errors.As(err, &je) {
			return nil, &lockfile.ParseError{Path: path, Line: je.Line, Column: je.Column, Msg: je.Msg}
		}
		return nil, &lockfile.ParseError{Path: path, Msg: err.Error()}
	}
	m.Path = path
	return m, nil
}

func parse(d *jsonpos.Decoder) (*lockfile.Manifest, error) {
	k, err := d.Peek()
	if err != nil {
		return nil, err
	}
	if k != jsonpos.Object {
		return nil, d.Errorf(d.Pos(), "package.json must be a JSON object, found %s", k)
	}
	m := &lockfile.Manifest{}
	err = d.Object(func(key []byte) error {
		switch string(key) {
		case "name":
			return str(d, "name", &m.Name)
		case "version":
			return str(d, "version", &m.Version)
		case "workspaces":
			return workspaces(d, m)
		case "scripts":
			return scripts(d, m)
		case "overrides":
			return overrides(d, "overrides", "", m)
		case "resolutions":
			return resolutions(d, m)
		case "pnpm":
			return pnpmField(d, m)
		}
		for _, kind := range sections {
			if string(key) == string(kind) {
				return deps(d, kind, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, d.End()
}

// want checks that the next value has kind k, naming field in the error.
func want(d *jsonpos.Decoder, field string, k jsonpos.Kind) error {
	got, err := d.Peek()
	if err != nil {
		return err
	}
	if got != k {
		return d.Errorf(d.Pos(), "%q must be %s, found %s", field, article(k), got)
	}
	return nil
}

func article(k jsonpos.Kind) string {
	switch k {
	case jsonpos.Object, jsonpos.Array:
		return "an " + k.String()
	default:
		return "a " + k.String()
	}
}

func str(d *jsonpos.Decoder, field string, out *string) error {
	if err := want(d, field, jsonpos.String); err != nil {
		return err
	}
	s, err := d.String()
	*out = s
	return err
}

func deps(d *jsonpos.Decoder, kind lockfile.DepKind, m *lockfile.Manifest) error {
	if err := want(d, string(kind), jsonpos.Object); err != nil {
		return err
	}
	seen := make(map[string]int)
	return d.Object(func(key []byte) error {
		pos := d.KeyPos()
		name := string(key)
		dep := lockfile.Dependency{Name: name, Kind: kind, Line: pos.Line, Column: pos.Column}
		if err := str(d, name, &dep.Spec); err != nil {
			return err
		}
		if i, dup := seen[name]; dup {
			m.Dependencies[i] = dep
			return nil
		}
		seen[name] = len(m.Dependencies)
		m.Dependencies = append(m.Dependencies, dep)
		return nil
	})
}

func workspaces(d *jsonpos.Decoder, m *lockfile.Manifest) error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	switch k {
	case jsonpos.Array:
		return globs(d, "workspaces", m)
	case jsonpos.Object:
		return d.Object(func(key []byte) error {
			if string(key) == "packages" {
				return globs(d, "workspaces.packages", m)
			}
			return nil // "nohoist" and other yarn options
		})
	default:
		return d.Errorf(d.Pos(), `"workspaces" must be an array or an object, found %s`, k)
	}
}

func globs(d *jsonpos.Decoder, field string, m *lockfile.Manifest) error {
	if err := want(d, field, jsonpos.Array); err != nil {
		return err
	}
	return d.Array(func(int) error {
		var g string
		if err := str(d, field+"[]", &g); err != nil {
			return err
		}
		m.Workspaces = append(m.Workspaces, g)
		return nil
	})
}

func scripts(d *jsonpos.Decoder, m *lockfile.Manifest) error {
	if err := want(d, "scripts", jsonpos.Object); err != nil {
		return err
	}
	return d.Object(func(key []byte) error {
		name := string(key)
		var s string
		if err := str(d, name, &s); err != nil {
			return err
		}
		if m.Scripts == nil {
			m.Scripts = make(map[string]string)
		}
		m.Scripts[name] = s
		return nil
	})
}

// overrides reads npm's "overrides": keys are "name" or "name@range",
// values a spec or an object of nested overrides, where "." is the parent
// package itself. parent is the enclosing key's package name.
func overrides(d *jsonpos.Decoder, field, parent string, m *lockfile.Manifest) error {
	if err := want(d, field, jsonpos.Object); err != nil {
		return err
	}
	return d.Object(func(key []byte) error {
		name := parent
		if k := string(key); k != "." {
			name = stripVersion(k)
		}
		k, err := d.Peek()
		if err != nil {
			return err
		}
		if k == jsonpos.Object {
			return overrides(d, field+"."+string(key), name, m)
		}
		addOverride(m, name, "overrides")
		return d.Skip()
	})
}

// resolutions reads yarn's "resolutions": keys are "name", "name@range" or
// a path "a/**/b", "@s/a/@s/b" whose last package is overridden.
func resolutions(d *jsonpos.Decoder, m *lockfile.Manifest) error {
	if err := want(d, "resolutions", jsonpos.Object); err != nil {
		return err
	}
	return d.Object(func(key []byte) error {
		addOverride(m, lastPathPackage(string(key)), "resolutions")
		return d.Skip()
	})
}

// pnpmField reads "pnpm.overrides": keys are "name", "name@range" or
// "parent>name" (parents may carry ranges too).
func pnpmField(d *jsonpos.Decoder, m *lockfile.Manifest) error {
	if err := want(d, "pnpm", jsonpos.Object); err != nil {
		return err
	}
	return d.Object(func(key []byte) error {
		if string(key) != "overrides" {
			return d.Skip()
		}
		if err := want(d, "pnpm.overrides", jsonpos.Object); err != nil {
			return err
		}
		return d.Object(func(key []byte) error {
			addOverride(m, PnpmOverrideTarget(string(key)), "pnpm.overrides")
			return d.Skip()
		})
	})
}

// PnpmOverrideTarget returns the package a pnpm override key ("foo",
// "foo@<2", "a@1>foo") overrides.
func PnpmOverrideTarget(key string) string {
	if i := strings.LastIndexByte(key, '>'); i >= 0 {
		key = key[i+1:]
	}
	return stripVersion(strings.TrimSpace(key))
}

// lastPathPackage returns the last package of a yarn resolutions path.
func lastPathPackage(key string) string {
	segs := strings.Split(key, "/")
	last := ""
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		if strings.HasPrefix(s, "@") && i+1 < len(segs) {
			s += "/" + segs[i+1]
			i++
		}
		if s != "**" && s != "*" && s != "" {
			last = s
		}
	}
	return stripVersion(last)
}

// stripVersion cuts "@range" off "name@range" and "@scope/name@range".
func stripVersion(s string) string {
	from := 0
	if strings.HasPrefix(s, "@") {
		from = 1
	}
	if i := strings.IndexByte(s[from:], '@'); i >= 0 {
		return s[:from+i]
	}
	return s
}

func addOverride(m *lockfile.Manifest, name, setting string) {
	if name == "" {
		return
	}
	if m.Overrides == nil {
		m.Overrides = make(map[string]string)
	}
	if _, ok := m.Overrides[name]; !ok {
		m.Overrides[name] = setting
	}
}
