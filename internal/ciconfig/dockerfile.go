package ciconfig

// The Dockerfile parser is written by hand instead of using moby/buildkit's
// parser: buildkit pulls in a large dependency tree (containerd, grpc,
// protobuf) for what is a line-oriented format, and it does not keep the
// byte offsets rules need to point inside a RUN script. This one is small,
// strict (unknown instructions, unterminated heredocs and instructions
// before FROM are errors, as for docker build) and fuzzed.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Dockerfile is a parsed Dockerfile or Containerfile.
type Dockerfile struct {
	*Source
	// Escape is the escape character: '\\' unless a `# escape=` directive
	// sets '`'.
	Escape byte
	// Instructions are every instruction in source order.
	Instructions []*Instruction
	// GlobalArgs are the ARG instructions before the first FROM; only they
	// can be used in FROM.
	GlobalArgs []*Instruction
	// Stages are the build stages, one per FROM, in order.
	Stages []*Stage

	names map[string]int // lower-cased AS name -> index of its first stage
}

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	// Cmd is the instruction keyword in upper case (FROM, RUN, ...).
	Cmd string
	// Pos is the position of the keyword.
	Pos Pos
	// Flags are the leading --name[=value] options (FROM --platform=…,
	// COPY --from=…, RUN --mount=…), in order.
	Flags []Flag
	// Args is the text after the keyword and the flags, as written,
	// continuation escapes and newlines included. ArgsOffset is the byte
	// offset of Args[0] in the file, so that Source.PosOf(ArgsOffset+i) is
	// the position of Args[i].
	Args       string
	ArgsOffset int
	// Script is Args with continuation escapes turned into "\\\n" and the
	// comment lines inside a continuation blanked, byte for byte the same
	// length as Args (offsets carry over). Shell-form scripts are matched
	// against it.
	Script string
	// Exec is set when the arguments are a JSON array (exec form); Argv
	// holds its elements.
	Exec bool
	Argv []string
	// Heredocs are the here-documents of RUN, COPY and ADD (<<EOF).
	Heredocs []Heredoc
}

// Flag is one --name[=value] option of an instruction.
type Flag struct {
	Name  string
	Value String
}

// Heredoc is one here-document body.
type Heredoc struct {
	// Name is the delimiter word.
	Name string
	// Body is the text between the instruction line and the delimiter
	// line; BodyOffset is its byte offset in the file.
	Body       string
	BodyOffset int
}

// Stage is one build stage (a FROM instruction).
type Stage struct {
	From *Instruction
	// Index is the stage's 0-based number (COPY --from=0 refers to it).
	Index int
	// Image is the base as written; Image.Pos is its position.
	Image String
	// Resolved is Image with the global ARGs' defaults substituted.
	// Unresolved names the variables that had no value ("" when none).
	Resolved   string
	Unresolved []string
	// Name is the AS name, nil when the stage has none.
	Name *String
	// Base is the earlier stage this one builds on (FROM <stage name>),
	// -1 when the base is an image.
	Base int
	// Scratch is set for FROM scratch (no base image).
	Scratch bool
}

// dockerCommands are the instructions docker build accepts.
var dockerCommands = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true,
	"EXPOSE": true, "FROM": true, "HEALTHCHECK": true, "LABEL": true, "MAINTAINER": true,
	"ONBUILD": true, "RUN": true, "SHELL": true, "STOPSIGNAL": true, "USER": true,
	"VOLUME": true, "WORKDIR": true,
}

var heredocMarker = regexp.MustCompile(`<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)(["']?)`)

// ParseDockerfile parses a Dockerfile. It returns a *ParseError for an
// unknown instruction, an instruction other than ARG before the first FROM,
// a FROM without an image, an unterminated heredoc, a bad escape directive
// or a file without FROM. Global ARG defaults are substituted into FROM
// images ($VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}).
func ParseDockerfile(src []byte) (*Dockerfile, error) {
	d := &Dockerfile{Source: NewSource(src), Escape: '\\', names: map[string]int{}}
	p := dockerParser{d: d, src: string(src)}
	if err := p.parse(); err != nil {
		return d, err
	}
	return d, nil
}

type dockerParser struct {
	d    *Dockerfile
	args map[string]*string // global ARG defaults, set at the first FROM
	src  string
	off  int // start of the next line
}

// line returns the line starting at p.off (without its newline) and
// advances past it.
func (p *dockerParser) line() (start int, text string) {
	start = p.off
	end := strings.IndexByte(p.src[start:], '\n')
	if end < 0 {
		p.off = len(p.src)
		return start, strings.TrimSuffix(p.src[start:], "\r")
	}
	p.off = start + end + 1
	return start, strings.TrimSuffix(p.src[start:start+end], "\r")
}

func (p *dockerParser) errorf(off int, format string, args ...any) *ParseError {
	return &ParseError{Pos: p.d.PosOf(off), Msg: fmt.Sprintf(format, args...)}
}

func (p *dockerParser) parse() error {
	if !utf8.ValidString(p.src) {
		return &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: "the file is not valid UTF-8"}
	}
	if err := p.directives(); err != nil {
		return err
	}
	for p.off < len(p.src) {
		start, text := p.line()
		trimmed := strings.TrimLeft(text, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		in, err := p.instruction(start + len(text) - len(trimmed))
		if err != nil {
			return err
		}
		if err := p.add(in); err != nil {
			return err
		}
	}
	if len(p.d.Stages) == 0 {
		return &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: "no FROM instruction: the Dockerfile has no build stage"}
	}
	return nil
}

var directiveLine = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z_-]*)\s*=\s*(.*?)\s*$`)

// directives reads the parser directives at the top of the file
// (`# escape=`, `# syntax=`); they end at the first line that is not one.
func (p *dockerParser) directives() error {
	for p.off < len(p.src) {
		save := p.off
		start, text := p.line()
		m := directiveLine.FindStringSubmatch(strings.TrimLeft(text, " \t"))
		if m == nil {
			p.off = save
			return nil
		}
		if strings.EqualFold(m[1], "escape") {
			switch m[2] {
			case "\\":
				p.d.Escape = '\\'
			case "`":
				p.d.Escape = '`'
			default:
				return p.errorf(start, "invalid escape directive %q: only \\ and ` are allowed", m[2])
			}
		}
	}
	return nil
}

// continued reports whether line ends with the escape character (trailing
// blanks allowed) and returns the offset of that character in line.
func (p *dockerParser) continued(line string) (int, bool) {
	t := strings.TrimRight(line, " \t")
	if t == "" || t[len(t)-1] != p.d.Escape {
		return 0, false
	}
	return len(t) - 1, true
}

// instruction reads the instruction whose keyword starts at kw (on the line
// just read) with its continuation lines and heredocs.
func (p *dockerParser) instruction(kw int) (*Instruction, error) {
	lineEnd := p.off // end of the logical instruction so far
	// Extend over continuation lines; remember what to blank in Script.
	type blank struct{ start, end int }
	var blanks []blank
	var escapes []int
	first := p.src[kw:lineEnd]
	first = strings.TrimSuffix(strings.TrimSuffix(first, "\n"), "\r")
	cur := first
	curStart := kw
	for {
		i, ok := p.continued(cur)
		if !ok || p.off >= len(p.src) {
			if ok {
				escapes = append(escapes, curStart+i)
			}
			break
		}
		escapes = append(escapes, curStart+i)
		// Skip comment and empty lines inside the continuation.
		for p.off < len(p.src) {
			save := p.off
			s, text := p.line()
			tt := strings.TrimLeft(text, " \t")
			if tt == "" || tt[0] == '#' {
				blanks = append(blanks, blank{s, s + len(text)})
				continue
			}
			p.off = save
			break
		}
		if p.off >= len(p.src) {
			break
		}
		curStart, cur = p.line()
	}
	end := p.off
	for end > kw && (p.src[end-1] == '\n' || p.src[end-1] == '\r') {
		end--
	}
	text := p.src[kw:end]
	n := 0
	for n < len(text) && text[n] != ' ' && text[n] != '\t' && text[n] != '\n' && text[n] != '\r' && text[n] != p.d.Escape {
		n++
	}
	in := &Instruction{Cmd: strings.ToUpper(text[:n]), Pos: p.d.PosOf(kw)}
	if !dockerCommands[in.Cmd] {
		return nil, p.errorf(kw, "unknown instruction %q", text[:n])
	}
	// Flags, then arguments.
	at := kw + n
	for {
		at = p.skipBlank(at, end)
		if !strings.HasPrefix(p.src[at:end], "--") {
			break
		}
		fe := at
		for fe < end && !isDockerBlank(p.src[fe]) {
			fe++
		}
		tok := p.src[at+2 : fe]
		f := Flag{Name: tok}
		if name, val, ok := strings.Cut(tok, "="); ok {
			f.Name = name
			f.Value = String{Value: val, Pos: p.d.PosOf(at + 2 + len(name) + 1)}
		}
		in.Flags = append(in.Flags, f)
		at = fe
	}
	in.Args, in.ArgsOffset = p.src[at:end], at
	script := []byte(in.Args)
	for _, e := range escapes {
		if e >= at && e < end {
			script[e-at] = '\\'
		}
	}
	for _, b := range blanks {
		for i := max(b.start, at); i < min(b.end, end); i++ {
			script[i-at] = ' '
		}
	}
	in.Script = string(script)
	if a := strings.TrimSpace(in.Args); strings.HasPrefix(a, "[") {
		var argv []string
		if json.Unmarshal([]byte(a), &argv) == nil {
			in.Exec, in.Argv = true, argv
		}
	}
	if in.Cmd == "RUN" || in.Cmd == "COPY" || in.Cmd == "ADD" {
		if err := p.heredocs(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// quoteState tracks whether a scan of a shell line is inside a single- or
// double-quoted string (q is the open quote, 0 outside).
type quoteState struct{ q byte }

// advance scans s[from:to] and returns where the scan stopped (to, or one
// past it after an escape at to-1), so that successive calls stay linear.
func (st *quoteState) advance(s string, from, to int) int {
	i := from
	for ; i < to; i++ {
		switch c := s[i]; {
		case st.q == 0 && (c == '"' || c == '\''):
			st.q = c
		case st.q == '"' && c == '\\':
			i++
		case c == st.q:
			st.q = 0
		}
	}
	return i
}

func isDockerBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipBlank skips blanks and escaped newlines from at up to end.
func (p *dockerParser) skipBlank(at, end int) int {
	for at < end {
		switch c := p.src[at]; {
		case isDockerBlank(c):
			at++
		case c == p.d.Escape && at+1 < end && (p.src[at+1] == '\n' || p.src[at+1] == '\r'):
			at++
		default:
			return at
		}
	}
	return at
}

// heredocs reads the bodies of the here-documents opened on in's line.
func (p *dockerParser) heredocs(in *Instruction) error {
	if in.Exec {
		return nil
	}
	var q quoteState
	at := 0
	for _, ix := range heredocMarker.FindAllStringSubmatchIndex(in.Args, -1) {
		m := func(g int) string { return in.Args[ix[2*g]:ix[2*g+1]] }
		at = q.advance(in.Args, at, ix[0])
		if m(2) != m(4) || q.q != 0 {
			continue // mismatched quotes, or inside a quoted string: not a marker
		}
		strip, name := m(1) == "-", m(3)
		h := Heredoc{Name: name, BodyOffset: p.off}
		for {
			if p.off >= len(p.src) {
				return p.errorf(in.ArgsOffset, "heredoc %s is not terminated (no line %q)", name, name)
			}
			start, text := p.line()
			t := text
			if strip {
				t = strings.TrimLeft(t, "\t")
			}
			if t == name {
				h.Body = p.src[h.BodyOffset:start]
				break
			}
		}
		in.Heredocs = append(in.Heredocs, h)
	}
	return nil
}

// add records in, building stages from FROM.
func (p *dockerParser) add(in *Instruction) error {
	d := p.d
	d.Instructions = append(d.Instructions, in)
	switch {
	case in.Cmd == "FROM":
		return p.from(in)
	case len(d.Stages) == 0 && in.Cmd == "ARG":
		d.GlobalArgs = append(d.GlobalArgs, in)
	case len(d.Stages) == 0:
		return &ParseError{Pos: in.Pos, Msg: in.Cmd + " before the first FROM: only ARG may precede FROM"}
	}
	return nil
}

func (p *dockerParser) from(in *Instruction) error {
	d := p.d
	words := dockerWords(in.Args, in.ArgsOffset)
	if len(words) == 0 {
		return &ParseError{Pos: in.Pos, Msg: "FROM requires an image"}
	}
	st := &Stage{From: in, Index: len(d.Stages), Base: -1, Image: String{Value: words[0].s, Pos: d.PosOf(words[0].off)}}
	switch {
	case len(words) == 1:
	case len(words) == 3 && strings.EqualFold(words[1].s, "AS"):
		st.Name = &String{Value: words[2].s, Pos: d.PosOf(words[2].off)}
	default:
		return &ParseError{Pos: d.PosOf(words[1].off), Msg: "FROM takes an image and an optional AS name"}
	}
	if p.args == nil { // the global ARGs are complete at the first FROM
		p.args = d.argDefaults()
	}
	st.Resolved, st.Unresolved = ExpandVars(st.Image.Value, func(name string) (*string, bool) {
		v, ok := p.args[name]
		return v, ok
	})
	if strings.EqualFold(st.Resolved, "scratch") {
		st.Scratch = true
	} else if i := d.stageIndex(st.Resolved); i >= 0 {
		st.Base = i
	}
	if st.Name != nil {
		if _, dup := d.names[strings.ToLower(st.Name.Value)]; !dup {
			d.names[strings.ToLower(st.Name.Value)] = st.Index
		}
	}
	d.Stages = append(d.Stages, st)
	return nil
}

// stageIndex returns the index of the stage named name so far (stage
// names are case-insensitive), or -1.
func (d *Dockerfile) stageIndex(name string) int {
	if i, ok := d.names[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// StageRef reports whether ref (a FROM image or a COPY --from value) names
// a stage whose FROM comes before instruction in: by AS name or by index.
// It takes constant time (a Dockerfile with very many stages stays linear
// to check).
func (d *Dockerfile) StageRef(ref string, in *Instruction) bool {
	i, ok := d.names[strings.ToLower(ref)]
	if !ok {
		n, err := strconv.Atoi(ref)
		if err != nil || n < 0 || n >= len(d.Stages) || strconv.Itoa(n) != ref {
			return false
		}
		i = n
	}
	return d.Stages[i].From.ArgsOffset < in.ArgsOffset
}

type dockerWord struct {
	s   string
	off int
}

// dockerWords splits args at blanks (and escaped newlines) keeping offsets.
func dockerWords(args string, base int) []dockerWord {
	var out []dockerWord
	i := 0
	for i < len(args) {
		for i < len(args) && (isDockerBlank(args[i]) || (args[i] == '\\' || args[i] == '`') && i+1 < len(args) && (args[i+1] == '\n' || args[i+1] == '\r')) {
			i++
		}
		j := i
		for j < len(args) && !isDockerBlank(args[j]) {
			j++
		}
		if j > i {
			out = append(out, dockerWord{args[i:j], base + i})
		}
		i = j
	}
	return out
}

// argDefaults returns the global ARGs' defaults; an ARG without one maps to
// nil.
func (d *Dockerfile) argDefaults() map[string]*string {
	m := map[string]*string{}
	for _, a := range d.GlobalArgs {
		for _, w := range dockerWords(a.Args, a.ArgsOffset) {
			name, val, ok := strings.Cut(w.s, "=")
			if ok {
				v := strings.Trim(val, `"'`)
				m[name] = &v
			} else {
				m[name] = nil
			}
		}
	}
	return m
}

var varRef = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// MaxExpandedLen bounds what ExpandVars produces: one long default used
// many times would make the result quadratic in the input (a 128 KB
// Dockerfile expanded to gigabytes). Image references are far shorter.
const MaxExpandedLen = 64 << 10

// ExpandVars substitutes $VAR and ${VAR[:-+]word} in s, looking each name
// up with lookup (declared reports whether the variable exists; a nil value
// is one declared without a value), and lists the variables that had no
// value (they expand to ""), each once, as Dockerfile ARG and GitLab
// variables expansion do. When the result would exceed MaxExpandedLen
// bytes, it returns s unexpanded and no missing names: callers then see
// the references themselves, which never resolve to a pinned image.
func ExpandVars(s string, lookup func(name string) (value *string, declared bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var missing []string
	var b strings.Builder
	last := 0
	for _, m := range varRef.FindAllStringSubmatchIndex(s, -1) {
		group := func(g int) string {
			if m[2*g] < 0 {
				return ""
			}
			return s[m[2*g]:m[2*g+1]]
		}
		b.WriteString(s[last:m[0]])
		last = m[1]
		name, op, word := group(1), group(2), group(3)
		if name == "" {
			name = group(4)
		}
		v, declared := lookup(name)
		set := declared && v != nil
		switch op {
		case ":-", "-":
			if set && (op == "-" || *v != "") {
				word = *v
			}
			b.WriteString(word)
		case ":+", "+":
			if set && (op == "+" || *v != "") {
				b.WriteString(word)
			}
		default:
			if set {
				b.WriteString(*v)
			} else if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
		if b.Len() > MaxExpandedLen {
			return s, nil
		}
	}
	b.WriteString(s[last:])
	if b.Len() > MaxExpandedLen {
		return s, nil
	}
	return b.String(), missing
}
