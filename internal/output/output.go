// Package output renders the findings of a scan as text for a CI log, JSON
// (schema buildwall.scan/v1), SARIF 2.1.0 for code scanning, Markdown for a
// job summary, or GitHub Actions workflow commands (annotations), and renders rule metadata for `buildwall rules` and the
// README's rule reference.
//
// Writers are pure functions of a Report: they never reorder findings (the
// caller sorts them with finding.Sort), never decide severity, never read the
// clock or the file system, and produce byte-identical output for the same
// Report. Text that comes from scanned files (package names, paths, messages)
// is treated as hostile: control characters are escaped in text output and
// Markdown metacharacters are escaped in Markdown output.
package output

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/buildwall/buildwall/internal/finding"
)

// Format names an output format. The names are a public contract (the
// --format flag).
type Format string

// Formats.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatSARIF    Format = "sarif"
	FormatMarkdown Format = "markdown"
	// FormatGitHub writes GitHub Actions workflow commands (annotations).
	FormatGitHub Format = "github"
)

// Formats lists every format Write accepts, in the order help texts show them.
func Formats() []Format {
	return []Format{FormatText, FormatJSON, FormatSARIF, FormatMarkdown, FormatGitHub}
}

// ErrUnknownFormat is returned (wrapped) by ParseFormat and Write for a format
// they do not know, and by WriteRules for a format it does not support.
var ErrUnknownFormat = errors.New("unknown output format")

// ParseFormat accepts a format name, case-insensitively ("md" is accepted for
// markdown). The error wraps ErrUnknownFormat and lists the valid names.
func ParseFormat(s string) (Format, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "md" {
		name = string(FormatMarkdown)
	}
	for _, f := range Formats() {
		if name == string(f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("parse format %q: %w (want one of %s)", s, ErrUnknownFormat, formatList(Formats()))
}

func formatList(fs []Format) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Report is everything a writer needs. Writers read it and never modify it.
type Report struct {
	// ToolVersion is buildwall's version ("dev" or "v1.2.3").
	ToolVersion string
	// Roots are the scan roots as given on the command line.
	Roots []string
	// Files are the files scanned: slash-separated, relative to their root.
	Files []string
	// Findings are already sorted by the caller; writers keep their order.
	// Suppressed findings (finding.Finding.Suppressed) are listed by JSON
	// and SARIF with their suppression, and only counted by text, Markdown
	// and github.
	Findings []finding.Finding
	// Rules holds the metadata of every rule that ran (SARIF rules[]).
	Rules []finding.Rule
	// Suppressed counts suppressed findings that are not in Findings
	// (dropped before the report); writers add the suppressed findings of
	// Findings to it.
	Suppressed int
	// Base is the absolute directory finding paths are relative to (the
	// repository's top, see scan.Base), or "" when unknown. SARIF names it
	// as %SRCROOT%.
	Base string
	// Incomplete marks a scan that was interrupted (SIGINT/SIGTERM): the
	// findings are those of the work finished. Every format says so.
	Incomplete bool
	// Notes are caveats about the scan that are not findings (a stale or
	// embedded-only malicious-package database): JSON "notes", SARIF
	// warning notifications, Markdown notes. The text format leaves them
	// to the caller's stderr.
	Notes []string
}

// incompleteNote is the sentence every format prints for an interrupted
// scan.
const incompleteNote = "INCOMPLETE: the scan was interrupted; only the files finished are reported and anything may be missing"

// Options tunes the text format. Other formats ignore it.
type Options struct {
	// Color turns on ANSI colors. The caller decides, usually with
	// ColorEnabled on the destination.
	Color bool
}

// Write renders r to w in format f. It returns an error wrapping
// ErrUnknownFormat for an unknown format, or the first write error of w.
func Write(w io.Writer, f Format, r Report, o Options) error {
	var err error
	switch f {
	case FormatText:
		err = writeText(w, r, o)
	case FormatJSON:
		err = writeJSON(w, r)
	case FormatSARIF:
		err = writeSARIF(w, r)
	case FormatMarkdown:
		err = writeMarkdown(w, r)
	case FormatGitHub:
		err = writeGitHub(w, r)
	default:
		return fmt.Errorf("write report: %w %q", ErrUnknownFormat, string(f))
	}
	if err != nil {
		return fmt.Errorf("write %s report: %w", f, err)
	}
	return nil
}

// ColorEnabled reports whether text written to w should be colored: w is a
// terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is not
// "dumb". getenv is usually os.Getenv; nil means os.Getenv.
//
// A terminal is recognised without system calls as an *os.File that is a
// character device, so the check is portable; the only false positive is a
// character device such as /dev/null, where colors do no harm.
func ColorEnabled(w io.Writer, getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}

// suppressedCount is how many findings of r are suppressed.
func (r *Report) suppressedCount() int {
	return r.Suppressed + finding.CountSuppressed(r.Findings)
}

// counts tallies the findings in force per severity.
type counts struct {
	critical, high, medium, low int
	total                       int
	files                       int // distinct paths with findings
}

func countFindings(fs []finding.Finding) counts {
	var c counts
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Suppressed != nil {
			continue
		}
		switch f.Severity {
		case finding.SeverityCritical:
			c.critical++
		case finding.SeverityHigh:
			c.high++
		case finding.SeverityMedium:
			c.medium++
		case finding.SeverityLow:
			c.low++
		}
		c.total++
		if !seen[f.Path] {
			seen[f.Path] = true
			c.files++
		}
	}
	return c
}

// plural returns "1 finding" or "3 findings".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// errWriter buffers output and remembers the first write error, so that
// writers can print freely (one write system call per 64 KiB, not per
// fragment) and check once at the end with done.
type errWriter struct {
	w   io.Writer
	err error
}

// newErrWriter returns an errWriter writing to w through a buffer.
func newErrWriter(w io.Writer) (*errWriter, *bufio.Writer) {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &errWriter{w: bw}, bw
}

// done flushes the buffer and returns the first error of any write.
func (e *errWriter) done(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil && e.err == nil {
		e.err = err
	}
	return e.err
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

func (e *errWriter) print(s string) {
	io.WriteString(e, s)
}

// concurrently calls fn(0) … fn(n-1), at most GOMAXPROCS at a time, and
// returns when all have returned; a single call runs on the caller's
// goroutine. Writers use it to render chunks of a large report into
// separate buffers that they then write in order.
func concurrently(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
