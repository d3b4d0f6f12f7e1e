package bun

import (
	"encoding/json"
	"fmt"
	"strings"
)

// kind is the type of a JSONC value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

var kindNames = [...]string{"null", "boolean", "number", "string", "array", "object"}

func (k kind) String() string { return kindNames[k] }

// value is a decoded JSONC value with the 1-based position of its first byte.
type value struct {
	kind      kind
	line, col int
	str       string   // string contents; number or literal text as written
	items     []value  // array elements
	members   []member // object members in file order, duplicates kept
}

// member is one key/value pair of an object; line and col locate the key.
type member struct {
	key       string
	line, col int
	val       value
}

// get returns the value of the last member named key (JSON's last-wins
// rule), or nil.
func (v *value) get(key string) *value {
	for i := len(v.members) - 1; i >= 0; i-- {
		if v.members[i].key == key {
			return &v.members[i].val
		}
	}
	return nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 256

// syntaxError is a JSONC error at a 1-based position.
type syntaxError struct {
	line, col int
	msg       string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

// reader decodes JSONC (JSON with // and /* */ comments and trailing commas)
// in one pass, tracking line and column as it goes.
type reader struct {
	s         string
	pos       int
	line      int // 1-based line of s[pos]
	lineStart int // offset of the first byte of the current line
}

// decodeJSONC decodes one JSONC value from data. Strings without escapes
// share memory with a single copy of data. Errors are *syntaxError.
func decodeJSONC(data []byte) (value, error) {
	r := &reader{s: string(data), line: 1}
	r.space()
	if r.pos >= len(r.s) {
		return value{}, r.errorf("empty input")
	}
	v, err := r.value(0)
	if err != nil {
		return value{}, err
	}
	r.space()
	if r.pos < len(r.s) {
		return value{}, r.errorf("unexpected %q after the top-level value", r.s[r.pos])
	}
	return v, nil
}

func (r *reader) errorf(format string, args ...any) *syntaxError {
	return &syntaxError{line: r.line, col: r.pos - r.lineStart + 1, msg: fmt.Sprintf(format, args...)}
}

// space skips white space and comments.
func (r *reader) space() {
	for r.pos < len(r.s) {
		switch c := r.s[r.pos]; {
		case c == '\n':
			r.pos++
			r.line, r.lineStart = r.line+1, r.pos
		case c == ' ' || c == '\t' || c == '\r':
			r.pos++
		case c == '/' && strings.HasPrefix(r.s[r.pos:], "//"):
			i := strings.IndexByte(r.s[r.pos:], '\n')
			if i < 0 {
				r.pos = len(r.s)
				return
			}
			r.pos += i
		case c == '/' && strings.HasPrefix(r.s[r.pos:], "/*"):
			end := strings.Index(r.s[r.pos+2:], "*/")
			if end < 0 {
				// Leave pos at the comment so the caller reports it.
				return
			}
			for _, b := range []byte(r.s[r.pos : r.pos+2+end]) {
				r.pos++
				if b == '\n' {
					r.line, r.lineStart = r.line+1, r.pos
				}
			}
			r.pos += 2
		default:
			return
		}
	}
}

func (r *reader) value(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, r.errorf("nesting deeper than %d levels", maxDepth)
	}
	v := value{line: r.line, col: r.pos - r.lineStart + 1}
	if r.pos >= len(r.s) {
		return v, r.errorf("unexpected end of input")
	}
	switch c := r.s[r.pos]; {
	case c == '{':
		v.kind = kindObject
		return v, r.object(&v, depth)
	case c == '[':
		v.kind = kindArray
		return v, r.array(&v, depth)
	case c == '"':
		v.kind = kindString
		s, err := r.string()
		v.str = s
		return v, err
	case c == '-' || '0' <= c && c <= '9':
		start := r.pos
		for r.pos < len(r.s) && strings.IndexByte("+-.0123456789eE", r.s[r.pos]) >= 0 {
			r.pos++
		}
		v.kind, v.str = kindNumber, r.s[start:r.pos]
		if !json.Valid([]byte(v.str)) {
			r.pos = start
			return v, r.errorf("invalid number %q", v.str)
		}
		return v, nil
	}
	for _, lit := range []struct {
		text string
		kind kind
	}{{"true", kindBool}, {"false", kindBool}, {"null", kindNull}} {
		if strings.HasPrefix(r.s[r.pos:], lit.text) {
			r.pos += len(lit.text)
			v.kind, v.str = lit.kind, lit.text
			return v, nil
		}
	}
	if strings.HasPrefix(r.s[r.pos:], "/*") {
		return v, r.errorf("unterminated comment")
	}
	return v, r.errorf("unexpected %q", r.s[r.pos])
}

func (r *reader) object(v *value, depth int) error {
	r.pos++ // {
	for {
		r.space()
		if r.pos >= len(r.s) {
			return r.errorf("unexpected end of input in object")
		}
		if r.s[r.pos] == '}' {
			r.pos++
			return nil
		}
		if r.s[r.pos] != '"' {
			return r.errorf("expected a string key or '}', found %q", r.s[r.pos])
		}
		m := member{line: r.line, col: r.pos - r.lineStart + 1}
		key, err := r.string()
		if err != nil {
			return err
		}
		m.key = key
		r.space()
		if r.pos >= len(r.s) || r.s[r.pos] != ':' {
			return r.errorf("expected ':' after key %q", key)
		}
		r.pos++
		r.space()
		if m.val, err = r.value(depth + 1); err != nil {
			return err
		}
		v.members = append(v.members, m)
		r.space()
		if r.pos < len(r.s) && r.s[r.pos] == ',' {
			r.pos++
			continue
		}
		if r.pos < len(r.s) && r.s[r.pos] == '}' {
			r.pos++
			return nil
		}
		if r.pos >= len(r.s) {
			return r.errorf("unexpected end of input in object")
		}
		return r.errorf("expected ',' or '}' after the value of %q", key)
	}
}

func (r *reader) array(v *value, depth int) error {
	r.pos++ // [
	for {
		r.space()
		if r.pos >= len(r.s) {
			return r.errorf("unexpected end of input in array")
		}
		if r.s[r.pos] == ']' {
			r.pos++
			return nil
		}
		item, err := r.value(depth + 1)
		if err != nil {
			return err
		}
		v.items = append(v.items, item)
		r.space()
		if r.pos < len(r.s) && r.s[r.pos] == ',' {
			r.pos++
			continue
		}
		if r.pos < len(r.s) && r.s[r.pos] == ']' {
			r.pos++
			return nil
		}
		if r.pos >= len(r.s) {
			return r.errorf("unexpected end of input in array")
		}
		return r.errorf("expected ',' or ']' in array")
	}
}

// string reads a JSON string starting at the opening quote.
func (r *reader) string() (string, error) {
	start := r.pos
	escaped := false
	for i := start + 1; i < len(r.s); i++ {
		switch c := r.s[i]; {
		case c == '"':
			r.pos = i + 1
			raw := r.s[start:r.pos]
			if !escaped {
				return raw[1 : len(raw)-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				r.pos = start
				return "", r.errorf("invalid string %s", raw)
			}
			return s, nil
		case c == '\\':
			escaped = true
			i++
		case c < 0x20:
			r.pos = i
			return "", r.errorf("control character %q in string", c)
		}
	}
	return "", r.errorf("unterminated string")
}
