package ciconfig

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a position in a source file. Line and Column are 1-based; Column
// counts characters (runes), as YAML parsers do. The zero Pos means unknown.
type Pos struct {
	Line, Column int
}

// String is a scalar value and where it starts. For a block scalar (| or >)
// Pos is the position of the indicator; for a quoted scalar, of the opening
// quote. Value is the decoded value (escapes resolved, blocks folded).
type String struct {
	Value  string
	Pos    Pos
	Quoted bool
}

// ParseError reports why a file could not be parsed and where.
type ParseError struct {
	Pos Pos
	Msg string
	// Minor is set when every problem found is one GitHub tolerates or
	// that cannot hide a step (an unknown key, which is ignored): the file
	// was understood in full apart from what Msg names.
	Minor bool
}

// Error renders "line:col: message" (or just the message when the position
// is unknown).
func (e *ParseError) Error() string {
	if e.Pos.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
}

// Source is the bytes of one parsed file with a lazily built line index. It
// maps offsets inside decoded scalars back to file positions. A Source is not
// safe for concurrent use (the index is built on first use).
type Source struct {
	b     []byte
	lines []int // byte offset of the start of each line
	// last is the previous PosOf answer: a later offset on the same line
	// counts runes from there, so that many positions on one long line
	// cost time linear in the line rather than quadratic.
	last struct{ line, off, col int }
	// located is the previous Locate answer, continued from by the next
	// one on the same scalar.
	located locateState
}

// NewSource wraps b; b must not be modified afterwards.
func NewSource(b []byte) *Source { return &Source{b: b} }

// Bytes returns the source bytes; callers must not modify them.
func (s *Source) Bytes() []byte { return s.b }

func (s *Source) index() {
	if s.lines != nil {
		return
	}
	s.lines = make([]int, 1, bytes.Count(s.b, []byte{'\n'})+1)
	for i, c := range s.b {
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
}

// Offset returns the byte offset of p, or -1 when p lies outside the file.
func (s *Source) Offset(p Pos) int {
	s.index()
	if p.Line < 1 || p.Line > len(s.lines) || p.Column < 1 {
		return -1
	}
	off := s.lines[p.Line-1]
	for col := 1; col < p.Column; col++ {
		if off >= len(s.b) || s.b[off] == '\n' {
			return -1
		}
		_, n := utf8.DecodeRune(s.b[off:])
		off += n
	}
	return off
}

// PosOf returns the position of byte offset off (clamped to the file).
func (s *Source) PosOf(off int) Pos {
	s.index()
	off = max(0, min(off, len(s.b)))
	lo, hi := 0, len(s.lines)-1
	for lo < hi { // last line start <= off
		mid := (lo + hi + 1) / 2
		if s.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	from, col := s.lines[lo], 1
	if l := s.last; l.line == lo+1 && l.off <= off {
		from, col = l.off, l.col
	}
	col += utf8.RuneCount(s.b[from:off])
	if off == len(s.b) || utf8.RuneStart(s.b[off]) {
		s.last.line, s.last.off, s.last.col = lo+1, off, col
	}
	return Pos{Line: lo + 1, Column: col}
}

// Locate returns the file position of byte offset off inside the decoded
// value of str. It works for plain, quoted, literal (|) and folded (>)
// scalars alike: it takes the word starting at off (up to whitespace, a
// quote or a backslash), counts how often that word occurs in the value
// before off, and finds the same occurrence in the file from the scalar's
// start on. When the word was written with escapes, or str has no position,
// Locate returns str.Pos.
func (s *Source) Locate(str *String, off int) Pos {
	if str == nil {
		return Pos{}
	}
	if off < 0 || off >= len(str.Value) {
		return str.Pos
	}
	word := str.Value[off:]
	if i := strings.IndexAny(word, " \t\r\n\"'\\"); i > 0 {
		word = word[:i]
	} else if i == 0 {
		return str.Pos
	}
	if strings.HasPrefix(word, "${{") {
		// Expressions may contain spaces; anchor on "${{" only.
		word = "${{"
	}
	start := s.Offset(str.Pos)
	if start < 0 {
		return str.Pos
	}
	// Continue from the previous answer for the same word of the same
	// scalar, so that many findings in one long script cost time linear
	// in it.
	c := &s.located
	from, k0, at := 0, 0, 0
	if c.str == str && c.word == word && c.off <= off {
		from, k0, at = c.off, c.k, c.at
	}
	k := k0 + strings.Count(str.Value[from:off], word)
	rest := s.b[start:]
	w := []byte(word)
	for j := k0; j <= k; j++ {
		i := bytes.Index(rest[at:], w)
		if i < 0 {
			return str.Pos
		}
		if j == k {
			*c = locateState{str: str, word: word, off: off, k: k, at: at + i}
			return s.PosOf(start + at + i)
		}
		at += i + len(w)
	}
	return str.Pos
}

// locateState is where the last Locate found its word: occurrence k
// (counting from 0 in str.Value before off) at byte at after the scalar's
// start in the file.
type locateState struct {
	str    *String
	word   string
	off, k int
	at     int
}

// TrailingComment returns the text of the comment that follows the
// single-line scalar str on its line ("# v4.2.1" gives "v4.2.1"), and
// whether there is one. Block scalars have none.
func (s *Source) TrailingComment(str *String) (string, bool) {
	if str == nil {
		return "", false
	}
	off := s.Offset(str.Pos)
	if off < 0 {
		return "", false
	}
	line := s.b[off:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", false
	}
	rest := line
	switch q := line[0]; q {
	case '\'', '"':
		i := 1
		for i < len(line) && line[i] != q {
			if q == '"' && line[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(line) {
			return "", false
		}
		rest = line[i+1:]
		if j := bytes.IndexByte(rest, '#'); j >= 0 && len(bytes.TrimSpace(rest[:j])) == 0 {
			return string(bytes.TrimSpace(rest[j+1:])), true
		}
		return "", false
	case '|', '>':
		return "", false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] == '#' && (rest[i-1] == ' ' || rest[i-1] == '\t') {
			return string(bytes.TrimSpace(rest[i+1:])), true
		}
	}
	return "", false
}
