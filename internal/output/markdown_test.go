package output

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/finding"
)

func TestEscapeCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a | b", `a \| b`},
		{"`code`", "\\`code\\`"},
		{"line one\nline two", "line one<br>line two"},
		{"crlf\r\nend", "crlf<br>end"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a & b", "a &amp; b"},
		{"**bold** _it_ [link](x) ~~s~~ #1 ![img]", `\*\*bold\*\* \_it\_ \[link\](x) \~\~s\~\~ \#1 \!\[img\]`},
		{`back\slash`, `back\\slash`},
		{"ünïcode 日本", "ünïcode 日本"},
		{"esc\x1b[31m", `esc\x1b\[31m`},
		{"  trimmed  ", "trimmed"},
	}
	for _, tt := range tests {
		if got := escapeCell(tt.in); got != tt.want {
			t.Errorf("escapeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// cellCount counts the cells of a table row: the unescaped pipes minus one.
func cellCount(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++ // skip the escaped character
		case '|':
			n++
		}
	}
	return n - 1
}

// TestMarkdownTableIntegrity checks that hostile content cannot add cells
// or rows: every table line of the rich report has exactly five cells.
func TestMarkdownTableIntegrity(t *testing.T) {
	out := string(render(t, FormatMarkdown, richReport(), Options{}))
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		if got := cellCount(line); got != 5 {
			t.Errorf("row has %d cells, want 5: %s", got, line)
		}
	}
	if want := len(finding.Active(richReport().Findings)) + 2*4; rows != want { // + header and rule per severity table
		t.Errorf("got %d table lines, want %d:\n%s", rows, want, out)
	}
	if strings.Contains(out, "<http") || strings.Contains(out, "\x1b") {
		t.Errorf("raw HTML or ESC from findings reached the summary:\n%s", out)
	}
}

// TestMarkdownRowLimit checks that a huge report is cut at MarkdownMaxRows,
// spending rows on the most severe findings first, with a note.
func TestMarkdownRowLimit(t *testing.T) {
	var r Report
	add := func(n int, sev finding.Severity) {
		for i := range n {
			r.Findings = append(r.Findings, finding.Finding{Rule: "rule-" + sev.String(), Severity: sev,
				Message: fmt.Sprintf("%s finding %d", sev, i), Location: finding.Location{Path: "package-lock.json", Line: i + 1}})
		}
	}
	add(150, finding.SeverityLow)
	add(30, finding.SeverityCritical)
	add(100, finding.SeverityMedium)
	out := string(render(t, FormatMarkdown, r, Options{}))

	count := func(sev finding.Severity) int { return strings.Count(out, "| `rule-"+sev.String()+"` |") }
	if got := count(finding.SeverityCritical); got != 30 {
		t.Errorf("critical rows = %d, want all 30", got)
	}
	if got := count(finding.SeverityMedium); got != 100 {
		t.Errorf("medium rows = %d, want all 100", got)
	}
	if got := count(finding.SeverityLow); got != MarkdownMaxRows-130 {
		t.Errorf("low rows = %d, want the remaining %d", got, MarkdownMaxRows-130)
	}
	if !strings.Contains(out, fmt.Sprintf("Showing %d of 280 findings", MarkdownMaxRows)) {
		t.Errorf("missing the row-limit note:\n%s", out[len(out)-300:])
	}
	if !strings.Contains(out, "### 🔵 Low (150)") {
		t.Errorf("the low heading should still give the full count")
	}

	// Past the limit, further severities get a heading and a note, no table.
	add(500, finding.SeverityHigh)
	out = string(render(t, FormatMarkdown, r, Options{}))
	if got := strings.Count(out, "| `rule-high` |"); got != 170 {
		t.Errorf("high rows = %d, want 170", got)
	}
	if got := strings.Count(out, "_Not shown: the row limit was reached._"); got != 2 {
		t.Errorf("got %d 'not shown' notes, want 2 (medium and low)", got)
	}
}

func TestRuleTable(t *testing.T) {
	got := RuleTable([]finding.Rule{
		{ID: "a-rule", Severity: finding.SeverityHigh, Summary: "Catches a | b\nover two lines.", Fix: "Use `x`."},
	})
	want := "| ID | Severity | What it catches | How to fix |\n" +
		"| --- | --- | --- | --- |\n" +
		"| `a-rule` | high | Catches a \\| b over two lines. | Use \\`x\\`. |\n"
	if got != want {
		t.Errorf("RuleTable mismatch:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if got := RuleTable(nil); strings.Count(got, "\n") != 2 {
		t.Errorf("RuleTable(nil) = %q, want the header only", got)
	}
}

// FuzzEscapeCell checks that no input can break out of a table cell.
func FuzzEscapeCell(f *testing.F) {
	for _, s := range []string{"a|b", "x\ny", "<b>", "`", "\\|", "\x1b[0m", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := escapeCell(s)
		if strings.ContainsAny(strings.ReplaceAll(got, "<br>", ""), "\n\r<>\x1b") {
			t.Errorf("escapeCell(%q) = %q keeps a newline, angle bracket or ESC", s, got)
		}
		if n := cellCount("|" + got + "|"); n != 1 {
			t.Errorf("escapeCell(%q) = %q splits into %d cells", s, got, n)
		}
	})
}

// FuzzSanitize checks that no input puts a control character on a terminal.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;title\x07", "\u202e", "\xff", "\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range sanitize(s) {
			if needsEscape(r) {
				t.Fatalf("sanitize(%q) kept %U", s, r)
			}
		}
	})
}
