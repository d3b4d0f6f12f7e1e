package pnpm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
)

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
// returns its root (a Kind 0 node for an empty document). Errors are
// *lockfile.ParseError with the line the decoder reported. Anchors and
// aliases are left unexpanded and never followed.
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

// mapping calls fn for each key/value pair of m; it does nothing when m is
// nil or not a mapping.
func mapping(m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if err := fn(m.Content[i], m.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// field returns the value node of key in mapping m, or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of the scalar at key in m, or "".
func scalar(m *yaml.Node, key string) string {
	if v := field(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// flag reports whether key in m is the boolean true.
func flag(m *yaml.Node, key string) bool {
	return scalar(m, key) == "true"
}
