package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ReplaceRun returns data (a buildwall.yml; path names it in errors) with
// its top-level `run:` section replaced by run, the text of a `run:`
// mapping ending in a newline; every other byte, comments included, is
// kept. The section is the `run:` key's line through the line before the
// next top-level key, less the blank and unindented comment lines just
// before that key (they belong to what follows). Without a `run:` key, run
// is appended. Malformed data returns *Error and nothing is replaced.
func ReplaceRun(path string, data, run []byte) ([]byte, error) {
	var doc, second yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return append(append([]byte{}, data...), run...), nil
	}
	if err != nil {
		return nil, yamlError(path, err)
	}
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		// Line ranges would cross into the next document.
		return nil, &Error{Path: path, Line: second.Line, Msg: "holds more than one YAML document; the run: section cannot be replaced safely"}
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
		return appendRun(data, run), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Path: path, Line: root.Line, Column: root.Column, Msg: "top level must be a mapping"}
	}
	start, next := -1, 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if start >= 0 {
			next = k.Line
			break
		}
		if k.Value == "run" {
			if k.Column != 1 {
				return nil, &Error{Path: path, Line: k.Line, Column: k.Column, Msg: "run: must start at column 1 to be replaced"}
			}
			start = k.Line
		}
	}
	if start < 0 {
		return appendRun(data, run), nil
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	end := len(lines) // exclusive, 0-based
	if next > 0 {
		end = next - 1
	}
	for end > start && outsideSection(lines[end-1]) {
		end--
	}
	var out bytes.Buffer
	for _, l := range lines[:start-1] {
		out.Write(l)
	}
	out.Write(run)
	for _, l := range lines[end:] {
		out.Write(l)
	}
	return out.Bytes(), nil
}

// outsideSection reports whether a line is blank or an unindented comment.
func outsideSection(l []byte) bool {
	t := bytes.TrimRight(l, "\r\n")
	return len(bytes.TrimSpace(t)) == 0 || t[0] == '#'
}

func appendRun(data, run []byte) []byte {
	out := append([]byte{}, data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, run...)
}

// ErrRunSection is returned by RunSection for text without a run: key.
var ErrRunSection = errors.New("no top-level run: key")

// RunSection returns the text from the first line starting with "run:" to
// the end: the `run:` section of a document written with a header comment
// (policy suggest's output).
func RunSection(doc []byte) ([]byte, error) {
	if bytes.HasPrefix(doc, []byte("run:")) {
		return doc, nil
	}
	i := bytes.Index(doc, []byte("\nrun:"))
	if i < 0 {
		return nil, fmt.Errorf("%w", ErrRunSection)
	}
	return doc[i+1:], nil
}
