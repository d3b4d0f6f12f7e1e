package yarn

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// classicEntry is one entry of a classic lockfile while it is being read.
type classicEntry struct {
	descriptors []string
	line        int
	version     string
	resolved    string
	integrity   string
	hasVersion  bool
}

// classicParser reads a classic (v1) yarn.lock line by line in one pass.
type classicParser struct {
	path    string
	lf      *lockfile.Lockfile
	cur     *classicEntry
	inBlock bool // the current entry has an open "key:" sub-block
}

func parseClassic(path string, data []byte) (*lockfile.Lockfile, error) {
	p := &classicParser{
		path: path,
		lf: &lockfile.Lockfile{
			Path:        path,
			Format:      "yarn",
			Version:     "1",
			Descriptors: map[string]string{},
		},
	}
	// One copy of the input; every line and value is a substring of it.
	text := string(data)
	lineNo := 0
	for start := 0; start < len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		lineNo++
		line := text[start:end]
		start = end + 1
		if err := p.line(lineNo, strings.TrimSuffix(line, "\r")); err != nil {
			return nil, err
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.lf, nil
}

func (p *classicParser) errorf(line, col int, format string, args ...any) error {
	return &lockfile.ParseError{Path: p.path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// line handles one line of input.
func (p *classicParser) line(n int, s string) error {
	indent := 0
	for indent < len(s) && s[indent] == ' ' {
		indent++
	}
	rest := strings.TrimRight(s[indent:], " \t")
	if rest == "" || rest[0] == '#' {
		return nil
	}
	if rest[0] == '\t' {
		return p.errorf(n, indent+1, "tab in indentation")
	}
	switch indent {
	case 0:
		if err := p.finish(); err != nil {
			return err
		}
		return p.header(n, rest)
	case 2:
		if p.cur == nil {
			return p.errorf(n, 3, "field outside of any entry")
		}
		return p.field(n, rest)
	case 4:
		if p.cur == nil || !p.inBlock {
			return p.errorf(n, 5, "unexpected indentation")
		}
		_, _, _, err := p.keyValue(n, 5, rest)
		return err
	default:
		return p.errorf(n, indent+1, "unexpected indentation of %d spaces", indent)
	}
}

// header starts a new entry from `"a@^1", a@~1.1:`.
func (p *classicParser) header(n int, s string) error {
	if !strings.HasSuffix(s, ":") {
		return p.errorf(n, len(s), "entry header does not end with ':'")
	}
	body := s[:len(s)-1]
	e := &classicEntry{line: n}
	for i := 0; i < len(body); {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		var desc string
		if i < len(body) && body[i] == '"' {
			q, next, err := p.quoted(n, body, i)
			if err != nil {
				return err
			}
			desc, i = q, next
		} else {
			j := strings.IndexByte(body[i:], ',')
			if j < 0 {
				j = len(body) - i
			}
			desc, i = strings.TrimRight(body[i:i+j], " "), i+j
		}
		if desc == "" {
			return p.errorf(n, i+1, "empty descriptor in entry header")
		}
		e.descriptors = append(e.descriptors, desc)
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i < len(body) {
			if body[i] != ',' {
				return p.errorf(n, i+1, "expected ',' between descriptors")
			}
			i++
		}
	}
	if len(e.descriptors) == 0 {
		return p.errorf(n, 1, "entry header has no descriptor")
	}
	p.cur, p.inBlock = e, false
	return nil
}

// field reads one `key value` or `key:` line of the current entry.
func (p *classicParser) field(n int, s string) error {
	key, val, block, err := p.keyValue(n, 3, s)
	if err != nil {
		return err
	}
	p.inBlock = block
	if block {
		return nil
	}
	switch key {
	case "version":
		p.cur.version, p.cur.hasVersion = val, true
	case "resolved":
		p.cur.resolved = val
	case "integrity":
		p.cur.integrity = val
	}
	return nil
}

// keyValue splits `key value`, `key: value` or `key:` (block is true). col is
// the 1-based column of s in its line, for error positions.
func (p *classicParser) keyValue(n, col int, s string) (key, val string, block bool, err error) {
	i := 0
	if s[0] == '"' {
		key, i, err = p.quoted(n, s, 0)
		if err != nil {
			return "", "", false, err
		}
	} else {
		for i < len(s) && s[i] != ' ' && s[i] != ':' {
			i++
		}
		key = s[:i]
	}
	rest := s[i:]
	if rest == ":" {
		return key, "", true, nil
	}
	rest = strings.TrimPrefix(rest, ":")
	if rest == "" || rest[0] != ' ' {
		return "", "", false, p.errorf(n, col+i, "expected a value after %q", key)
	}
	rest = strings.TrimLeft(rest, " ")
	vcol := col + len(s) - len(rest)
	if rest[0] == '"' {
		v, next, err := p.quoted(n, rest, 0)
		if err != nil {
			return "", "", false, err
		}
		if next != len(rest) {
			return "", "", false, p.errorf(n, vcol+next, "unexpected text after quoted value")
		}
		return key, v, false, nil
	}
	return key, rest, false, nil
}

// quoted reads the double-quoted string starting at s[i] and returns its
// value and the index just after the closing quote.
func (p *classicParser) quoted(n int, s string, i int) (string, int, error) {
	j := i + 1
	for j < len(s) && s[j] != '"' {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(s) {
		return "", 0, p.errorf(n, i+1, "unterminated quoted string")
	}
	v, err := strconv.Unquote(s[i : j+1])
	if err != nil {
		return "", 0, p.errorf(n, i+1, "invalid quoted string %s", s[i:j+1])
	}
	return v, j + 1, nil
}

// finish turns the current entry into a Package.
func (p *classicParser) finish() error {
	e := p.cur
	if e == nil {
		return nil
	}
	p.cur = nil
	if !e.hasVersion {
		return p.errorf(e.line, 1, "entry %q has no version", e.descriptors[0])
	}
	alias, rng := splitDescriptor(e.descriptors[0])
	name := alias
	if real, ok := strings.CutPrefix(rng, "npm:"); ok && strings.Contains(real[min(1, len(real)):], "@") {
		name, rng = splitDescriptor(real)
	}
	if name == alias {
		alias = ""
	}
	rng = strings.TrimPrefix(rng, "npm:")
	pkg := lockfile.Package{
		Name:      name,
		Alias:     alias,
		Version:   e.version,
		Resolved:  e.resolved,
		Integrity: e.integrity,
		Line:      e.line,
		Column:    1,
	}
	if e.resolved != "" {
		pkg.Source = classifyURL(e.resolved)
	} else {
		pkg.Source = classifyRange(rng)
	}
	if pkg.Source != lockfile.SourceGit {
		// The fragment of a git URL names a commit and stays; on a tarball
		// URL it is the tarball's SHA-1.
		if url, frag, ok := strings.Cut(e.resolved, "#"); ok {
			pkg.Resolved = url
			if pkg.Integrity == "" && isHex40(frag) {
				sum, _ := hex.DecodeString(frag)
				pkg.Integrity = "sha1-" + base64.StdEncoding.EncodeToString(sum)
			}
		}
	}
	p.lf.Packages = append(p.lf.Packages, pkg)
	for _, d := range e.descriptors {
		p.lf.Descriptors[d] = e.version
	}
	return nil
}

// classifyRange classifies an entry without a resolved URL by its range: a
// protocol says where it comes from; a plain semver range or tag is fetched
// from the registry.
func classifyRange(rng string) lockfile.Source {
	if s := classifyURL(rng); s != lockfile.SourceUnknown {
		return s
	}
	if strings.Contains(rng, ":") || strings.Contains(rng, "/") {
		// user/repo GitHub shorthand or an unknown protocol.
		if !strings.Contains(rng, ":") {
			return lockfile.SourceGit
		}
		return lockfile.SourceUnknown
	}
	return lockfile.SourceRegistry
}
