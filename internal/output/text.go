package output

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// ANSI SGR sequences used by the text format. Only severities, file headers
// and the summary are colored; the text is identical without colors.
const (
	ansiReset    = "\x1b[0m"
	ansiBold     = "\x1b[1m"
	ansiDim      = "\x1b[2m"
	ansiCritical = "\x1b[1;31m" // bold red
	ansiHigh     = "\x1b[31m"   // red
	ansiMedium   = "\x1b[33m"   // yellow
	ansiLow      = "\x1b[36m"   // cyan
	ansiOK       = "\x1b[32m"   // green
)

func severityColor(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return ansiCritical
	case finding.SeverityHigh:
		return ansiHigh
	case finding.SeverityMedium:
		return ansiMedium
	case finding.SeverityLow:
		return ansiLow
	}
	return ""
}

// writeText renders findings grouped by file, one block per run of equal
// paths in the caller's order, with a blank line between files:
//
//	package-lock.json
//	  12:5  CRITICAL  malicious-package  axios 1.14.1 is malicious (MAL-…)
//	        package: npm axios@1.14.1
//	        fix: remove it and rotate every secret the build could read
//
// then a summary line. Unknown positions print as "-" (no line) or "12"
// (line without column).
func writeText(w0 io.Writer, r Report, o Options) error {
	w, bw := newErrWriter(w0)
	paint := func(code, s string) string {
		if !o.Color || code == "" {
			return s
		}
		return code + s + ansiReset
	}
	writeTextGroups(w, finding.Active(r.Findings), paint)
	c := countFindings(r.Findings)
	if c.total > 0 {
		w.print("\n")
	}
	var sum strings.Builder
	if c.total == 0 {
		sum.WriteString(paint(ansiOK, "no findings"))
		fmt.Fprintf(&sum, " (%s scanned", plural(len(r.Files), "file"))
	} else {
		sum.WriteString(paint(ansiBold, plural(c.total, "finding")))
		fmt.Fprintf(&sum, " (%s, %s, %s, %s) in %s; %s scanned",
			paint(ansiCritical, fmt.Sprintf("%d critical", c.critical)),
			paint(ansiHigh, fmt.Sprintf("%d high", c.high)),
			paint(ansiMedium, fmt.Sprintf("%d medium", c.medium)),
			paint(ansiLow, fmt.Sprintf("%d low", c.low)),
			plural(c.files, "file"), plural(len(r.Files), "file"))
	}
	if n := r.suppressedCount(); n > 0 {
		fmt.Fprintf(&sum, ", %d suppressed", n)
	}
	if c.total == 0 {
		sum.WriteString(")")
	}
	w.print(sum.String() + "\n")
	if r.Incomplete {
		w.print(paint(ansiCritical, incompleteNote) + "\n")
	}
	return w.done(bw)
}

// writeTextGroups writes the findings one group per run of equal paths,
// with a blank line between groups. Runs of groups of at least
// textChunk findings are rendered concurrently, one per CPU, into buffers
// written in order: rendering tens of thousands of findings on one core
// was a fifth of a large scan's wall time.
func writeTextGroups(w *errWriter, fs []finding.Finding, paint func(code, s string) string) {
	const textChunk = 1024
	type chunk struct {
		from, to int
		buf      bytes.Buffer
	}
	var chunks []*chunk
	for start := 0; start < len(fs); {
		c := &chunk{from: start}
		for start < len(fs) && start-c.from < textChunk {
			end := start + 1
			for end < len(fs) && fs[end].Path == fs[start].Path {
				end++
			}
			start = end
		}
		c.to = start
		chunks = append(chunks, c)
	}
	render := func(c *chunk) {
		cw := &errWriter{w: &c.buf}
		for start := c.from; start < c.to; {
			if start > 0 {
				cw.print("\n") // a blank line between files
			}
			end := start + 1
			for end < c.to && fs[end].Path == fs[start].Path {
				end++
			}
			writeTextGroup(cw, fs[start:end], paint)
			start = end
		}
	}
	concurrently(len(chunks), func(i int) { render(chunks[i]) })
	for _, c := range chunks {
		w.Write(c.buf.Bytes())
	}
}

func writeTextGroup(w *errWriter, group []finding.Finding, paint func(code, s string) string) {
	header := group[0].Path
	if header == "" {
		header = "(no file)"
	}
	w.print(paint(ansiBold, sanitize(header)) + "\n")
	locs := make([]string, len(group))
	locWidth, ruleWidth := 0, 0
	for i, f := range group {
		locs[i] = position(f.Location)
		locWidth = max(locWidth, len(locs[i]))
		ruleWidth = max(ruleWidth, utf8.RuneCountInString(sanitize(f.Rule)))
	}
	const sevWidth = len("CRITICAL")
	indent := strings.Repeat(" ", 2+locWidth+2)
	for i, f := range group {
		sev := strings.ToUpper(f.Severity.String())
		rule := sanitize(f.Rule)
		lines := strings.Split(strings.ReplaceAll(f.Message, "\r\n", "\n"), "\n")
		w.printf("  %-*s  %s%s  %s%s  %s\n",
			locWidth, locs[i],
			paint(severityColor(f.Severity), sev), strings.Repeat(" ", max(0, sevWidth-len(sev))),
			rule, strings.Repeat(" ", max(0, ruleWidth-utf8.RuneCountInString(rule))),
			sanitize(lines[0]))
		for _, l := range lines[1:] {
			w.print(indent + sanitize(l) + "\n")
		}
		if f.Package != nil {
			w.print(indent + paint(ansiDim, "package: ") + sanitize(packageLabel(f.Package)) + "\n")
		}
		if f.Fix != "" {
			w.print(indent + paint(ansiDim, "fix: ") + sanitize(oneLine(f.Fix)) + "\n")
		}
	}
}

// position renders a 1-based line:column, "line" when the column is unknown,
// and "-" when the line is unknown.
func position(l finding.Location) string {
	switch {
	case l.Line <= 0:
		return "-"
	case l.Column <= 0:
		return strconv.Itoa(l.Line)
	default:
		return strconv.Itoa(l.Line) + ":" + strconv.Itoa(l.Column)
	}
}

// packageLabel renders "npm axios@1.14.1" (ecosystem first when known).
func packageLabel(p *finding.Package) string {
	if p.Ecosystem == "" {
		return p.String()
	}
	return p.Ecosystem + " " + p.String()
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r\n", "\n")), " ")
}

// sanitize makes s safe to print on a terminal or in a CI log, on a line of
// its own or after other text (termsafe.String): C0 and C1 control
// characters (including ESC, so a package name cannot inject ANSI
// sequences), DEL, line separators, Unicode bidirectional overrides ("trojan
// source") and invalid UTF-8 are written as Go escapes (\x1b, \u202e), and a
// leading "::" (a GitHub workflow command) is broken (\x3a:).
func sanitize(s string) string { return termsafe.String(s) }

// needsEscape reports the runes sanitize escapes (markdown cells escape
// them the same way).
func needsEscape(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028, r == 0x2029, r == 0xfeff:
		return true
	case r == utf8.RuneError:
		return true
	}
	return false
}
