package output

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/finding"
)

// RulesJSONSchema names the version of the document `buildwall rules
// --format json` writes.
const RulesJSONSchema = "buildwall.rules/v1"

// RuleTable renders rules as the Markdown table of the README's rule
// reference (ID | Severity | What it catches | How to fix), one row per rule
// in the order given, ending in a newline. An empty list renders the header
// only.
func RuleTable(rules []finding.Rule) string {
	var b strings.Builder
	b.WriteString("| ID | Severity | What it catches | How to fix |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n",
			codeOrEscape(r.ID), r.Severity, escapeCell(oneLine(r.Summary)), escapeCell(oneLine(r.Fix)))
	}
	return b.String()
}

// WriteRules lists rule metadata for `buildwall rules`: an aligned table
// (text), a buildwall.rules/v1 document (json) or RuleTable (markdown), in
// the order given. SARIF is not a rule listing format: it and unknown
// formats return an error wrapping ErrUnknownFormat.
func WriteRules(w io.Writer, f Format, rules []finding.Rule) error {
	var err error
	switch f {
	case FormatText:
		err = writeRulesText(w, rules)
	case FormatJSON:
		err = writeRulesJSON(w, rules)
	case FormatMarkdown:
		_, err = io.WriteString(w, RuleTable(rules))
	default:
		return fmt.Errorf("write rules: %w %q (want text, json or markdown)", ErrUnknownFormat, string(f))
	}
	if err != nil {
		return fmt.Errorf("write rules as %s: %w", f, err)
	}
	return nil
}

func writeRulesText(w0 io.Writer, rules []finding.Rule) error {
	w, bw := newErrWriter(w0)
	idWidth := len("RULE")
	for _, r := range rules {
		idWidth = max(idWidth, utf8.RuneCountInString(r.ID))
	}
	const sevWidth = len("CRITICAL")
	indent := strings.Repeat(" ", idWidth+2+sevWidth+2)
	w.printf("%-*s  %-*s  %s\n", idWidth, "RULE", sevWidth, "SEVERITY", "WHAT IT CATCHES / HOW TO FIX")
	for _, r := range rules {
		w.printf("%-*s  %-*s  %s\n", idWidth, sanitize(r.ID), sevWidth, r.Severity, sanitize(oneLine(r.Summary)))
		if r.Fix != "" {
			w.print(indent + "fix: " + sanitize(oneLine(r.Fix)) + "\n")
		}
	}
	w.printf("%s\n", plural(len(rules), "rule"))
	return w.done(bw)
}

type jsonRules struct {
	Schema string     `json:"schema"`
	Rules  []jsonRule `json:"rules"` // never nil
}

type jsonRule struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Fix      string `json:"fix"`
	Help     string `json:"help,omitempty"`
}

func writeRulesJSON(w io.Writer, rules []finding.Rule) error {
	doc := jsonRules{Schema: RulesJSONSchema, Rules: make([]jsonRule, 0, len(rules))}
	for _, r := range rules {
		doc.Rules = append(doc.Rules, jsonRule{ID: r.ID, Severity: r.Severity.String(), Summary: r.Summary, Fix: r.Fix, Help: r.Help})
	}
	return encodeJSON(w, doc)
}
