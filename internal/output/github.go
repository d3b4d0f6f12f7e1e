package output

import (
	"io"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// writeGitHub writes one GitHub Actions workflow command per finding in
// force, which the runner turns into an annotation on the file and line:
//
//	::error file=PATH,line=L,col=C,title=RULE (SEVERITY)::MESSAGE%0AFix: FIX
//
// Critical and high findings are errors, medium warnings, low notices.
// Suppressed findings are only counted, on the closing summary line, which
// is plain text. Values are escaped as the runner expects (data: % CR LF;
// properties also : and ,), after termsafe has escaped every other control
// character, so no value can end the command or start another one, and
// the runner's unescaping gives back the path as it is.
func writeGitHub(w0 io.Writer, r Report) error {
	w, bw := newErrWriter(w0)
	var b []byte
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			continue
		}
		b = appendGitHubCommand(b[:0], f)
		w.Write(b)
	}
	if r.Incomplete {
		w.print("::error title=buildwall::" + escapeGitHubData(incompleteNote) + "\n")
	}
	c := countFindings(r.Findings)
	var sum strings.Builder
	sum.WriteString("buildwall: " + plural(c.total, "finding"))
	if c.total > 0 {
		sum.WriteString(" (" + strconv.Itoa(c.critical) + " critical, " + strconv.Itoa(c.high) + " high, " +
			strconv.Itoa(c.medium) + " medium, " + strconv.Itoa(c.low) + " low) in " + plural(c.files, "file"))
	}
	sum.WriteString("; " + plural(len(r.Files), "file") + " scanned")
	if n := r.suppressedCount(); n > 0 {
		sum.WriteString(", " + strconv.Itoa(n) + " suppressed")
	}
	w.print(sum.String() + "\n")
	return w.done(bw)
}

// githubLevel maps a severity to a workflow command.
func githubLevel(s finding.Severity) string {
	switch {
	case s >= finding.SeverityHigh:
		return "error"
	case s == finding.SeverityMedium:
		return "warning"
	default:
		return "notice"
	}
}

func appendGitHubCommand(b []byte, f finding.Finding) []byte {
	b = append(b, "::"...)
	b = append(b, githubLevel(f.Severity)...)
	sep := byte(' ')
	prop := func(k, v string) {
		b = append(b, sep)
		sep = ','
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, escapeGitHubProperty(v)...)
	}
	if f.Path != "" {
		prop("file", termsafe.Lines(f.Path))
		if f.Line > 0 {
			prop("line", strconv.Itoa(f.Line))
			if f.Column > 0 {
				prop("col", strconv.Itoa(f.Column))
			}
		}
	}
	prop("title", termsafe.String(f.Rule+" ("+f.Severity.String()+")"))
	b = append(b, "::"...)
	msg := f.Message
	if f.Fix != "" {
		msg += "\nFix: " + f.Fix
	}
	b = append(b, escapeGitHubData(termsafe.Lines(strings.ReplaceAll(msg, "\r\n", "\n")))...)
	return append(b, '\n')
}

var (
	githubData     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	githubProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// escapeGitHubData escapes a workflow command's message.
func escapeGitHubData(s string) string { return githubData.Replace(s) }

// escapeGitHubProperty escapes a workflow command's property value.
func escapeGitHubProperty(s string) string { return githubProperty.Replace(s) }
