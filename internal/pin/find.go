package pin

import (
	"bytes"
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
)

// FileKind is the kind of CI file a path names.
type FileKind int

// Kinds of files pin rewrites.
const (
	NotCI FileKind = iota
	Workflow
	Action
	Dockerfile
	GitLabCI
)

// KindOf classifies a slash path the way buildwall scan does:
// .github/workflows/*.yml|yaml, action.yml|yaml anywhere, Dockerfile,
// Containerfile, *.Dockerfile, Dockerfile.* and *.gitlab-ci.yml.
func KindOf(p string) FileKind {
	base := path.Base(p)
	dir := path.Dir(p)
	switch {
	case (strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".yaml")) &&
		(dir == ".github/workflows" || strings.HasSuffix(dir, "/.github/workflows")):
		return Workflow
	case base == "action.yml" || base == "action.yaml":
		return Action
	case strings.HasSuffix(base, ".gitlab-ci.yml"):
		return GitLabCI
	case base == "Dockerfile" || base == "Containerfile" || strings.HasSuffix(base, ".Dockerfile"):
		return Dockerfile
	case strings.HasSuffix(base, ".dockerignore"):
		return NotCI
	case strings.HasPrefix(base, "Dockerfile.") || strings.HasPrefix(base, "Containerfile."):
		return Dockerfile
	}
	return NotCI
}

// RefKind tells an action reference from an image reference.
type RefKind int

// Kinds of references.
const (
	ActionRef RefKind = iota
	ImageRef
)

// Ref is one mutable reference found in a file, with the byte ranges an
// edit replaces.
type Ref struct {
	Kind RefKind
	// Pos is where the value starts in the file.
	Pos ciconfig.Pos
	// Text is the value as written (decoded).
	Text string
	// Uses is set for ActionRef (owner/repo[/path]@ref).
	Uses ciconfig.Uses
	// Image is set for ImageRef; Docker is set for docker:// uses: values.
	Image  ciconfig.Image
	Docker bool
	// Skip says why the reference cannot be pinned ("" when it can).
	Skip string

	// start and end delimit the value's bytes in the file (quotes
	// excluded); lineEnd is the end of its line (before "\r\n" or "\n").
	start, end, lineEnd int
	// after is where a comment may be inserted (after the closing quote);
	// -1 when the rest of the line is not empty or a comment (flow
	// mappings), so no comment is written.
	after int
	// comment delimits an existing comment's text (after "# "), or -1.
	commentStart, commentEnd int
}

// Find returns the references of the CI file data (of kind k) that are
// not pinned yet, in source order: remote uses: without a full commit SHA,
// docker:// uses: and images without a sha256 digest. References pin cannot
// rewrite (expressions, variables, values written with escapes or over
// several lines) come back with Skip set. A parse error is returned with
// whatever could be read before it.
func Find(k FileKind, data []byte) ([]Ref, error) {
	var strs []located
	var err error
	switch k {
	case Workflow:
		var w *ciconfig.Workflow
		w, err = ciconfig.ParseWorkflow(data)
		if w != nil {
			strs = workflowStrings(w)
		}
	case Action:
		var a *ciconfig.Action
		a, err = ciconfig.ParseAction(data)
		if a != nil {
			strs = actionStrings(a)
		}
	case Dockerfile:
		var d *ciconfig.Dockerfile
		d, err = ciconfig.ParseDockerfile(data)
		if d != nil {
			for _, s := range d.Stages {
				if s.Base < 0 && !s.Scratch {
					strs = append(strs, located{str: &s.Image, image: true})
				}
			}
		}
	case GitLabCI:
		var g *ciconfig.GitLabCI
		g, err = ciconfig.ParseGitLabCI(data)
		if g != nil {
			strs = gitlabStrings(g)
		}
	}
	slices.SortStableFunc(strs, func(a, b located) int {
		return cmp.Or(cmp.Compare(a.str.Pos.Line, b.str.Pos.Line), cmp.Compare(a.str.Pos.Column, b.str.Pos.Column))
	})
	src := ciconfig.NewSource(data)
	var out []Ref
	for _, l := range strs {
		if r, ok := makeRef(src, l); ok {
			out = append(out, r)
		}
	}
	return out, err
}

// located is a value to look at: a uses: value or an image.
type located struct {
	str   *ciconfig.String
	image bool
}

func workflowStrings(w *ciconfig.Workflow) []located {
	var out []located
	for _, j := range w.Jobs {
		if j.Uses != nil {
			out = append(out, located{str: j.Uses})
		}
		if j.Container != nil {
			out = append(out, located{str: j.Container, image: true})
		}
		for _, s := range j.Services {
			if s.Image != nil {
				out = append(out, located{str: s.Image, image: true})
			}
		}
		for _, s := range j.Steps {
			if s.Uses == nil {
				continue
			}
			if vals := matrixValues(j, s.Uses.Value); vals != nil {
				// uses: ${{ matrix.x }}: pin each value where the matrix
				// lists it.
				for i := range vals {
					out = append(out, located{str: &vals[i]})
				}
				continue
			}
			out = append(out, located{str: s.Uses})
		}
	}
	return out
}

// matrixValues returns the matrix values v stands for when v is exactly
// ${{ matrix.<name> }} and the matrix lists them, else nil.
func matrixValues(j *ciconfig.Job, v string) []ciconfig.String {
	inner, ok := strings.CutPrefix(strings.TrimSpace(v), "${{")
	if !ok {
		return nil
	}
	inner, ok = strings.CutSuffix(inner, "}}")
	if !ok {
		return nil
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(inner), "matrix.")
	if !ok || strings.ContainsAny(name, " .()[]|&!=") {
		return nil
	}
	return j.MatrixValues(name)
}

func actionStrings(a *ciconfig.Action) []located {
	if a.Runs == nil {
		return nil
	}
	var out []located
	for _, s := range a.Runs.Steps {
		if s.Uses != nil {
			out = append(out, located{str: s.Uses})
		}
	}
	if a.Runs.Image != nil && strings.HasPrefix(a.Runs.Image.Value, "docker://") {
		out = append(out, located{str: a.Runs.Image})
	}
	return out
}

func gitlabStrings(g *ciconfig.GitLabCI) []located {
	var out []located
	jobs := g.Jobs
	if g.Default != nil {
		jobs = append([]*ciconfig.GitLabJob{g.Default}, jobs...)
	}
	for _, j := range jobs {
		if j.Image != nil {
			out = append(out, located{str: j.Image, image: true})
		}
		for _, s := range j.Services {
			if s != nil {
				out = append(out, located{str: s, image: true})
			}
		}
	}
	return out
}

// makeRef classifies one value; ok is false when it needs no pinning
// (local action, SHA or digest already there, an empty value).
func makeRef(src *ciconfig.Source, l located) (Ref, bool) {
	s := l.str
	r := Ref{Pos: s.Pos, Text: s.Value, Kind: ImageRef, after: -1, commentStart: -1, commentEnd: -1}
	if l.image {
		if s.Value == "" {
			return r, false
		}
		r.Image = ciconfig.ParseImage(s.Value)
		if ciconfig.IsDynamicImage(s.Value) {
			r.Skip = "the image is computed by an expression or variable"
		} else if r.Image.Digest != "" {
			return r, false
		}
	} else {
		r.Uses = ciconfig.ParseUses(s.Value)
		switch r.Uses.Kind {
		case ciconfig.UsesLocal:
			return r, false
		case ciconfig.UsesDocker:
			r.Docker = true
			r.Image = r.Uses.Image
			if r.Image.Digest != "" {
				return r, false
			}
		case ciconfig.UsesRemote:
			r.Kind = ActionRef
			if ciconfig.IsCommitSHA(r.Uses.Ref) {
				return r, false
			}
		case ciconfig.UsesExpression:
			r.Kind = ActionRef
			r.Skip = "the reference is computed by an expression"
		default:
			r.Kind = ActionRef
			r.Skip = "the reference is not owner/repo[/path]@ref"
		}
	}
	if r.Skip == "" && !locate(src, &r) {
		r.Skip = "the value is written with escapes or over several lines; pin it by hand"
	}
	return r, true
}

// locate finds the value's bytes and the rest of its line.
func locate(src *ciconfig.Source, r *Ref) bool {
	b := src.Bytes()
	off := src.Offset(r.Pos)
	if off < 0 || off >= len(b) {
		return false
	}
	start, quote := off, byte(0)
	if c := b[off]; c == '"' || c == '\'' {
		quote, start = c, off+1
	}
	end := start + len(r.Text)
	if end > len(b) || !bytes.Equal(b[start:end], []byte(r.Text)) || bytes.ContainsAny(b[start:end], "\r\n") {
		return false
	}
	after := end
	if quote != 0 {
		if end >= len(b) || b[end] != quote {
			return false
		}
		after = end + 1
	}
	lineEnd := after
	for lineEnd < len(b) && b[lineEnd] != '\n' {
		lineEnd++
	}
	if lineEnd > after && b[lineEnd-1] == '\r' {
		lineEnd--
	}
	r.start, r.end, r.lineEnd = start, end, lineEnd
	rest := b[after:lineEnd]
	trimmed := bytes.TrimLeft(rest, " \t")
	switch {
	case len(bytes.TrimSpace(rest)) == 0:
		r.after = after
	case trimmed[0] == '#' && len(trimmed) < len(rest):
		r.after = after
		cs := lineEnd - len(trimmed) + 1
		for cs < lineEnd && (b[cs] == ' ' || b[cs] == '\t') {
			cs++
		}
		ce := lineEnd
		for ce > cs && (b[ce-1] == ' ' || b[ce-1] == '\t') {
			ce--
		}
		r.commentStart, r.commentEnd = cs, ce
	}
	return true
}
