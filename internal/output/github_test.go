package output

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/finding"
)

// unescapeGitHub undoes the runner's escapes, as the runner does.
var unescapeGitHub = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")

var githubLineRE = regexp.MustCompile(`^::(error|warning|notice) file=([^:,]*),line=([0-9]+),col=([0-9]+),title=([^:,]*)::(.*)$`)

// TestGitHubEscaping: newlines, '%', ':' and ',' in a path and a message
// stay inside their property or message, and the runner's unescaping gives
// back the original path and message; nothing a finding carries can start
// a second command or add a property.
func TestGitHubEscaping(t *testing.T) {
	path := "dir,line=99:x/100%/a\nb::warning::/package-lock.json"
	msg := "bad: a,b 100%25\n::error file=evil,line=1::forged\r\nend"
	r := Report{Files: []string{path}, Findings: []finding.Finding{
		{Rule: "missing-integrity", Severity: finding.SeverityMedium, Message: msg, Fix: "fix: it, now",
			Location: finding.Location{Path: path, Line: 7, Column: 3}},
		{Rule: "install-script", Severity: finding.SeverityLow, Message: "hidden",
			Location:   finding.Location{Path: "x", Line: 1, Column: 1},
			Suppressed: &finding.Suppression{Kind: finding.SuppressionInSource, Reason: "r"}},
	}}
	out := string(render(t, FormatGitHub, r, Options{}))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one command and the summary line, got:\n%s", out)
	}
	m := githubLineRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("malformed command: %q", lines[0])
	}
	if m[1] != "warning" || m[3] != "7" || m[4] != "3" || m[5] != "missing-integrity (medium)" {
		t.Errorf("command = %q", lines[0])
	}
	if got := unescapeGitHub.Replace(m[2]); got != strings.ReplaceAll(path, "\n::", "\n\\x3a:") {
		t.Errorf("file unescapes to %q, want %q", got, path)
	}
	wantMsg := "bad: a,b 100%25\n\\x3a:error file=evil,line=1::forged\nend\nFix: fix: it, now"
	if diff := cmp.Diff(wantMsg, unescapeGitHub.Replace(m[6])); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if want := "buildwall: 1 finding (0 critical, 0 high, 1 medium, 0 low) in 1 file; 1 file scanned, 1 suppressed"; lines[1] != want {
		t.Errorf("summary = %q, want %q", lines[1], want)
	}
}

func TestGitHubEscapeRules(t *testing.T) {
	if got, want := escapeGitHubProperty("a%b\rc\nd:e,f"), "a%25b%0Dc%0Ad%3Ae%2Cf"; got != want {
		t.Errorf("property = %q, want %q", got, want)
	}
	if got, want := escapeGitHubData("a%b\rc\nd:e,f"), "a%25b%0Dc%0Ad:e,f"; got != want {
		t.Errorf("data = %q, want %q", got, want)
	}
}
