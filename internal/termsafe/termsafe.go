// Package termsafe makes strings from untrusted sources (file names, process
// command lines, server bodies, DNS names) safe to print where a person or a
// CI runner reads them: a terminal, a CI log, a Markdown summary.
//
// Two things are neutralised:
//   - control characters (C0, DEL, C1, and the Unicode line and paragraph
//     separators and bidirectional overrides) are written as Go-style escapes
//     (\n, \x1b, \u202e), so no escape sequence reaches a terminal and no
//     string can start a new line;
//   - a "::" at the start of a line, which GitHub Actions reads as a workflow
//     command (::error::, ::add-mask::, ::stop-commands::), is broken: the
//     first ':' is written as \x3a.
//
// Printable text, including non-ASCII letters, passes unchanged, so escaping a
// clean string costs one scan and no allocation.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// String returns s with control characters escaped, invalid UTF-8 bytes
// written as \xNN, and a leading "::" neutralised. The result never contains
// a newline or a carriage return.
func String(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	write(&b, s)
	return b.String()
}

// Lines escapes every line of a multi-line text separately and keeps the
// line breaks ("\n"); a carriage return or any other control character inside
// a line is escaped, and every line that would start with "::" is neutralised.
func Lines(s string) string {
	if !strings.Contains(s, "\n") {
		return String(s)
	}
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = String(p)
	}
	return strings.Join(parts, "\n")
}

// clean reports whether s needs no escaping.
func clean(s string) bool {
	if strings.HasPrefix(strings.TrimLeft(s, " \t"), "::") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			return cleanUnicode(s[i:])
		}
	}
	return true
}

func cleanUnicode(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune reports runes that are escaped: C0 and C1 controls, DEL, line and
// paragraph separators, and bidirectional controls (Trojan Source).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0xfeff:
		return true
	}
	return false
}

const hex = "0123456789abcdef"

func write(b *strings.Builder, s string) {
	lead := len(s) - len(strings.TrimLeft(s, " \t"))
	if strings.HasPrefix(s[lead:], "::") {
		b.WriteString(s[:lead])
		b.WriteString(`\x3a`)
		s = s[lead+1:]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		case unsafeRune(r):
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>uint(shift))&0xf])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}
