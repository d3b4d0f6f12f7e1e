package pin

import (
	"regexp"
	"slices"
	"strings"
)

// splice replaces b[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// apply returns b with the splices (non-overlapping, any order) applied;
// every byte outside them is kept.
func apply(b []byte, ss []splice) []byte {
	slices.SortFunc(ss, func(x, y splice) int { return x.start - y.start })
	out := make([]byte, 0, len(b)+64*len(ss))
	at := 0
	for _, s := range ss {
		if s.start < at {
			continue // overlapping: cannot happen for distinct values
		}
		out = append(out, b[at:s.start]...)
		out = append(out, s.text...)
		at = s.end
	}
	return append(out, b[at:]...)
}

// exactVersion matches a full release version such as v4.2.1 or 1.2.3-rc.1.
var exactVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$`)

// versionLike matches the first word of a comment that names a version.
var versionLike = regexp.MustCompile(`^v?\d`)

// actionSplices pins an action reference to sha and writes the ref as the
// trailing comment: an existing comment that is an exact version refining
// the ref (v4 → "# v4.2.1") is kept; one whose first word is another
// version has that word replaced; any other comment keeps its text after
// the ref ("# v4 pinned for X").
func actionSplices(b []byte, r *Ref, sha string) []splice {
	at := r.start + strings.LastIndexByte(r.Text, '@') + 1
	ss := []splice{{start: at, end: r.end, text: sha}}
	ref := r.Uses.Ref
	switch {
	case r.after < 0:
		// Flow mapping or sequence: a comment would swallow the rest of
		// the line.
	case r.commentStart < 0:
		ss = append(ss, splice{start: r.after, end: r.after, text: " # " + ref})
	default:
		old := string(b[r.commentStart:r.commentEnd])
		first, _, _ := strings.Cut(old, " ")
		switch {
		case old == ref || exactVersion.MatchString(first) && strings.HasPrefix(first, ref+"."):
		case versionLike.MatchString(first):
			ss = append(ss, splice{start: r.commentStart, end: r.commentStart + len(first), text: ref})
		default:
			ss = append(ss, splice{start: r.commentStart, end: r.commentStart, text: ref + " "})
		}
	}
	return ss
}

// imageSplice appends @digest to an image reference (after its tag).
func imageSplice(r *Ref, digest string) splice {
	return splice{start: r.end, end: r.end, text: "@" + digest}
}
