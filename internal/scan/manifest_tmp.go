package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// defaultManifestParser parses package.json. It is a stop-gap built on
// encoding/json until package lockfile/manifest lands.
func defaultManifestParser(path string, data []byte) (*lockfile.Manifest, error) {
	lines := newLineIndex(data)
	perr := func(off int64, msg string) error {
		l, c := lines.pos(int(off))
		return &lockfile.ParseError{Path: path, Line: l, Column: c, Msg: msg}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, perr(se.Offset, se.Error())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, perr(int64(len(data)), "unexpected end of input")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, perr(te.Offset, "package.json must be a JSON object")
		}
		return nil, perr(dec.InputOffset(), err.Error())
	}
	m := &lockfile.Manifest{Path: path}
	_ = json.Unmarshal(raw["name"], &m.Name)
	_ = json.Unmarshal(raw["version"], &m.Version)
	_ = json.Unmarshal(raw["scripts"], &m.Scripts)
	var ws any
	if json.Unmarshal(raw["workspaces"], &ws) == nil {
		switch v := ws.(type) {
		case []any:
			m.Workspaces = stringsOf(v)
		case map[string]any:
			if p, ok := v["packages"].([]any); ok {
				m.Workspaces = stringsOf(p)
			}
		}
	}
	// Second pass with tokens, for the positions of dependency keys.
	dec = json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		return nil, perr(dec.InputOffset(), err.Error())
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, perr(dec.InputOffset(), err.Error())
		}
		key, _ := k.(string)
		kind := lockfile.DepKind(key)
		switch kind {
		case lockfile.DepProd, lockfile.DepDev, lockfile.DepOptional, lockfile.DepPeer:
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, perr(dec.InputOffset(), err.Error())
			}
			continue
		}
		t, err := dec.Token()
		if err != nil {
			return nil, perr(dec.InputOffset(), err.Error())
		}
		if d, ok := t.(json.Delim); !ok || d != '{' {
			return nil, perr(dec.InputOffset(), fmt.Sprintf("%q must be an object", key))
		}
		for dec.More() {
			nt, err := dec.Token()
			if err != nil {
				return nil, perr(dec.InputOffset(), err.Error())
			}
			end := dec.InputOffset()
			start := bytes.LastIndexByte(data[:end-1], '"')
			name, _ := nt.(string)
			var spec any
			if err := dec.Decode(&spec); err != nil {
				return nil, perr(dec.InputOffset(), err.Error())
			}
			s, _ := spec.(string)
			l, c := lines.pos(start)
			m.Dependencies = append(m.Dependencies, lockfile.Dependency{Name: name, Spec: s, Kind: kind, Line: l, Column: c})
		}
		if _, err := dec.Token(); err != nil { // }
			return nil, perr(dec.InputOffset(), err.Error())
		}
	}
	return m, nil
}

func stringsOf(v []any) []string {
	var out []string
	for _, e := range v {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// lineIndex holds the offsets of line starts.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// pos returns the 1-based line and column of byte offset off.
func (li lineIndex) pos(off int) (line, col int) {
	lo, hi := 0, len(li)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if li[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1, off - li[lo] + 1
}
