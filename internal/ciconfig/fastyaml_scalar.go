package ciconfig

import (
	"strings"
	"unicode/utf8"
)

// flow reads the single-line flow collection ([...] or {...}) starting at
// byte at of line li and returns it with the offset after its closing
// bracket. Plain scalars inside it may not contain ':', '?' or '#', and a
// trailing comma, an empty value or a collection spanning lines fall back.
func (p *fastParser) flow(li, at, depth int) (*ynode, int) {
	if depth > maxFastFlowDepth {
		p.fail = true
		return nil, 0
	}
	l := p.lines[li]
	kind, closing := yamlSeq, byte(']')
	if l[at] == '{' {
		kind, closing = yamlMap, '}'
	}
	n := p.node(kind, styleFlow, li, at, "")
	base := len(p.stack)
	j := skipSpaces(l, at+1)
	if j < len(l) && l[j] == closing {
		return n, j + 1
	}
	for {
		if j >= len(l) {
			p.fail = true
			return nil, 0
		}
		var item *ynode
		if kind == yamlMap {
			var k *ynode
			k, j = p.flowItem(li, j, depth, true)
			if p.fail {
				return nil, 0
			}
			if j+1 >= len(l) || l[j] != ':' || l[j+1] != ' ' {
				p.fail = true
				return nil, 0
			}
			if p.duplicate(base, k.value) {
				p.fail = true
				return nil, 0
			}
			p.stack = append(p.stack, k)
			j = skipSpaces(l, j+1)
			if j >= len(l) {
				p.fail = true
				return nil, 0
			}
		}
		item, j = p.flowItem(li, j, depth, false)
		if p.fail {
			return nil, 0
		}
		p.stack = append(p.stack, item)
		j = skipSpaces(l, j)
		switch {
		case j >= len(l):
			p.fail = true
			return nil, 0
		case l[j] == ',':
			j = skipSpaces(l, j+1)
			if j < len(l) && l[j] == closing {
				p.fail = true // a trailing comma
				return nil, 0
			}
		case l[j] == closing:
			n.content = p.take(base)
			return n, j + 1
		default:
			p.fail = true
			return nil, 0
		}
	}
}

// flowItem reads one scalar or nested collection inside a flow collection.
// For a key it stops before the ':'.
func (p *fastParser) flowItem(li, j, depth int, key bool) (*ynode, int) {
	l := p.lines[li]
	switch c := l[j]; c {
	case '[', '{':
		if key {
			break
		}
		return p.flow(li, j, depth+1)
	case '"', '\'':
		v, end, ok := p.quoted(l, j)
		if !ok {
			break
		}
		style := styleSingle
		if c == '"' {
			style = styleDouble
		}
		return p.node(yamlScalar, style, li, j, v), end
	default:
		if !plainStart(l, j) {
			break
		}
		k := j
		for k < len(l) && strings.IndexByte(",[]{}#:?", l[k]) < 0 {
			k++
		}
		// '?' followed by a blank is an indicator in flow context; any
		// '?' falls back.
		if k < len(l) && (l[k] == '#' || l[k] == '?' || (l[k] == ':' && (!key || k+1 >= len(l) || l[k+1] != ' '))) {
			break
		}
		v := strings.TrimRight(l[j:k], " ")
		if v == "" || len(v) > maxFastKeyLen {
			break
		}
		return p.node(yamlScalar, stylePlain, li, j, v), k
	}
	p.fail = true
	return nil, 0
}

// blockScalar reads a literal (|) or folded (>) block scalar whose
// indicator is at byte at of line li, the way yaml/v4's scanner does
// (scanBlockScalar), and leaves p.i at the first line after it. indent is
// the indentation of the collection holding it.
func (p *fastParser) blockScalar(li, at, indent int) *ynode {
	l := p.lines[li]
	literal := l[at] == '|'
	j := at + 1
	chomp, inc := 0, 0
	readChomp := func() {
		if j < len(l) && (l[j] == '+' || l[j] == '-') {
			chomp = 1
			if l[j] == '-' {
				chomp = -1
			}
			j++
		}
	}
	readInc := func() bool {
		if j < len(l) && l[j] >= '0' && l[j] <= '9' {
			if l[j] == '0' {
				return false
			}
			inc = int(l[j] - '0')
			j++
		}
		return true
	}
	if j < len(l) && (l[j] == '+' || l[j] == '-') {
		readChomp()
		if !readInc() {
			p.fail = true
			return nil
		}
	} else {
		if !readInc() {
			p.fail = true
			return nil
		}
		readChomp()
	}
	if !trailer(l, j) {
		p.fail = true
		return nil
	}
	ind := 0
	if inc > 0 {
		ind = indent + inc
	}
	k := li + 1
	s := p.scratch[:0]
	trailing := 0 // line breaks after the last content line
	// breaks eats empty lines and indentation like scanBlockScalarBreaks;
	// it returns the column reached on line k (k == len(p.lines) at the
	// end of the input).
	breaks := func() (int, bool) {
		maxInd := 0
		col := 0
		for k < len(p.lines) {
			l := p.lines[k]
			col = 0
			for (ind == 0 || col < ind) && col < len(l) && l[col] == ' ' {
				col++
			}
			maxInd = max(maxInd, col)
			if (ind == 0 || col < ind) && col < len(l) && l[col] == '\t' {
				return 0, false
			}
			if col < len(l) || (k == len(p.lines)-1 && !p.lastBreak) {
				break
			}
			trailing++
			k++
		}
		if k == len(p.lines) {
			col = 0
		}
		if ind == 0 {
			ind = max(maxInd, indent+1, 1)
			if k < len(p.lines) && col < len(p.lines[k]) && col != ind {
				// Leading blank lines indented deeper than the first
				// content line: yaml/v4 ends the scalar there.
				return 0, false
			}
		}
		return col, true
	}
	col, ok := breaks()
	if !ok {
		p.fail = true
		return nil
	}
	leadingBreak, leadingBlank := false, false
	for k < len(p.lines) && col == ind {
		l := p.lines[k]
		if col == len(l) && k == len(p.lines)-1 && !p.lastBreak {
			break // end of input
		}
		trailingBlank := col < len(l) && (l[col] == ' ' || l[col] == '\t')
		if !literal && leadingBreak && !leadingBlank && !trailingBlank {
			if trailing == 0 {
				s = append(s, ' ')
			}
		} else if leadingBreak {
			s = append(s, '\n')
		}
		for ; trailing > 0; trailing-- {
			s = append(s, '\n')
		}
		leadingBlank = trailingBlank
		s = append(s, l[col:]...)
		leadingBreak = k < len(p.lines)-1 || p.lastBreak
		k++
		if col, ok = breaks(); !ok {
			p.fail = true
			return nil
		}
	}
	if chomp != -1 && leadingBreak {
		s = append(s, '\n')
	}
	if chomp == 1 {
		for ; trailing > 0; trailing-- {
			s = append(s, '\n')
		}
	}
	p.i = k
	p.scratch = s
	style := styleLiteral
	if !literal {
		style = styleFolded
	}
	return p.node(yamlScalar, style, li, at, string(s))
}

// quoted reads the single-line quoted scalar starting at at and returns
// its value and the offset after the closing quote. ok is false when the
// scalar does not end on this line or has an escape yaml/v4 rejects.
func (p *fastParser) quoted(l string, at int) (string, int, bool) {
	q := l[at]
	if q == '\'' {
		var b []byte
		from := at + 1
		for j := at + 1; j < len(l); j++ {
			if l[j] != '\'' {
				continue
			}
			if j+1 < len(l) && l[j+1] == '\'' {
				b = append(b, l[from:j+1]...)
				j++
				from = j + 1
				continue
			}
			if b == nil {
				return l[at+1 : j], j + 1, true
			}
			return string(append(b, l[from:j]...)), j + 1, true
		}
		return "", 0, false
	}
	var b []byte
	from := at + 1
	for j := at + 1; j < len(l); j++ {
		switch l[j] {
		case '"':
			if b == nil {
				return l[at+1 : j], j + 1, true
			}
			return string(append(b, l[from:j]...)), j + 1, true
		case '\\':
			if j+1 >= len(l) {
				return "", 0, false // an escaped line break
			}
			b = append(b, l[from:j]...)
			n, ok := appendEscape(&b, l, j+1)
			if !ok {
				return "", 0, false
			}
			j += n
			from = j + 1
		}
	}
	return "", 0, false
}

// appendEscape decodes the escape whose letter is at l[at] onto b and
// returns how many bytes after the backslash it used.
func appendEscape(b *[]byte, l string, at int) (int, bool) {
	var s string
	n := 0
	switch l[at] {
	case '0':
		s = "\x00"
	case 'a':
		s = "\a"
	case 'b':
		s = "\b"
	case 't':
		s = "\t"
	case 'n':
		s = "\n"
	case 'v':
		s = "\v"
	case 'f':
		s = "\f"
	case 'r':
		s = "\r"
	case 'e':
		s = "\x1b"
	case ' ':
		s = " "
	case '"':
		s = "\""
	case '\'':
		s = "'"
	case '\\':
		s = "\\"
	case 'N':
		s = "\u0085"
	case '_':
		s = "\u00a0"
	case 'L':
		s = "\u2028"
	case 'P':
		s = "\u2029"
	case 'x':
		n = 2
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		return 0, false // yaml/v4 rejects the rest, "\/" included
	}
	if n == 0 {
		*b = append(*b, s...)
		return 1, true
	}
	if at+1+n > len(l) {
		return 0, false
	}
	v := 0
	for _, h := range []byte(l[at+1 : at+1+n]) {
		switch {
		case h >= '0' && h <= '9':
			v = v<<4 | int(h-'0')
		case h >= 'a' && h <= 'f':
			v = v<<4 | int(h-'a'+10)
		case h >= 'A' && h <= 'F':
			v = v<<4 | int(h-'A'+10)
		default:
			return 0, false
		}
	}
	if (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff {
		return 0, false
	}
	*b = utf8.AppendRune(*b, rune(v))
	return 1 + n, true
}

// plainContinuation folds the lines at p.i that continue the plain scalar
// v (lines indented deeper than indent, before a comment line or a
// shallower line) onto it, as yaml/v4's scanPlainScalar does: one line
// break becomes a space, n blank lines n newlines. It leaves p.i after
// the last line it used.
func (p *fastParser) plainContinuation(v string, indent int) string {
	var b []byte
	breaks := 0
	for k := p.i; k < len(p.lines); k++ {
		l := p.lines[k]
		t := strings.TrimLeft(l, " ")
		if strings.IndexByte(l, '\t') >= 0 {
			p.fail = true
			return ""
		}
		if t == "" {
			breaks++
			continue
		}
		if len(l)-len(t) <= indent || t[0] == '#' {
			break
		}
		end := len(t)
		for j := 1; j < len(t); j++ {
			if t[j] == '#' && t[j-1] == ' ' {
				end = j
				break
			}
		}
		c := strings.TrimRight(t[:end], " ")
		if strings.Contains(c, ": ") || strings.HasSuffix(c, ":") {
			p.fail = true
			return ""
		}
		if b == nil {
			b = append(make([]byte, 0, 2*len(v)), v...)
		}
		if breaks == 0 {
			b = append(b, ' ')
		}
		for ; breaks > 0; breaks-- {
			b = append(b, '\n')
		}
		breaks = 0
		b = append(b, c...)
		p.i = k + 1
		if end < len(t) {
			break // a comment ends the scalar
		}
	}
	if b == nil {
		return v
	}
	return string(b)
}
