package yarn

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/syml"
)

// parseBerry parses a yarn 2+ lockfile. The YAML is decoded once into a node
// tree, which keeps each key's position; entries are then walked in order.
func parseBerry(path string, data []byte) (*lockfile.Lockfile, error) {
	root, err := decodeYAML(path, data)
	if err != nil {
		return nil, err
	}
	lines := syml.Lines(data)
	errorf := func(n *yaml.Node, format string, args ...any) error {
		line, col := n.Line, n.Column
		if line > lines { // an empty node yaml.v3 placed past the end of input
			line, col = lines, 1
		}
		return &lockfile.ParseError{Path: path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	if root.Kind != yaml.MappingNode {
		return nil, errorf(root, "lockfile is not a YAML mapping")
	}
	lf := &lockfile.Lockfile{
		Path:        path,
		Format:      "yarn",
		Descriptors: map[string]string{},
		Importers:   map[string]map[string]lockfile.Direct{},
	}
	type workspace struct {
		dir  string
		deps *yaml.Node
	}
	var workspaces []workspace
	optional := map[string]bool{} // packages some entry depends on optionally
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errorf(k, "entry key is not a string")
		}
		if v.Kind != yaml.MappingNode {
			return nil, errorf(k, "entry %q is not a mapping", k.Value)
		}
		if k.Value == "__metadata" {
			ver := field(v, "version")
			if ver == nil {
				return nil, errorf(k, "__metadata has no version")
			}
			lf.Version = "berry " + ver.Value
			continue
		}
		ver, res := field(v, "version"), field(v, "resolution")
		switch {
		case ver == nil:
			return nil, errorf(k, "entry %q has no version", k.Value)
		case res == nil:
			return nil, errorf(k, "entry %q has no resolution", k.Value)
		}
		name, ref := splitDescriptor(res.Value)
		pkg := lockfile.Package{
			Name:     name,
			Version:  ver.Value,
			Resolved: res.Value,
			Source:   berrySource(ref, 0),
			Line:     k.Line,
			Column:   k.Column,
		}
		descs := strings.Split(k.Value, ",")
		if alias, _ := splitDescriptor(strings.TrimSpace(descs[0])); alias != name {
			pkg.Alias = alias
		}
		if c := field(v, "conditions"); c != nil {
			pkg.Conditions = c.Value
		}
		markOptional(optional, field(v, "dependenciesMeta"), field(v, "optionalDependencies"))
		if c := field(v, "checksum"); c != nil && c.Value != "" {
			sum, err := checksumSRI(c.Value)
			if err != nil {
				return nil, errorf(c, "entry %q: %s", k.Value, err)
			}
			pkg.Integrity = sum
		}
		lf.Packages = append(lf.Packages, pkg)
		for _, d := range descs {
			lf.Descriptors[berryDescriptor(strings.TrimSpace(d))] = ver.Value
		}
		if dir, ok := strings.CutPrefix(ref, "workspace:"); ok {
			workspaces = append(workspaces, workspace{dir: dir, deps: field(v, "dependencies")})
		}
	}
	if lf.Version == "" {
		return nil, errorf(root, "lockfile has no __metadata entry")
	}
	for i := range lf.Packages {
		if p := &lf.Packages[i]; optional[p.Name] || (p.Alias != "" && optional[p.Alias]) {
			p.Optional = true
		}
	}
	// Importers need every descriptor, so they are filled after the walk.
	for _, w := range workspaces {
		deps := map[string]lockfile.Direct{}
		if w.deps != nil && w.deps.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(w.deps.Content); i += 2 {
				name, spec := w.deps.Content[i].Value, w.deps.Content[i+1].Value
				_, spec = splitDescriptor(berryDescriptor(name + "@" + spec))
				deps[name] = lockfile.Direct{Name: name, Spec: spec, Version: lf.Descriptors[name+"@"+spec]}
			}
		}
		lf.Importers[w.dir] = deps
	}
	return lf, nil
}

// markOptional records the packages an entry depends on optionally:
// dependenciesMeta's "<name>: {optional: true}" and optionalDependencies.
func markOptional(optional map[string]bool, meta, deps *yaml.Node) {
	if meta != nil && meta.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(meta.Content); i += 2 {
			if v := meta.Content[i+1]; v.Kind == yaml.MappingNode {
				if o := field(v, "optional"); o != nil && o.Value == "true" {
					name, _ := splitDescriptor(meta.Content[i].Value)
					optional[name] = true
				}
			}
		}
	}
	if deps != nil && deps.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(deps.Content); i += 2 {
			optional[deps.Content[i].Value] = true
		}
	}
}

// field returns the value node of key in mapping m, or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			if v := m.Content[i+1]; v.Kind == yaml.ScalarNode || v.Kind == yaml.MappingNode {
				return v
			}
			return nil
		}
	}
	return nil
}

// berryDescriptor drops the npm: protocol from a descriptor's range so that
// "lodash@npm:^4.17.0" reads like package.json's "lodash": "^4.17.0". An
// alias ("foo@npm:bar@^1") keeps its protocol, as package.json writes it.
func berryDescriptor(d string) string {
	name, rng := splitDescriptor(d)
	r, ok := strings.CutPrefix(rng, "npm:")
	if !ok || (len(r) > 1 && strings.Contains(r[1:], "@")) {
		return d
	}
	return name + "@" + r
}

// maxPatchDepth bounds how many nested patch: protocols berrySource unwraps.
const maxPatchDepth = 4

// berrySource classifies a resolution reference ("npm:4.17.21",
// "workspace:.", "patch:lodash@npm%3A4.17.21#...", a URL). A patch is
// classified by the package it patches. exec: builds the package by running
// a local script, so it counts as a file source.
func berrySource(ref string, depth int) lockfile.Source {
	proto, _, _ := strings.Cut(ref, ":")
	switch proto {
	case "npm":
		return lockfile.SourceRegistry
	case "workspace", "link", "portal":
		return lockfile.SourceLink
	case "file", "exec":
		return lockfile.SourceFile
	case "patch":
		inner, _, _ := strings.Cut(strings.TrimPrefix(ref, "patch:"), "#")
		if u, err := url.PathUnescape(inner); err == nil {
			inner = u
		}
		if depth >= maxPatchDepth {
			return lockfile.SourceUnknown
		}
		_, innerRef := splitDescriptor(inner)
		return berrySource(innerRef, depth+1)
	case "http", "https":
		if s := classifyURL(ref); s == lockfile.SourceGit {
			return s
		}
		return lockfile.SourceTarball
	}
	return classifyURL(ref)
}

// checksumSRI converts berry's "<cacheKey>/<sha512 hex>" (or bare hex in
// older lockfiles) to "sha512-<base64>".
func checksumSRI(c string) (string, error) {
	if i := strings.LastIndexByte(c, '/'); i >= 0 {
		c = c[i+1:]
	}
	sum, err := hex.DecodeString(c)
	if err != nil || len(sum) != 64 {
		return "", fmt.Errorf("checksum %q is not a SHA-512 hex digest", c)
	}
	return "sha512-" + base64.StdEncoding.EncodeToString(sum), nil
}

// decodeYAML decodes data with syml, turning its errors into
// *lockfile.ParseError.
func decodeYAML(path string, data []byte) (*yaml.Node, error) {
	root, err := syml.Decode(data)
	if err != nil {
		var se *syml.Error
		if errors.As(err, &se) {
			return nil, &lockfile.ParseError{Path: path, Line: se.Line, Column: se.Column, Msg: se.Msg}
		}
		return nil, &lockfile.ParseError{Path: path, Msg: err.Error()}
	}
	return root, nil
}
