package config

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// InlineMarker starts an inline ignore inside a '#' comment of a scanned
// file written by people (YAML CI configuration, Dockerfiles; the caller
// decides which files may carry them):
//
//	# buildwall: ignore[rule-id] reason
//	# buildwall: ignore[rule-a,rule-b] until=2027-01-31 reason
//	uses: some/action@v1 # buildwall: ignore[rule-id] reason
//
// It suppresses findings of the named rules on the comment's own line and
// on the line below it.
const InlineMarker = "buildwall:"

// Inline is one inline ignore comment.
type Inline struct {
	Rules  []string
	Reason string
	// Until is the last day (UTC) the ignore applies; zero for no end.
	Until time.Time
	// Line and Column locate the marker (1-based).
	Line, Column int
	// covers is the SHA-256 of the lines the ignore covers (its own and
	// the next, trimmed), part of Key: the same comment moved above another
	// line is another ignore.
	covers string
}

// Covers reports whether the ignore applies to a finding of rule on line.
func (in *Inline) Covers(rule string, line int) bool {
	if line != in.Line && line != in.Line+1 {
		return false
	}
	for _, r := range in.Rules {
		if r == rule {
			return true
		}
	}
	return false
}

// Key identifies the ignore, to compare it with the same file in another
// revision: its rules, until and reason and the text of the two lines it
// covers, but not their line numbers, so that edits elsewhere in the file
// keep it, while the same comment moved above another line does not.
func (in *Inline) Key() string {
	u := ""
	if !in.Until.IsZero() {
		u = in.Until.Format(time.DateOnly)
	}
	return strings.Join(in.Rules, ",") + "\x00" + u + "\x00" + in.Reason + "\x00" + in.covers
}

// InlineError is a malformed inline ignore: it suppresses nothing.
type InlineError struct {
	Line, Column int
	Msg          string
}

// maxInline bounds the inline ignores read from one file so that a
// hostile file cannot make the matching quadratic.
const maxInline = 1000

// ParseInline returns the inline ignores of data and the malformed ones.
// Only a marker that follows '#' and spaces on its line counts; the cost
// is linear in len(data) and a file without the marker is rejected by one
// bytes.Index.
func ParseInline(data []byte) ([]Inline, []InlineError) {
	var out []Inline
	var bad []InlineError
	marker := []byte(InlineMarker)
	line, lineStart, scanned := 1, 0, 0
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], marker)
		if i < 0 {
			break
		}
		at := off + i
		off = at + len(marker)
		line += bytes.Count(data[scanned:at], []byte("\n"))
		if nl := bytes.LastIndexByte(data[scanned:at], '\n'); nl >= 0 {
			lineStart = scanned + nl + 1
		}
		scanned = at
		if !afterHash(data[lineStart:at]) {
			continue
		}
		end := bytes.IndexByte(data[at:], '\n')
		if end < 0 {
			end = len(data) - at
		}
		text := strings.TrimRight(string(data[off:at+end]), "\r")
		col := at - lineStart + 1
		if len(out)+len(bad) >= maxInline {
			bad = append(bad, InlineError{Line: line, Column: col, Msg: fmt.Sprintf("more than %d inline ignores in one file; the rest are not read", maxInline)})
			break
		}
		in, err := parseInline(text)
		if err != nil {
			bad = append(bad, InlineError{Line: line, Column: col, Msg: err.Error()})
			continue
		}
		in.Line, in.Column = line, col
		next := data[min(at+end+1, len(data)):]
		if nl := bytes.IndexByte(next, '\n'); nl >= 0 {
			next = next[:nl]
		}
		h := sha256.New() // a digest: covered lines may be long
		h.Write(bytes.TrimSpace(data[lineStart : at+end]))
		h.Write([]byte{'\n'})
		h.Write(bytes.TrimSpace(next))
		in.covers = string(h.Sum(nil))
		out = append(out, in)
	}
	return out, bad
}

// afterHash reports whether prefix (the line up to the marker) ends in '#'
// followed only by spaces or tabs.
func afterHash(prefix []byte) bool {
	p := bytes.TrimRight(prefix, " \t")
	return len(p) > 0 && p[len(p)-1] == '#'
}

// parseInline parses what follows the marker: " ignore[r1,r2] [until=DATE] reason".
func parseInline(text string) (Inline, error) {
	var in Inline
	rest, ok := strings.CutPrefix(strings.TrimLeft(text, " \t"), "ignore[")
	if !ok {
		return in, fmt.Errorf("want %q", "# buildwall: ignore[rule-id] reason")
	}
	list, rest, ok := strings.Cut(rest, "]")
	if !ok {
		return in, fmt.Errorf("ignore[ has no closing ]")
	}
	for _, r := range strings.Split(list, ",") {
		if r = strings.TrimSpace(r); r != "" {
			in.Rules = append(in.Rules, r)
		}
	}
	if len(in.Rules) == 0 {
		return in, fmt.Errorf("ignore[] names no rule")
	}
	rest = strings.TrimSpace(rest)
	if d, ok := strings.CutPrefix(rest, "until="); ok {
		date, after, _ := strings.Cut(d, " ")
		t, err := ParseUntil(date)
		if err != nil {
			return in, fmt.Errorf("until: %v", err)
		}
		in.Until, rest = t, strings.TrimSpace(after)
	}
	if rest == "" {
		return in, fmt.Errorf("inline ignore of %s has no reason: say why the finding is acceptable", strings.Join(in.Rules, ","))
	}
	in.Reason = rest
	return in, nil
}
