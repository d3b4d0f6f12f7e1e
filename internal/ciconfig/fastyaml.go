package ciconfig

import (
	"strings"
	"unicode/utf8"
)

// This file is a small YAML reader for the subset that GitHub Actions
// workflows use: one document of block mappings and sequences (compact
// "- key: v" items included), single-line plain, single- and double-quoted
// scalars, literal and folded block scalars, and single-line flow
// collections. It exists because go.yaml.in/yaml/v4 was more than half of
// the CPU of a CI scan. It is only an accelerator: anything outside the
// subset, or anything it is not sure to read exactly as yaml/v4 does
// (anchors, tags, multi-line plain or quoted scalars, tabs, duplicate keys,
// a second document, ...), makes parseFastYAML return ok == false and the
// caller uses the full parser. fastyaml_test.go keeps the two equal.

const (
	// maxFastDepth bounds block nesting; deeper input goes to yaml/v4.
	maxFastDepth = 64
	// maxFastFlowDepth bounds flow nesting.
	maxFastFlowDepth = 16
	// maxFastKeyLen stays under yaml's 1024-byte limit for implicit keys.
	maxFastKeyLen = 1000
	// fastIndicators cannot start a plain scalar in the subset.
	fastIndicators = "-?:,[]{}#&*!|>'\"%@`"
)

type yamlKind uint8

const (
	yamlScalar yamlKind = iota + 1
	yamlSeq
	yamlMap
)

type yamlStyle uint8

const (
	stylePlain yamlStyle = iota
	styleSingle
	styleDouble
	styleLiteral
	styleFolded
	styleFlow // a flow collection
)

// ynode is one node of the fast tree, with the same Kind, Value, Line and
// Column as the yaml.Node yaml/v4 would build. A mapping's content is
// key, value, key, value, ...
type ynode struct {
	kind      yamlKind
	style     yamlStyle
	line, col int
	value     string
	content   []*ynode
}

func (n *ynode) quoted() bool { return n.style == styleSingle || n.style == styleDouble }

// isNull reports whether yaml/v4 resolves n to the !!null tag.
func (n *ynode) isNull() bool {
	if n.kind != yamlScalar || n.style != stylePlain {
		return false
	}
	switch n.value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// isBool reports whether yaml/v4 resolves n to the !!bool tag.
func (n *ynode) isBool() bool {
	if n.kind != yamlScalar || n.style != stylePlain {
		return false
	}
	switch n.value {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return true
	}
	return false
}

type fastParser struct {
	lines     []string // without line breaks ("\r\n" or "\n")
	lastBreak bool     // the last line ends with a line break
	i         int      // first line not consumed yet
	depth     int
	fail      bool
	arena     []ynode
	stack     []*ynode // children of the collections being read
	ptrs      []*ynode // arena for content slices
	scratch   []byte   // reused buffer for block scalars
	// column's memory of the last line it measured
	colLine, colOff, colRunes int
	colASCII                  bool
	// keySets index the keys of large mappings being read, by base.
	keySets map[int]map[string]struct{}
}

// parseFastYAML reads src if it is entirely in the subset and its root is a
// block mapping. ok is false for anything else, including invalid YAML.
func parseFastYAML(src []byte) (root *ynode, ok bool) {
	p := &fastParser{colLine: -1}
	if !p.split(string(src)) {
		return nil, false
	}
	li := 0
	for li < len(p.lines) {
		if strings.IndexByte(p.lines[li], '\t') >= 0 {
			return nil, false
		}
		if t := strings.TrimLeft(p.lines[li], " "); t != "" && t[0] != '#' {
			break
		}
		li++
	}
	if li < len(p.lines) && strings.HasPrefix(p.lines[li], "---") {
		rest := p.lines[li][3:]
		if t := strings.TrimLeft(rest, " "); t != "" && (t[0] != '#' || len(t) == len(rest)) {
			return nil, false
		}
		li++
	}
	li = p.skipBlank(li)
	if p.fail || li >= len(p.lines) || p.lines[li][0] == ' ' {
		return nil, false
	}
	root = p.blockMapping(li, 0)
	if p.fail || p.skipBlank(p.i) < len(p.lines) || p.fail {
		return nil, false
	}
	return root, true
}

// split cuts text into lines and refuses characters yaml/v4 would reject
// or treat specially (a BOM, control characters, lone CR, Unicode line
// separators).
func (p *fastParser) split(text string) bool {
	n := strings.Count(text, "\n")
	p.lines = make([]string, 0, n+1)
	start := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line := text[start:i]
			if strings.HasSuffix(line, "\r") {
				line = line[:len(line)-1]
			}
			p.lines = append(p.lines, line)
			i++
			start = i
			continue
		case c == '\r':
			if i+1 >= len(text) || text[i+1] != '\n' {
				return false
			}
		case c == '\t' || (c >= 0x20 && c < 0x7f):
		case c < 0x80:
			return false
		default:
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError || r < 0xa0 || (r >= 0xd800 && r <= 0xdfff) || r == 0xfeff || r == 0xfffe || r == 0xffff || r == 0x2028 || r == 0x2029 {
				return false
			}
			i += size
			continue
		}
		i++
	}
	p.lastBreak = true
	if start < len(text) {
		p.lines = append(p.lines, text[start:])
		p.lastBreak = false
	}
	return true
}

// smallMapping is how many entries a mapping may have before duplicate
// keys are found with a set instead of a scan.
const smallMapping = 16

// duplicate reports whether key is already a key of the mapping whose
// entries start at p.stack[base]. It stays linear in the mapping's size.
func (p *fastParser) duplicate(base int, key string) bool {
	n := (len(p.stack) - base) / 2
	if n < smallMapping {
		for k := base; k < len(p.stack); k += 2 {
			if p.stack[k].value == key {
				return true
			}
		}
		return false
	}
	if p.keySets == nil {
		p.keySets = map[int]map[string]struct{}{}
	}
	set := p.keySets[base]
	if set == nil {
		set = make(map[string]struct{}, 2*n)
		for k := base; k < len(p.stack); k += 2 {
			set[p.stack[k].value] = struct{}{}
		}
		p.keySets[base] = set
	}
	if _, ok := set[key]; ok {
		return true
	}
	set[key] = struct{}{}
	return false
}

// take moves the children pushed since base into an exactly sized content
// slice: one growing stack instead of one growing slice per collection.
func (p *fastParser) take(base int) []*ynode {
	n := len(p.stack) - base
	if n == 0 {
		return nil
	}
	if len(p.ptrs) < n {
		p.ptrs = make([]*ynode, max(n, 2*len(p.lines)))
	}
	out := p.ptrs[:n:n]
	p.ptrs = p.ptrs[n:]
	copy(out, p.stack[base:])
	p.stack = p.stack[:base]
	if p.keySets != nil {
		delete(p.keySets, base)
	}
	return out
}

func (p *fastParser) node(kind yamlKind, style yamlStyle, li, off int, value string) *ynode {
	if len(p.arena) == 0 {
		p.arena = make([]ynode, max(64, len(p.lines)))
	}
	n := &p.arena[0]
	p.arena = p.arena[1:]
	*n = ynode{kind: kind, style: style, line: li + 1, col: p.column(li, off), value: value}
	return n
}

// column is the 1-based column (in runes) of byte offset off of line li.
// It remembers the last line and offset asked about, so that many nodes on
// one long line cost one pass over it, not one each.
func (p *fastParser) column(li, off int) int {
	if li != p.colLine {
		p.colLine, p.colOff, p.colRunes = li, 0, 0
		p.colASCII = true
		for i := 0; i < len(p.lines[li]); i++ {
			if p.lines[li][i] >= 0x80 {
				p.colASCII = false
				break
			}
		}
	}
	if p.colASCII {
		return off + 1
	}
	if off < p.colOff {
		p.colOff, p.colRunes = 0, 0
	}
	p.colRunes += utf8.RuneCountInString(p.lines[li][p.colOff:off])
	p.colOff = off
	return p.colRunes + 1
}

// skipBlank returns the index of the first line at or after li that is
// neither blank nor a comment. Lines with tabs fail: tabs are allowed only
// inside block scalars, which consume their own lines.
func (p *fastParser) skipBlank(li int) int {
	for ; li < len(p.lines); li++ {
		l := p.lines[li]
		if strings.IndexByte(l, '\t') >= 0 {
			p.fail = true
			return len(p.lines)
		}
		t := strings.TrimLeft(l, " ")
		if t == "" || t[0] == '#' {
			continue
		}
		if len(t) == len(l) && (strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...")) {
			p.fail = true // a document marker, or a plain scalar that looks like one
			return len(p.lines)
		}
		return li
	}
	return li
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func isDashLine(l string, ind int) bool {
	return l[ind] == '-' && (ind+1 == len(l) || l[ind+1] == ' ')
}

func skipSpaces(l string, j int) int {
	for j < len(l) && l[j] == ' ' {
		j++
	}
	return j
}

func (p *fastParser) enter() bool {
	p.depth++
	if p.depth > maxFastDepth {
		p.fail = true
	}
	return !p.fail
}

// blockMapping reads a block mapping whose first key starts at byte off of
// line li; its indentation is off (only spaces and "- " precede it).
func (p *fastParser) blockMapping(li, off int) *ynode {
	if !p.enter() {
		return nil
	}
	defer func() { p.depth-- }()
	m := p.node(yamlMap, stylePlain, li, off, "")
	base := len(p.stack)
	indent := off
	for {
		p.entry(base, li, off, indent)
		if p.fail {
			return nil
		}
		li = p.skipBlank(p.i)
		if p.fail {
			return nil
		}
		if li >= len(p.lines) {
			break
		}
		l := p.lines[li]
		ind := indentOf(l)
		if ind < indent {
			break
		}
		if ind > indent || isDashLine(l, ind) {
			p.fail = true
			return nil
		}
		off = ind
	}
	p.i = li
	m.content = p.take(base)
	return m
}

// entry reads one "key: value" starting at byte off of line li and pushes
// both onto p.stack, where the mapping's entries start at base.
func (p *fastParser) entry(base, li, off, indent int) {
	key, after := p.key(li, off)
	if p.fail {
		return
	}
	if p.duplicate(base, key.value) {
		p.fail = true // duplicate keys: let yaml/v4 and actionlint report them
		return
	}
	l := p.lines[li]
	at := skipSpaces(l, after)
	p.i = li + 1
	var v *ynode
	if at == len(l) || l[at] == '#' {
		v = p.valueBelow(li, after, indent, true)
	} else {
		v = p.inlineValue(li, at, indent)
	}
	if p.fail {
		return
	}
	p.stack = append(p.stack, key, v)
}

// valueBelow reads the value of a "key:" or "-" with nothing after it on
// line li: a block collection on the next lines, or an empty (null)
// scalar positioned at byte end of line li, right after the indicator.
func (p *fastParser) valueBelow(li, end, indent int, inMapping bool) *ynode {
	next := p.skipBlank(p.i)
	if p.fail {
		return nil
	}
	if next < len(p.lines) {
		l := p.lines[next]
		ind := indentOf(l)
		dash := isDashLine(l, ind)
		switch {
		case dash && (ind > indent || (inMapping && ind == indent)):
			p.i = next
			return p.blockSequence(next, ind)
		case ind > indent:
			p.i = next
			return p.blockMapping(next, ind)
		}
	}
	return p.node(yamlScalar, stylePlain, li, end, "")
}

// blockSequence reads a block sequence whose first "-" is at byte ind of
// line li.
func (p *fastParser) blockSequence(li, ind int) *ynode {
	if !p.enter() {
		return nil
	}
	defer func() { p.depth-- }()
	s := p.node(yamlSeq, stylePlain, li, ind, "")
	base := len(p.stack)
	for {
		l := p.lines[li]
		at := skipSpaces(l, ind+1)
		p.i = li + 1
		var item *ynode
		switch {
		case at == len(l) || l[at] == '#':
			item = p.valueBelow(li, ind+1, ind, false)
		case isDashLine(l, at):
			p.fail = true // "- - x"
		case p.isKey(l, at):
			item = p.blockMapping(li, at)
		default:
			item = p.inlineValue(li, at, ind)
		}
		if p.fail {
			return nil
		}
		p.stack = append(p.stack, item)
		li = p.skipBlank(p.i)
		if p.fail {
			return nil
		}
		if li >= len(p.lines) {
			break
		}
		l = p.lines[li]
		i := indentOf(l)
		if i < ind || (i == ind && !isDashLine(l, i)) {
			break
		}
		if i > ind {
			p.fail = true
			return nil
		}
	}
	p.i = li
	s.content = p.take(base)
	return s
}

// isKey reports whether the text at byte at of l starts with a mapping key.
func (p *fastParser) isKey(l string, at int) bool {
	switch l[at] {
	case '"', '\'':
		_, end, ok := p.quoted(l, at)
		return ok && end < len(l) && l[end] == ':'
	case '[', '{', '|', '>':
		return false
	}
	_, ok := plainKeyEnd(l, at)
	return ok
}

// plainKeyEnd returns the offset of the ":" that ends a plain key starting
// at at, if there is one before a comment.
func plainKeyEnd(l string, at int) (int, bool) {
	for j := at; j < len(l); j++ {
		switch l[j] {
		case ':':
			if j+1 == len(l) || l[j+1] == ' ' {
				return j, true
			}
		case '#':
			if j > at && l[j-1] == ' ' {
				return 0, false
			}
		}
	}
	return 0, false
}

// key reads the key at byte off of line li and returns it with the offset
// just after its ":".
func (p *fastParser) key(li, off int) (*ynode, int) {
	l := p.lines[li]
	if c := l[off]; c == '"' || c == '\'' {
		v, end, ok := p.quoted(l, off)
		if !ok || end >= len(l) || l[end] != ':' || (end+1 < len(l) && l[end+1] != ' ') {
			p.fail = true
			return nil, 0
		}
		style := styleSingle
		if c == '"' {
			style = styleDouble
		}
		return p.node(yamlScalar, style, li, off, v), end + 1
	}
	if !plainStart(l, off) {
		p.fail = true
		return nil, 0
	}
	colon, ok := plainKeyEnd(l, off)
	if !ok {
		p.fail = true
		return nil, 0
	}
	k := strings.TrimRight(l[off:colon], " ")
	if len(k) > maxFastKeyLen {
		p.fail = true
		return nil, 0
	}
	return p.node(yamlScalar, stylePlain, li, off, k), colon + 1
}

// plainStart reports whether a plain scalar in the subset may start at at.
func plainStart(l string, at int) bool {
	c := l[at]
	if strings.IndexByte(fastIndicators, c) < 0 {
		return true
	}
	// "-x" is a plain scalar; "?x" and ":x" are too, but rare: fall back.
	return c == '-' && at+1 < len(l) && l[at+1] != ' '
}

// inlineValue reads the value starting at byte at of line li (after
// "key: " or "- "); indent is the indentation of the collection holding
// it, which block scalars are indented from.
func (p *fastParser) inlineValue(li, at, indent int) *ynode {
	l := p.lines[li]
	switch c := l[at]; c {
	case '|', '>':
		return p.blockScalar(li, at, indent)
	case '"', '\'':
		v, end, ok := p.quoted(l, at)
		if !ok || !trailer(l, end) {
			p.fail = true
			return nil
		}
		style := styleSingle
		if c == '"' {
			style = styleDouble
		}
		return p.node(yamlScalar, style, li, at, v)
	case '[', '{':
		n, end := p.flow(li, at, 0)
		if p.fail || !trailer(l, end) {
			p.fail = true
			return nil
		}
		return n
	}
	if !plainStart(l, at) {
		p.fail = true
		return nil
	}
	end := len(l)
	for j := at + 1; j < len(l); j++ {
		if l[j] == '#' && l[j-1] == ' ' {
			end = j
			break
		}
	}
	v := strings.TrimRight(l[at:end], " ")
	if strings.Contains(v, ": ") || strings.HasSuffix(v, ":") {
		p.fail = true // a mapping where a scalar was expected: a YAML error
		return nil
	}
	if end == len(l) {
		v = p.plainContinuation(v, indent)
	}
	if p.fail {
		return nil
	}
	return p.node(yamlScalar, stylePlain, li, at, v)
}

// trailer reports whether only spaces and a comment follow byte end.
func trailer(l string, end int) bool {
	j := skipSpaces(l, end)
	return j == len(l) || (l[j] == '#' && j > end)
}
