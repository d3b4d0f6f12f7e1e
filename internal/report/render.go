package report

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// textTop bounds how many destinations each text or Markdown list shows.
const textTop = 10

// Text writes a short human summary for stderr: what was blocked (or would
// be, in audit mode), suspicious DNS, and the top destinations.
func (r *Report) Text(w io.Writer) error {
	ew := &errWriter{w: w}
	s := r.Summary
	ew.printf("buildwall run: %s mode, command exited %d after %s%s\n", r.Mode, r.CommandExitCode, duration(r.DurationMS), r.exitNote())
	ew.printf("  %d events: %d allowed, %d blocked, %d audited\n", s.Counts.Events, s.Counts.Allowed, s.Counts.Blocked, s.Counts.Audited)
	if n := r.limitsNote(); n != "" {
		ew.printf("  limits: %s\n", n)
	}
	textList(ew, "blocked", s.Blocked)
	textList(ew, "would be blocked in block mode", s.Audited)
	textSandbox(ew, r.Events)
	if len(s.DNSSuspicious) > 0 {
		ew.printf("  suspicious DNS names (%d):\n", len(s.DNSSuspicious)+s.SuspiciousOmitted)
		for i, x := range s.DNSSuspicious {
			if i == textTop {
				ew.printf("    ... and %d more\n", len(s.DNSSuspicious)+s.SuspiciousOmitted-textTop)
				break
			}
			ew.printf("    %s %s (%d×): %s\n", x.Verdict, safe(x.Name, 80), x.Count, safe(strings.Replace(x.Reason, tunnelPrefix+": ", "", 1), 300))
		}
	}
	if len(s.Allowed) > 0 {
		ew.printf("  top allowed destinations:\n")
		for i, d := range s.Allowed {
			if i == 5 {
				ew.printf("    ... and %d more\n", len(s.Allowed)-5)
				break
			}
			ew.printf("    %s (%d×, rule %s)\n", safe(d.String(), 80), d.Count, safe(d.Rule, 80))
		}
	}
	for _, wn := range r.Warnings {
		ew.printf("  warning: %s\n", termsafe.String(wn))
	}
	switch {
	case len(s.Blocked) > 0:
		ew.printf("  hint: if a blocked destination is legitimate, add it under run.allow in buildwall.yml\n")
	case s.Counts.Audited > 0:
		ew.printf("  hint: 'buildwall policy suggest --report FILE' writes a policy that allows what this run reached\n")
	}
	return ew.err
}

// exitNote explains, when buildwall's exit code is not the command's, why:
// "; 2 connections blocked → buildwall exits 1". Empty when they agree.
func (r *Report) exitNote() string {
	if r.ExitCode == r.CommandExitCode {
		return ""
	}
	n, conns := r.Summary.Counts.Blocked, true
	for _, e := range r.Events {
		if e.Verdict == event.VerdictBlock {
			conns = conns && e.Kind == event.KindConnect
		}
	}
	if l := r.Limits; l != nil && l.NotHeld.Blocked != l.NotHeld.Connect {
		conns = false
	}
	noun := "egress attempt"
	if conns {
		noun = "connection"
	}
	if n != 1 {
		noun += "s"
	}
	if n == 0 {
		return fmt.Sprintf("; buildwall exits %d", r.ExitCode)
	}
	return fmt.Sprintf("; %d %s blocked → buildwall exits %d", n, noun, r.ExitCode)
}

// limitsNote says what the run's resource bounds left out or refused, ""
// when nothing.
func (r *Report) limitsNote() string {
	l := r.Limits
	if l == nil {
		return ""
	}
	var parts []string
	if l.ConnectionsRefused > 0 {
		parts = append(parts, fmt.Sprintf("%d connections refused at the limit of %d open at once", l.ConnectionsRefused, l.MaxConnections))
	}
	if l.DNSDropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dns queries dropped unanswered (server saturated)", l.DNSDropped))
	}
	if l.EventsNotHeld > 0 {
		parts = append(parts, fmt.Sprintf("%d events counted but not kept in the report", l.EventsNotHeld))
	}
	if l.EventsFileTruncated {
		parts = append(parts, fmt.Sprintf("events file cut at its size limit, %d events not written", l.EventsNotWritten))
	}
	if l.FieldsTruncated > 0 {
		parts = append(parts, fmt.Sprintf("%d events with a field cut to its limit", l.FieldsTruncated))
	}
	if n := r.Summary.AllowedOmitted + r.Summary.BlockedOmitted + r.Summary.AuditedOmitted; n > 0 {
		parts = append(parts, fmt.Sprintf("%d occurrences to destinations beyond the %d listed per verdict", n, MaxDestinations))
	}
	return strings.Join(parts, "; ")
}

func textList(ew *errWriter, title string, ds []Destination) {
	if len(ds) == 0 {
		return
	}
	ew.printf("  %s (%d destinations):\n", title, len(ds))
	for i, d := range ds {
		if i == textTop {
			ew.printf("    ... and %d more\n", len(ds)-textTop)
			return
		}
		ew.printf("    %s %s (%d×): %s", termsafe.String(d.Proto), safe(d.String(), 80), d.Count, safe(strings.Join(d.Reasons, "; "), 300))
		if len(d.Processes) > 0 {
			ew.printf(" [by %s]", safe(d.Processes[0], 60))
		}
		ew.printf("\n")
	}
}

// Markdown writes a summary for $GITHUB_STEP_SUMMARY.
func (r *Report) Markdown(w io.Writer) error {
	ew := &errWriter{w: w}
	s := r.Summary
	status := "no egress refused"
	switch {
	case s.Counts.Blocked > 0:
		status = fmt.Sprintf("**%d blocked**", s.Counts.Blocked)
	case s.Counts.Audited > 0:
		status = fmt.Sprintf("**%d would be blocked** in block mode", s.Counts.Audited)
	}
	ew.printf("### buildwall run: %s\n\n", status)
	ew.printf("`%s` ran in **%s** mode and exited **%d** after %s%s.\n\n", mdCode(truncate(strings.Join(r.Command, " "), 200)), r.Mode, r.CommandExitCode, duration(r.DurationMS), r.exitNote())
	ew.printf("| events | allowed | blocked | audited | suspicious DNS |\n|---:|---:|---:|---:|---:|\n")
	ew.printf("| %d | %d | %d | %d | %d |\n\n", s.Counts.Events, s.Counts.Allowed, s.Counts.Blocked, s.Counts.Audited, s.Counts.Suspicious)
	if n := r.limitsNote(); n != "" {
		ew.printf("**Limits:** %s.\n\n", n)
	}
	mdList(ew, "Blocked", s.Blocked, false)
	mdList(ew, "Would be blocked in block mode", s.Audited, false)
	mdSandbox(ew, r.Events)
	if len(s.DNSSuspicious) > 0 {
		ew.printf("#### Suspicious DNS\n\n| name | verdict | count | reason |\n|---|---|---:|---|\n")
		for i, x := range s.DNSSuspicious {
			if i == textTop {
				break
			}
			ew.printf("| `%s` | %s | %d | %s |\n", mdCode(truncate(x.Name, 80)), x.Verdict, x.Count, mdCell(truncate(strings.Replace(x.Reason, tunnelPrefix+": ", "", 1), 300)))
		}
		if n := len(s.DNSSuspicious) + s.SuspiciousOmitted - textTop; n > 0 {
			ew.printf("\n… and %d more in the JSON report.\n", n)
		}
		ew.printf("\n")
	}
	mdList(ew, "Allowed", s.Allowed, true)
	for _, wn := range r.Warnings {
		ew.printf("> [!WARNING]\n> %s\n\n", mdCell(wn))
	}
	return ew.err
}

func mdList(ew *errWriter, title string, ds []Destination, allowed bool) {
	if len(ds) == 0 {
		return
	}
	ew.printf("#### %s\n\n", title)
	if allowed {
		ew.printf("| destination | proto | count | rule |\n|---|---|---:|---|\n")
	} else {
		ew.printf("| destination | proto | count | reason | process |\n|---|---|---:|---|---|\n")
	}
	for i, d := range ds {
		if i == textTop {
			break
		}
		if allowed {
			ew.printf("| `%s` | %s | %d | `%s` |\n", mdCode(truncate(d.String(), 80)), mdCell(d.Proto), d.Count, mdCode(d.Rule))
			continue
		}
		proc := ""
		if len(d.Processes) > 0 {
			proc = "`" + mdCode(truncate(d.Processes[0], 60)) + "`"
		}
		ew.printf("| `%s` | %s | %d | %s | %s |\n", mdCode(truncate(d.String(), 80)), mdCell(d.Proto), d.Count, mdCell(truncate(strings.Join(d.Reasons, "; "), 300)), proc)
	}
	if len(ds) > textTop {
		ew.printf("\n… and %d more in the JSON report.\n", len(ds)-textTop)
	}
	ew.printf("\n")
}

// mdCode makes s safe inside a Markdown code span in a table cell:
// control characters escaped (termsafe), no backquote or pipe.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|").Replace(termsafe.String(s))
}

// mdCell makes s safe as plain text in a table cell: control characters
// escaped (termsafe), no markup, no HTML.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "`", "'", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]").Replace(termsafe.String(s))
}

// safe cuts s to n bytes and escapes it for a terminal or CI log
// (termsafe): the form every string from the build takes in text output.
func safe(s string, n int) string { return termsafe.String(truncate(s, n)) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n--
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func duration(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	if _, err := fmt.Fprintf(e.w, format, args...); err != nil {
		e.err = fmt.Errorf("write summary: %w", err)
	}
}
