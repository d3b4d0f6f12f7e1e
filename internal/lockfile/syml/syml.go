// Package syml decodes the YAML that package managers write for lockfiles
// (yarn berry's "syml", pnpm-lock.yaml) into go.yaml.in/yaml/v3 node trees
// that keep each node's line and column.
//
// Those writers emit a small, regular subset of YAML: block mappings
// indented by spaces, one key per line, single-line plain or quoted scalars
// and single-line flow collections. Decode reads that subset with a
// line-oriented reader that is several times faster than the general
// decoder, and hands anything outside it (anchors, block sequences,
// multi-line scalars, tabs, non-ASCII text, ...) to yaml.v3 unchanged, so the
// result is always what yaml.v3 would produce. Both paths are linear in the
// input size.
package syml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a YAML syntax error. Line and Column are 1-based; 0 when unknown.
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Decode decodes the first YAML document of data and returns its root node:
// a mapping, sequence or scalar, or a node of Kind 0 at line 1 for an empty
// document. Anchors and aliases are never expanded. Errors are *Error.
// Decode never panics.
func Decode(data []byte) (*yaml.Node, error) {
	if docs, ok := fast(data); ok {
		return docs[0], nil
	}
	return slow(data)
}

// DecodeAll decodes every document of a multi-document stream ("---"
// separators) and returns their roots in order; an empty document is a node
// of Kind 0, and empty input gives none. Line numbers count from the start
// of data. Errors are *Error. DecodeAll never panics.
func DecodeAll(data []byte) ([]*yaml.Node, error) {
	if docs, ok := fast(data); ok {
		return docs, nil
	}
	return slowAll(data)
}

// slowAll decodes every document with yaml.v3.
func slowAll(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, &Error{Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, clamp(yamlError(err), data)
		}
		if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
			docs = append(docs, doc.Content[0])
		} else {
			docs = append(docs, &yaml.Node{Line: 1, Column: 1})
		}
	}
}

// clamp moves an error yaml.v3 placed past the end of input (it does so at
// the end of input without a final newline) onto the last line.
func clamp(e *Error, data []byte) *Error {
	if n := Lines(data); e.Line > n {
		e.Line = n
	}
	return e
}

// slow decodes with yaml.v3.
func slow(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 is third-party code fed untrusted input; a panic in it
		// must become an error, not crash the scan.
		if r := recover(); r != nil {
			root, err = nil, &Error{Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, clamp(yamlError(err), data)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return &yaml.Node{Line: 1, Column: 1}, nil
	}
	return doc.Content[0], nil
}

// Lines returns the number of lines in data as YAML counts them: "\r\n",
// "\n" and a lone "\r" each end a line, and the text after the last break
// (possibly empty) is a line too.
func Lines(data []byte) int {
	n := 1 + bytes.Count(data, []byte("\n"))
	for i, c := range data {
		if c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			n++
		}
	}
	return n
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

// yamlError converts a yaml.v3 error to an *Error with a 1-based line.
// yaml.v3 leaves the line out when it is the first one. For parser errors
// the line is that of the enclosing collection when the decoder knows one,
// else that of the offending token.
func yamlError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Line: 1, Msg: msg}
	if strings.Contains(msg, "aliasing") {
		e.Line = 0 // not about a position
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if parserProblems[e.Msg] {
			e.Line++
		}
	}
	return e
}
