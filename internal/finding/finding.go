// Package finding holds the shared vocabulary of buildwall scan: a Finding, its
// Severity and Location, the metadata of the rule that produced it, and the
// deterministic ordering and fingerprints every output format relies on.
//
// It imports only the standard library so that parsers, rules and writers can
// all depend on it without pulling each other in.
package finding

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Severity ranks how urgently a finding must be dealt with. The zero value is
// SeverityNone, which no finding carries; it exists so that "--fail-on none"
// can mean "never fail".
type Severity int

// Severities, lowest first. Comparisons such as s >= SeverityHigh are valid.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

// String returns the lowercase name used in every output format.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the lowercase names returned by String (case-insensitive).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return SeverityNone, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames[:], ", "))
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Package identifies the package a finding is about.
type Package struct {
	Ecosystem string `json:"ecosystem"` // OSV ecosystem name: "npm", "PyPI", "GitHub Actions", ...
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
}

// String renders name@version (or just the name when the version is unknown).
func (p Package) String() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "@" + p.Version
}

// Location points into a scanned file.
type Location struct {
	// Path is slash-separated and relative to the scan root, as written in
	// reports and SARIF. It is never absolute unless the file lies outside
	// every scan root.
	Path string `json:"path"`
	// Line and Column are 1-based; 0 means unknown.
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Finding is one problem found by a rule. Findings are data, not errors.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Location
	Package *Package `json:"package,omitempty"`
	// Fix is a one-line instruction that resolves the finding.
	Fix string `json:"fix"`
	// Suppressed is set when an ignore matched the finding: it is still
	// reported (SARIF suppressions, JSON "suppressed") but never counts
	// toward --fail-on, and text and Markdown only count it. Nil means the
	// finding is in force.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Suppression kinds, as SARIF spells them (suppression.kind).
const (
	// SuppressionExternal is an ignore in buildwall.yml.
	SuppressionExternal = "external"
	// SuppressionInSource is an inline "# buildwall: ignore[rule]" comment
	// in the scanned file.
	SuppressionInSource = "inSource"
)

// Suppression records why a finding is not in force.
type Suppression struct {
	// Kind is SuppressionExternal or SuppressionInSource.
	Kind string `json:"kind"`
	// Reason is the justification the ignore gives (required by config).
	Reason string `json:"reason"`
	// Source locates the ignore: "buildwall.yml:12" or "path/file:3",
	// slash-separated, relative like Location.Path.
	Source string `json:"source,omitempty"`
}

// Active returns the findings that are not suppressed. It returns fs itself
// when none is suppressed.
func Active(fs []Finding) []Finding {
	n := 0
	for _, f := range fs {
		if f.Suppressed == nil {
			n++
		}
	}
	if n == len(fs) {
		return fs
	}
	out := make([]Finding, 0, n)
	for _, f := range fs {
		if f.Suppressed == nil {
			out = append(out, f)
		}
	}
	return out
}

// CountSuppressed returns how many findings in fs are suppressed.
func CountSuppressed(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Suppressed != nil {
			n++
		}
	}
	return n
}

// Fingerprint is a stable identifier of the finding that survives unrelated
// edits to the file: it hashes the rule, path, package and message but not the
// line, so moving an entry does not make it a "new" finding in code scanning.
//
// The hashed bytes are exactly those of the earlier fmt.Fprintf form
// ("rule\0path\0eco\0name\0version\0message", the package part empty
// when there is none), so fingerprints stay the same; they are written into
// one buffer and hashed with sha256.Sum256, which costs a third of the
// fmt path (every JSON and SARIF finding has one).
func (f Finding) Fingerprint() string {
	n := len(f.Rule) + len(f.Path) + len(f.Message) + 3
	if f.Package != nil {
		n += len(f.Package.Ecosystem) + len(f.Package.Name) + len(f.Package.Version) + 2
	}
	var stack [512]byte
	b := stack[:0]
	if n > len(stack) {
		b = make([]byte, 0, n)
	}
	b = append(b, f.Rule...)
	b = append(b, 0)
	b = append(b, f.Path...)
	b = append(b, 0)
	if f.Package != nil {
		b = append(b, f.Package.Ecosystem...)
		b = append(b, 0)
		b = append(b, f.Package.Name...)
		b = append(b, 0)
		b = append(b, f.Package.Version...)
	}
	b = append(b, 0)
	b = append(b, f.Message...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Compare orders findings by path, line, severity (highest first), column,
// rule, then package and message, so that every output is deterministic for
// the same input and the worst finding of a line comes first.
func Compare(a, b Finding) int {
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Line, b.Line); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Column, b.Column); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Rule, b.Rule); c != 0 {
		return c
	}
	var pa, pb string
	if a.Package != nil {
		pa = a.Package.String()
	}
	if b.Package != nil {
		pb = b.Package.String()
	}
	if c := cmp.Compare(pa, pb); c != 0 {
		return c
	}
	return cmp.Compare(a.Message, b.Message)
}

// Sort orders findings in place with Compare and removes exact duplicates.
func Sort(fs []Finding) []Finding {
	slices.SortStableFunc(fs, Compare)
	return slices.CompactFunc(fs, func(a, b Finding) bool {
		return Compare(a, b) == 0 && a.Fix == b.Fix && (a.Suppressed == nil) == (b.Suppressed == nil)
	})
}

// Max returns the highest severity among the findings of fs that are not
// suppressed (SeverityNone for none): suppressed findings never fail a gate.
func Max(fs []Finding) Severity {
	m := SeverityNone
	for _, f := range fs {
		if f.Suppressed == nil {
			m = max(m, f.Severity)
		}
	}
	return m
}

// Rule describes a rule for help texts, SARIF rule metadata and the generated
// rule reference.
type Rule struct {
	ID       string   // stable kebab-case identifier, a public contract
	Severity Severity // default severity; a finding may carry another one when the rule says so
	Summary  string   // one line: what it catches
	Fix      string   // one line: how to fix it
	Help     string   // optional longer explanation (Markdown)
}
