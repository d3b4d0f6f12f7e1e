package ciconfig

import (
	"bytes"
	"strings"

	"github.com/rhysd/actionlint"
)

// parallelHeader is the start of the synthetic workflow that the nested
// steps of a parallel: step are parsed in: the nested lines are copied at
// their own line numbers and columns, so positions stay those of the file.
const parallelHeader = "on: push\njobs:\n  x:\n    runs-on: x\n    steps:\n"

// expandParallel replaces each `parallel:` step of steps (a step whose
// value is a list of steps run side by side) with the steps it lists, so
// that every rule checks them. The problems of the nested steps are
// returned with their file positions; the positions of the steps expanded
// are added to expanded.
func expandParallel(src *Source, steps []*Step, expanded map[Pos]bool) ([]*Step, []*actionlint.Error) {
	var out []*Step
	var errs []*actionlint.Error
	for _, s := range steps {
		if s.Run != nil || s.Uses != nil {
			out = append(out, s)
			continue
		}
		nested, nerrs, ok := parallelSteps(src, s.Pos)
		if !ok {
			out = append(out, s)
			continue
		}
		expanded[s.Pos] = true
		out = append(out, nested...)
		errs = append(errs, nerrs...)
	}
	return out, errs
}

// parallelKey returns the offset of the `parallel:` key of the step mapping
// at p and the key's indentation, or -1: the key is the step's first key
// or a later key of the same mapping (a line indented like the first key).
func parallelKey(src *Source, p Pos) (int, int) {
	start := src.Offset(p)
	if start < 0 || p.Column < 1 {
		return -1, 0
	}
	indent := p.Column - 1
	b := src.Bytes()
	if bytes.HasPrefix(b[start:], []byte("parallel:")) {
		return start, indent
	}
	off := start
	for {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			return -1, 0
		}
		off += nl + 1
		line := b[off:]
		if e := bytes.IndexByte(line, '\n'); e >= 0 {
			line = line[:e]
		}
		t := bytes.TrimLeft(line, " ")
		if tt := bytes.TrimSpace(t); len(tt) == 0 || tt[0] == '#' {
			continue
		}
		switch in := len(line) - len(t); {
		case in < indent:
			return -1, 0
		case in == indent && bytes.HasPrefix(t, []byte("parallel:")):
			return off + in, indent
		}
	}
}

// parallelSteps parses the block list under the parallel: key of the step
// at p. ok is false when there is no such key or its value is not a block
// list on the following lines.
func parallelSteps(src *Source, p Pos) (steps []*Step, errs []*actionlint.Error, ok bool) {
	off, indent := parallelKey(src, p)
	if off < 0 {
		return nil, nil, false
	}
	b := src.Bytes()
	eol := bytes.IndexByte(b[off:], '\n')
	if eol < 0 {
		return nil, nil, false
	}
	if rest := strings.TrimSpace(string(b[off+len("parallel:") : off+eol])); rest != "" && rest[0] != '#' {
		return nil, nil, false // flow style or a scalar
	}
	first := src.PosOf(off).Line + 1
	if first <= strings.Count(parallelHeader, "\n") {
		return nil, nil, false
	}
	start := off + eol + 1
	end := start
	for end < len(b) {
		next := bytes.IndexByte(b[end:], '\n')
		line := b[end:]
		if next >= 0 {
			line = b[end : end+next]
		}
		t := bytes.TrimLeft(line, " ")
		in := len(line) - len(t)
		if tt := bytes.TrimSpace(t); len(tt) > 0 && tt[0] != '#' {
			if in < indent || in == indent && !bytes.HasPrefix(t, []byte("- ")) && !bytes.Equal(tt, []byte("-")) {
				break
			}
		}
		if next < 0 {
			end = len(b)
			break
		}
		end += next + 1
	}
	doc := make([]byte, 0, len(parallelHeader)+first+end-start)
	doc = append(doc, parallelHeader...)
	for i := strings.Count(parallelHeader, "\n") + 1; i < first; i++ {
		doc = append(doc, '\n')
	}
	doc = append(doc, b[start:end]...)
	aw, aerrs := actionlint.Parse(doc)
	if aw == nil {
		return nil, aerrs, false
	}
	for _, j := range aw.Jobs {
		if j == nil {
			continue
		}
		for _, s := range j.Steps {
			if s != nil {
				steps = append(steps, step(s))
			}
		}
	}
	if len(steps) == 0 {
		return nil, nil, false
	}
	return steps, aerrs, true
}
