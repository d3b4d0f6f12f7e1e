package output

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/finding"
)

// MarkdownMaxRows caps the finding rows of the markdown format so a job
// summary stays readable (and under GitHub's 1 MiB summary limit). Rows are
// spent on the most severe findings first; a note says how many were left out.
const MarkdownMaxRows = 200

var markdownSeverities = []finding.Severity{
	finding.SeverityCritical, finding.SeverityHigh, finding.SeverityMedium, finding.SeverityLow,
}

var severityBadge = map[finding.Severity]string{
	finding.SeverityCritical: "🔴",
	finding.SeverityHigh:     "🟠",
	finding.SeverityMedium:   "🟡",
	finding.SeverityLow:      "🔵",
}

// writeMarkdown renders a job summary: a heading, a one-line verdict, then
// one table per severity (most severe first), each keeping the caller's
// order of findings. Every cell built from scanned content is escaped with
// escapeCell, so a package name cannot break the table or inject HTML.
func writeMarkdown(w0 io.Writer, r Report) error {
	w, bw := newErrWriter(w0)
	c := countFindings(r.Findings)
	w.print("## buildwall scan\n\n")
	if r.Incomplete {
		w.print("⚠️ **" + incompleteNote + ".**\n\n")
	}
	for _, n := range r.Notes {
		w.print("> **Note:** " + escapeCell(n) + "\n\n")
	}
	if c.total == 0 {
		w.printf("✅ **No findings** in %s scanned", plural(len(r.Files), "file"))
		if n := r.suppressedCount(); n > 0 {
			w.printf(" (%d suppressed)", n)
		}
		w.print(".\n")
		return w.done(bw)
	}
	w.printf("❌ **%s** in %s: %d critical, %d high, %d medium, %d low (%s scanned",
		plural(c.total, "finding"), plural(c.files, "file"), c.critical, c.high, c.medium, c.low,
		plural(len(r.Files), "file"))
	if n := r.suppressedCount(); n > 0 {
		w.printf(", %d suppressed", n)
	}
	w.print(").\n")

	budget := MarkdownMaxRows
	shown := 0
	for _, sev := range markdownSeverities {
		var rows []finding.Finding
		for _, f := range r.Findings {
			if f.Severity == sev && f.Suppressed == nil {
				rows = append(rows, f)
			}
		}
		if len(rows) == 0 {
			continue
		}
		title := strings.ToUpper(sev.String()[:1]) + sev.String()[1:]
		w.printf("\n### %s %s (%d)\n\n", severityBadge[sev], title, len(rows))
		if budget == 0 {
			w.print("_Not shown: the row limit was reached._\n")
			continue
		}
		w.print("| Rule | Location | Package | Message | Fix |\n")
		w.print("| --- | --- | --- | --- | --- |\n")
		for _, f := range rows[:min(len(rows), budget)] {
			w.printf("| %s | %s | %s | %s | %s |\n",
				codeOrEscape(f.Rule), escapeCell(locationLabel(f.Location)), packageCell(f.Package),
				escapeCell(f.Message), escapeCell(oneLine(f.Fix)))
		}
		n := min(len(rows), budget)
		budget -= n
		shown += n
	}
	if shown < c.total {
		w.printf("\n_Showing %d of %d findings. Run `buildwall scan --format text` or upload the SARIF output to see all of them._\n",
			shown, c.total)
	}
	return w.done(bw)
}

// locationLabel renders path:line:column, leaving out what is unknown.
func locationLabel(l finding.Location) string {
	p := l.Path
	if p == "" {
		p = "(no file)"
	}
	if l.Line <= 0 {
		return p
	}
	return p + ":" + position(l)
}

func packageCell(p *finding.Package) string {
	if p == nil {
		return ""
	}
	return escapeCell(packageLabel(p))
}

// codeOrEscape renders s as inline code when it is a plain identifier (a rule
// ID), and as escaped text otherwise.
func codeOrEscape(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return "`" + s + "`"
	}
	return escapeCell(s)
}

// escapeCell makes s safe inside a GitHub-flavoured Markdown table cell:
// newlines become <br>, "|" and Markdown punctuation are backslash-escaped,
// "<", ">" and "&" become entities (no raw HTML reaches the page), and
// control characters and bidi overrides are written as Go escapes.
func escapeCell(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n':
			b.WriteString("<br>")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case strings.ContainsRune("\\`*_[]|~#!", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r):
			b.WriteString(sanitize(string(r)))
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}
