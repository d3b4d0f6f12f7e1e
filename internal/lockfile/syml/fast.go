package syml

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// maxFlowDepth bounds recursion in flow collections; deeper input goes
	// to yaml.v3, which has its own limit.
	maxFlowDepth = 32
	// maxKeyLen keeps long implicit keys, which yaml.v3 rejects past 1024
	// bytes, on the yaml.v3 path.
	maxKeyLen = 1000
	// indicators cannot start a plain scalar in the subset.
	indicators = "-?:,[]{}#&*!|>'\"%@`"
)

// arena hands out nodes from shared chunks: one allocation per chunk
// instead of one per node, which matters when a lockfile has millions.
type arena struct{ buf []yaml.Node }

const arenaChunk = 512

func (a *arena) node(n yaml.Node) *yaml.Node {
	if len(a.buf) == 0 {
		a.buf = make([]yaml.Node, arenaChunk)
	}
	p := &a.buf[0]
	*p = n
	a.buf = a.buf[1:]
	return p
}

type frame struct {
	indent int
	node   *yaml.Node
}

// fast decodes the documents of data if it is entirely in the lockfile
// subset of YAML: documents separated by "---" lines, none of them empty.
// ok is false (and the result must be ignored) for anything else, including
// invalid YAML, so that yaml.v3 decides and reports it.
func fast(data []byte) (docs []*yaml.Node, ok bool) {
	text := string(data) // one copy; every value is a substring of it
	a := &arena{}
	var (
		root          *yaml.Node
		stack         []frame
		open          *yaml.Node // value of a "key:" line whose block may follow
		openIndent    int
		lineNo, start int
		marker        bool // a "---" opened the current document
	)
	for start < len(text) {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		line := strings.TrimSuffix(text[start:end], "\r")
		start = end + 1
		lineNo++
		for i := 0; i < len(line); i++ {
			if c := line[i]; c < 0x20 || c >= 0x7f {
				return nil, false // tabs, control characters, non-ASCII
			}
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		if indent == len(line) || line[indent] == '#' {
			continue
		}
		if indent == 0 && strings.TrimRight(line, " ") == "---" {
			if root == nil && (marker || len(docs) > 0) {
				return nil, false // an empty document
			}
			if root != nil {
				docs = append(docs, root)
			}
			root, stack, open, marker = nil, nil, nil, true
			continue
		}
		if indent == 0 && (strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...")) {
			return nil, false
		}
		if open != nil {
			if indent > openIndent {
				*open = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: lineNo, Column: indent + 1}
				stack = append(stack, frame{indent, open})
			}
			open = nil
		}
		for len(stack) > 0 && indent < stack[len(stack)-1].indent {
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			if root != nil {
				return nil, false
			}
			root = a.node(yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: lineNo, Column: indent + 1})
			stack = append(stack, frame{indent, root})
		}
		top := stack[len(stack)-1]
		if indent != top.indent {
			return nil, false
		}
		key, val, isOpen, ok := entry(a, line, indent, lineNo)
		if !ok {
			return nil, false
		}
		top.node.Content = append(top.node.Content, key, val)
		if isOpen {
			open, openIndent = val, indent
		}
	}
	if root == nil {
		return nil, false // no content, or an empty last document
	}
	return append(docs, root), true
}

// entry reads a "key: value" or "key:" line whose key starts at line[i].
// isOpen reports a key without an inline value; val is then a null scalar.
func entry(a *arena, line string, i, lineNo int) (key, val *yaml.Node, isOpen, ok bool) {
	start := i
	key = a.node(yaml.Node{Kind: yaml.ScalarNode, Line: lineNo, Column: i + 1})
	if c := line[i]; c == '"' || c == '\'' {
		if key.Value, i, ok = quoted(line, i); !ok {
			return nil, nil, false, false
		}
		key.Tag, key.Style = "!!str", quoteStyle(c)
		if i >= len(line) || line[i] != ':' || (i+1 < len(line) && line[i+1] != ' ') {
			return nil, nil, false, false
		}
	} else {
		if strings.IndexByte(indicators, c) >= 0 {
			return nil, nil, false, false
		}
		j := i
		for {
			c := strings.IndexByte(line[j:], ':')
			if c < 0 {
				return nil, nil, false, false
			}
			j += c
			if j+1 == len(line) || line[j+1] == ' ' {
				break
			}
			j++
		}
		k := line[i:j]
		if strings.HasSuffix(k, " ") || strings.Contains(k, " #") {
			return nil, nil, false, false
		}
		key.Value, key.Tag = k, plainTag(k)
		i = j
	}
	if i-start > maxKeyLen {
		return nil, nil, false, false
	}
	i++ // ':'
	for i < len(line) && line[i] == ' ' {
		i++
	}
	val = a.node(yaml.Node{Kind: yaml.ScalarNode, Line: lineNo, Column: i + 1})
	if i == len(line) || line[i] == '#' {
		val.Tag = "!!null"
		return key, val, true, true
	}
	switch c := line[i]; {
	case c == '{' || c == '[':
		if val, i, ok = flow(a, line, i, lineNo, 0); !ok {
			return nil, nil, false, false
		}
	case c == '"' || c == '\'':
		if val.Value, i, ok = quoted(line, i); !ok {
			return nil, nil, false, false
		}
		val.Tag, val.Style = "!!str", quoteStyle(c)
	default:
		if strings.IndexByte(indicators, c) >= 0 {
			return nil, nil, false, false
		}
		end := len(line)
		if h := strings.Index(line[i:], " #"); h >= 0 {
			end = i + h
		}
		v := strings.TrimRight(line[i:end], " ")
		if strings.Contains(v, ": ") || strings.HasSuffix(v, ":") {
			return nil, nil, false, false
		}
		val.Value, val.Tag = v, plainTag(v)
		return key, val, false, true
	}
	// After a quoted or flow value only a comment may follow.
	rest := strings.TrimLeft(line[i:], " ")
	if rest != "" && (rest[0] != '#' || len(rest) == len(line)-i) {
		return nil, nil, false, false
	}
	return key, val, false, true
}

// flow reads a single-line flow mapping or sequence starting at line[i] and
// returns it with the index just past its closing bracket.
func flow(a *arena, line string, i, lineNo, depth int) (*yaml.Node, int, bool) {
	if depth > maxFlowDepth {
		return nil, 0, false
	}
	n := a.node(yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: lineNo, Column: i + 1})
	closing := byte(']')
	if line[i] == '{' {
		n.Kind, n.Tag, closing = yaml.MappingNode, "!!map", '}'
	}
	i++
	for {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i >= len(line) {
			return nil, 0, false
		}
		if line[i] == closing {
			return n, i + 1, true
		}
		var item *yaml.Node
		var ok bool
		if n.Kind == yaml.MappingNode {
			var key *yaml.Node
			keyStart := i
			if key, i, ok = flowScalar(a, line, i, lineNo); !ok || i+1 >= len(line) || line[i] != ':' || line[i+1] != ' ' ||
				i-keyStart > maxKeyLen {
				return nil, 0, false
			}
			i += 2
			for i < len(line) && line[i] == ' ' {
				i++
			}
			n.Content = append(n.Content, key)
		}
		if i < len(line) && (line[i] == '{' || line[i] == '[') {
			item, i, ok = flow(a, line, i, lineNo, depth+1)
		} else {
			item, i, ok = flowScalar(a, line, i, lineNo)
		}
		if !ok {
			return nil, 0, false
		}
		n.Content = append(n.Content, item)
		for i < len(line) && line[i] == ' ' {
			i++
		}
		switch {
		case i < len(line) && line[i] == ',':
			i++
		case i < len(line) && line[i] == closing:
			return n, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// flowScalar reads a quoted or plain scalar inside a flow collection. A
// plain one ends before ',', a bracket, ": " or " #"; trailing spaces are
// dropped.
func flowScalar(a *arena, line string, i, lineNo int) (*yaml.Node, int, bool) {
	if i >= len(line) {
		return nil, 0, false
	}
	n := a.node(yaml.Node{Kind: yaml.ScalarNode, Line: lineNo, Column: i + 1})
	if c := line[i]; c == '"' || c == '\'' {
		var ok bool
		if n.Value, i, ok = quoted(line, i); !ok {
			return nil, 0, false
		}
		n.Tag, n.Style = "!!str", quoteStyle(c)
		return n, i, true
	}
	if strings.IndexByte(indicators, line[i]) >= 0 {
		return nil, 0, false
	}
	j := i
	for j < len(line) {
		c := line[j]
		if strings.IndexByte(",?[]{}", c) >= 0 || c == ':' && (j+1 == len(line) || line[j+1] == ' ') ||
			c == '#' && line[j-1] == ' ' {
			break
		}
		j++
	}
	if j < len(line) && strings.IndexByte("?[{#", line[j]) >= 0 {
		return nil, 0, false
	}
	n.Value = strings.TrimRight(line[i:j], " ")
	n.Tag = plainTag(n.Value)
	return n, j, true
}

// quoted reads a single- or double-quoted scalar that ends on this line. It
// returns the value and the index just past the closing quote; ok is false
// for escapes outside the common set and for unterminated strings.
func quoted(line string, i int) (string, int, bool) {
	q := line[i]
	var b strings.Builder
	plain := true // no escapes so far: the value is a substring
	for j := i + 1; j < len(line); j++ {
		c := line[j]
		switch {
		case c == q && q == '\'' && j+1 < len(line) && line[j+1] == '\'':
			if plain {
				b.WriteString(line[i+1 : j])
				plain = false
			}
			b.WriteByte('\'')
			j++
		case c == q:
			if plain {
				return line[i+1 : j], j + 1, true
			}
			return b.String(), j + 1, true
		case c == '\\' && q == '"':
			if plain {
				b.WriteString(line[i+1 : j])
				plain = false
			}
			if j+1 >= len(line) {
				return "", 0, false
			}
			j++
			switch e := line[j]; e {
			case '"', '\\':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u':
				r, ok := hex4(line, j+1)
				if !ok {
					return "", 0, false
				}
				b.WriteRune(r)
				j += 4
			default:
				return "", 0, false
			}
		default:
			if !plain {
				b.WriteByte(c)
			}
		}
	}
	return "", 0, false
}

// hex4 decodes four hex digits at line[i:] into a rune that is not a
// surrogate half.
func hex4(line string, i int) (rune, bool) {
	if i+4 > len(line) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(line[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, r < 0xD800 || r > 0xDFFF
}

func quoteStyle(q byte) yaml.Style {
	if q == '\'' {
		return yaml.SingleQuotedStyle
	}
	return yaml.DoubleQuotedStyle
}

// plainTag resolves the tag of a plain scalar as far as lockfile readers
// care: null or not. Other plain scalars are tagged !!str; callers read
// Value, never the resolved type.
func plainTag(v string) string {
	switch v {
	case "", "~", "null", "Null", "NULL":
		return "!!null"
	}
	return "!!str"
}
