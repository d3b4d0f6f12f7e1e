package jsonpos

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// skipSpace advances over JSON whitespace, counting lines, and over
// comments when the options allow them. Raw newlines cannot occur inside
// strict JSON strings, so this is the only place lines are counted (block
// comments count their own).
func (d *Decoder) skipSpace() error {
	// Fast path, small enough to inline: most calls find no whitespace.
	if s, p := d.src, d.pos; p < len(s) && spaceOrSlash[s[p]] == 0 {
		return nil
	}
	return d.skipSpaceSlow()
}

const eightSpaces = 0x2020202020202020

// spaceOrSlash is 1 for the bytes that can start whitespace or a comment.
var spaceOrSlash = [256]byte{' ': 1, '\t': 1, '\r': 1, '\n': 1, '/': 1}

func (d *Decoder) skipSpaceSlow() error {
	s := d.src
	for d.pos < len(s) {
		switch s[d.pos] {
		case ' ', '\t', '\r':
			d.pos++
		case '\n':
			d.pos++
			d.line++
			d.lineStart = d.pos
			// Indentation: step over runs of eight spaces at a time.
			for d.pos+8 <= len(s) && binary.LittleEndian.Uint64(s[d.pos:]) == eightSpaces {
				d.pos += 8
			}
		case '/':
			if !d.opts.AllowComments {
				return nil
			}
			if err := d.skipComment(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// skipComment reads a // or /* */ comment starting at d.pos.
func (d *Decoder) skipComment() error {
	s := d.src
	if d.pos+1 >= len(s) || (s[d.pos+1] != '/' && s[d.pos+1] != '*') {
		return d.errAt(d.pos, "unexpected character '/', expected a comment")
	}
	if s[d.pos+1] == '/' {
		for d.pos < len(s) && s[d.pos] != '\n' {
			d.pos++
		}
		return nil
	}
	start := d.pos
	startLine, startLineStart := d.line, d.lineStart
	d.pos += 2
	for d.pos < len(s) {
		switch s[d.pos] {
		case '\n':
			d.pos++
			d.line++
			d.lineStart = d.pos
		case '*':
			d.pos++
			if d.pos < len(s) && s[d.pos] == '/' {
				d.pos++
				return nil
			}
		default:
			d.pos++
		}
	}
	return d.Errorf(d.position(start, startLine, startLineStart), "unterminated block comment")
}

// plain marks bytes that may appear in a string without special handling:
// everything but '"', '\\' and control characters.
var plain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = true
	}
	t['"'] = false
	t['\\'] = false
	return t
}()

// readString reads the string starting at d.pos (which is '"') and returns
// its decoded value: a slice of the input when there are no escapes, else
// of the scratch buffer.
func (d *Decoder) readString() ([]byte, error) {
	s := d.src
	start := d.pos + 1
	i := start
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i < len(s) && s[i] == '"' {
		d.pos = i + 1
		return s[start:i], nil
	}
	if i >= len(s) {
		return nil, d.errAt(d.pos, "unterminated string")
	}
	if s[i] != '\\' {
		return nil, d.errAt(i, "invalid control character %s in string", describe(s[i]))
	}
	return d.readEscaped(start, i)
}

// readEscaped decodes a string whose first escape is at offset esc.
func (d *Decoder) readEscaped(start, esc int) ([]byte, error) {
	s := d.src
	b := append(d.buf[:0], s[start:esc]...)
	i := esc
	for {
		for i < len(s) && plain[s[i]] {
			b = append(b, s[i])
			i++
		}
		if i >= len(s) {
			return nil, d.errAt(start-1, "unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			d.pos = i + 1
			d.buf = b
			return b, nil
		case c != '\\':
			return nil, d.errAt(i, "invalid control character %s in string", describe(c))
		}
		if i+1 >= len(s) {
			return nil, d.errAt(start-1, "unterminated string")
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			b = append(b, c)
			i += 2
		case 'b':
			b = append(b, '\b')
			i += 2
		case 'f':
			b = append(b, '\f')
			i += 2
		case 'n':
			b = append(b, '\n')
			i += 2
		case 'r':
			b = append(b, '\r')
			i += 2
		case 't':
			b = append(b, '\t')
			i += 2
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return nil, d.errAt(i, `invalid \u escape`)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					// A lone surrogate becomes U+FFFD, as in encoding/json.
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, d.errAt(i, "invalid escape %s in string", describe(c))
		}
	}
}

// hex4 decodes four hex digits at s[i:i+4].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// skipString validates the string starting at d.pos without decoding it.
func (d *Decoder) skipString() error {
	s := d.src
	i := d.pos + 1
	for {
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i >= len(s) {
			return d.errAt(d.pos, "unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			d.pos = i + 1
			return nil
		case c != '\\':
			return d.errAt(i, "invalid control character %s in string", describe(c))
		}
		if i+1 >= len(s) {
			return d.errAt(d.pos, "unterminated string")
		}
		switch s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, ok := hex4(s, i+2); !ok {
				return d.errAt(i, `invalid \u escape`)
			}
			i += 6
		default:
			return d.errAt(i, "invalid escape %s in string", describe(s[i+1]))
		}
	}
}

// scanNumber validates the number starting at d.pos and advances past it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) scanNumber() error {
	s := d.src
	i := d.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return d.errAt(i, "invalid number: expected a digit")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return d.errAt(i, "invalid number: expected a digit after '.'")
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return d.errAt(i, "invalid number: expected a digit in exponent")
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return nil
}

// literal consumes the keyword lit (true, false or null) at d.pos.
func (d *Decoder) literal(lit string) error {
	s := d.src
	if len(s)-d.pos < len(lit) || string(s[d.pos:d.pos+len(lit)]) != lit {
		for i := 0; i < len(lit); i++ {
			if d.pos+i >= len(s) {
				return d.errAt(d.pos+i, "unexpected end of input in literal %s", lit)
			}
			if s[d.pos+i] != lit[i] {
				return d.errAt(d.pos+i, "invalid literal: unexpected %s", describe(s[d.pos+i]))
			}
		}
	}
	d.pos += len(lit)
	return nil
}

// skipObject validates the object at d.pos without callbacks; Skip uses it
// for the bulk of a lockfile that no parser keeps. Errors match Object's.
func (d *Decoder) skipObject() error {
	if empty, err := d.open('}'); empty || err != nil {
		return err
	}
	for {
		if err := d.skipSpace(); err != nil {
			return err
		}
		if d.pos >= len(d.src) || d.src[d.pos] != '"' {
			return d.errHere("a string key")
		}
		if err := d.skipString(); err != nil {
			return err
		}
		if err := d.skipSpace(); err != nil {
			return err
		}
		if d.pos >= len(d.src) || d.src[d.pos] != ':' {
			return d.errHere("':' after object key")
		}
		d.pos++
		if err := d.Skip(); err != nil {
			return err
		}
		if done, err := d.next('}', "',' or '}' after object member"); done || err != nil {
			return err
		}
	}
}

// skipArray validates the array at d.pos without callbacks.
func (d *Decoder) skipArray() error {
	if empty, err := d.open(']'); empty || err != nil {
		return err
	}
	for {
		if err := d.Skip(); err != nil {
			return err
		}
		if done, err := d.next(']', "',' or ']' after array element"); done || err != nil {
			return err
		}
	}
}

// open enters the object or array whose opening bracket is at d.pos,
// enforcing the depth limit. It reports whether the container is empty; an
// empty one has been read up to and including close.
func (d *Decoder) open(close byte) (empty bool, err error) {
	if d.depth >= d.maxDepth {
		return false, d.errAt(d.pos, "nesting deeper than %d levels", d.maxDepth)
	}
	d.depth++
	d.pos++ // '{' or '['
	if err := d.skipSpace(); err != nil {
		return false, err
	}
	if d.pos < len(d.src) && d.src[d.pos] == close {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// next reads what follows a member or element: a comma (and, when trailing
// commas are allowed, a close after it) or close. It reports whether the
// container ended; expected names the tokens in the error message.
func (d *Decoder) next(close byte, expected string) (done bool, err error) {
	if err := d.skipSpace(); err != nil {
		return false, err
	}
	if d.pos >= len(d.src) {
		return false, d.errHere(expected)
	}
	switch d.src[d.pos] {
	case ',':
		d.pos++
		if d.opts.AllowTrailingCommas {
			if err := d.skipSpace(); err != nil {
				return false, err
			}
			if d.pos < len(d.src) && d.src[d.pos] == close {
				d.pos++
				d.depth--
				return true, nil
			}
		}
		return false, nil
	case close:
		d.pos++
		d.depth--
		return true, nil
	}
	return false, d.errHere(expected)
}
