package yarn

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// parseBerry parses a yarn 2+ lockfile. The YAML is decoded once into a node
// tree, which keeps each key's position; entries are then walked in order.
func parseBerry(path string, data []byte) (*lockfile.Lockfile, error) {
	root, err := decodeYAML(path, data)
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &lockfile.ParseError{Path: path, Line: root.Line, Column: root.Column, Msg: "lockfile is not a YAML mapping"}
	}
	lf := &lockfile.Lockfile{
		Path:        path,
		Format:      "yarn",
		Descriptors: map[string]string{},
		Importers:   map[string]map[string]lockfile.Direct{},
	}
	errorf := func(n *yaml.Node, format string, args ...any) error {
		return &lockfile.ParseError{Path: path, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	type workspace struct {
		dir  string
		deps *yaml.Node
	}
	var workspaces []workspace
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
		return nil, &lockfile.ParseError{Path: path, Line: root.Line, Column: root.Column, Msg: "lockfile has no __metadata entry"}
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

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner) errors. yaml.v3 reports their line 0-based and the scanner's
// 1-based; yamlError corrects the former.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlError converts a yaml.v3 decoding error to a *lockfile.ParseError with
// a 1-based line. yaml.v3 leaves the line out when it is the first one.
// For parser errors the line is that of the enclosing collection when the
// decoder knows one, else that of the offending token.
func yamlError(path string, err error) *lockfile.ParseError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pe := &lockfile.ParseError{Path: path, Line: 1, Msg: msg}
	if strings.Contains(msg, "aliasing") {
		pe.Line = 0 // not about a position
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		pe.Line, _ = strconv.Atoi(m[1])
		pe.Msg = m[2]
		if parserProblems[pe.Msg] {
			pe.Line++
		}
	}
	return pe
}

// decodeYAML decodes the first YAML document of data into a node tree and
// returns its root (nil Kind 0 node for an empty document). Errors are
// *lockfile.ParseError with the line the decoder reported. Anchors and
// aliases are left unexpanded.
func decodeYAML(path string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The decoder is third-party code fed untrusted input; a panic in it
		// must become an error, not crash the scan.
		if r := recover(); r != nil {
			root, err = nil, &lockfile.ParseError{Path: path, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return &yaml.Node{Line: 1, Column: 1}, nil
	}
	return doc.Content[0], nil
}
