package output

import (
	"bytes"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/finding"
)

// TestIncompleteInEveryFormat: an interrupted scan says so in every format,
// and a complete one carries no trace of the field.
func TestIncompleteInEveryFormat(t *testing.T) {
	want := map[Format]string{
		FormatText:     incompleteNote,
		FormatJSON:     `"incomplete": true`,
		FormatSARIF:    `"executionSuccessful": false`,
		FormatMarkdown: incompleteNote,
		FormatGitHub:   "::error title=buildwall::INCOMPLETE",
	}
	for _, f := range Formats() {
		for _, incomplete := range []bool{true, false} {
			var b bytes.Buffer
			if err := Write(&b, f, Report{ToolVersion: "dev", Incomplete: incomplete}, Options{}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if got := strings.Contains(b.String(), want[f]); got != incomplete {
				t.Errorf("%s, incomplete=%v: output contains %q = %v\n%s", f, incomplete, want[f], got, b.String())
			}
		}
	}
}

// TestSARIFUnscannedNotification: an unscanned path is a result and a tool
// execution notification of an unsuccessful invocation.
func TestSARIFUnscannedNotification(t *testing.T) {
	var b bytes.Buffer
	r := Report{ToolVersion: "dev", Findings: []finding.Finding{{
		Rule: "unscanned-path", Severity: finding.SeverityHigh, Message: "secret was not scanned: permission denied",
		Location: finding.Location{Path: "secret"},
	}}}
	if err := Write(&b, FormatSARIF, r, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"executionSuccessful": false`, `"toolExecutionNotifications"`, `"ruleId": "unscanned-path"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("SARIF lacks %s:\n%s", want, b.String())
		}
	}
}

// TestNotesInMachineFormats: notes (a stale database) appear in JSON,
// SARIF (a warning of a successful invocation) and Markdown, escaped.
func TestNotesInMachineFormats(t *testing.T) {
	note := "the malicious-package database is 9 days old | <b>"
	want := map[Format][]string{
		FormatJSON:     {`"notes": [` + "\n" + `    "the malicious-package database is 9 days old | <b>"` + "\n  ]"},
		FormatSARIF:    {`"executionSuccessful": true`, `"level": "warning"`, "9 days old"},
		FormatMarkdown: {"> **Note:** the malicious-package database is 9 days old \\| &lt;b&gt;"},
	}
	for f, wants := range want {
		var b bytes.Buffer
		if err := Write(&b, f, Report{ToolVersion: "dev", Notes: []string{note}}, Options{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, w := range wants {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", f, w, b.String())
			}
		}
		var none bytes.Buffer
		if err := Write(&none, f, Report{ToolVersion: "dev"}, Options{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(none.String(), "notes") || strings.Contains(none.String(), "Note:") || strings.Contains(none.String(), "toolExecutionNotifications") {
			t.Errorf("%s without notes mentions them:\n%s", f, none.String())
		}
	}
}
