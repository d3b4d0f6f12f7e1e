package pnpm

import (
	"errors"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/syml"
)

// decodeYAML decodes every document of data with syml, turning its errors
// into *lockfile.ParseError.
func decodeYAML(path string, data []byte) ([]*yaml.Node, error) {
	docs, err := syml.DecodeAll(data)
	if err != nil {
		var se *syml.Error
		if errors.As(err, &se) {
			return nil, &lockfile.ParseError{Path: path, Line: se.Line, Column: se.Column, Msg: se.Msg}
		}
		return nil, &lockfile.ParseError{Path: path, Msg: err.Error()}
	}
	return docs, nil
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
