package advisory

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Record is an OSV record, reduced to the fields buildwall reads. Unknown
// fields are ignored.
type Record struct {
	SchemaVersion string      `json:"schema_version,omitempty"`
	ID            string      `json:"id"`
	Aliases       []string    `json:"aliases,omitempty"`
	Summary       string      `json:"summary,omitempty"`
	Details       string      `json:"details,omitempty"`
	Modified      time.Time   `json:"modified"`
	Published     time.Time   `json:"published,omitzero"`
	Withdrawn     time.Time   `json:"withdrawn,omitzero"`
	Affected      []Affected  `json:"affected"`
	References    []Reference `json:"references,omitempty"`
	// DatabaseSpecific is kept raw: buildwall reads only the malware
	// markers and IOCs from it.
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
	// IOCs are the indicators of compromise from database_specific.iocs
	// (the ossf/malicious-packages extension), filled in by ParseRecord.
	IOCs IOCs `json:"-"`
}

// IOCs are network indicators a record lists: hosts, addresses and URLs
// the malware contacts. The run-time firewall can deny them.
type IOCs struct {
	Domains []string
	IPs     []string
	URLs    []string
}

func (i IOCs) empty() bool { return len(i.Domains)+len(i.IPs)+len(i.URLs) == 0 }

// parseIOCs reads database_specific.iocs, keeping only well-formed strings.
func parseIOCs(raw json.RawMessage) IOCs {
	// Elements are kept raw and decoded only when they are strings: a
	// hostile record's nested arrays cost no more than their bytes.
	var ds struct {
		IOCs struct {
			Domains []json.RawMessage `json:"domains"`
			IPs     []json.RawMessage `json:"ips"`
			URLs    []json.RawMessage `json:"urls"`
		} `json:"iocs"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &ds) != nil {
		return IOCs{}
	}
	keep := func(in []json.RawMessage) []string {
		var out []string
		for _, v := range in {
			if s, ok := rawString(v); ok && checkIdent("ioc", s) == nil && !strings.ContainsRune(s, ' ') {
				out = append(out, s)
			}
		}
		return out
	}
	return IOCs{Domains: keep(ds.IOCs.Domains), IPs: keep(ds.IOCs.IPs), URLs: keep(ds.IOCs.URLs)}
}

// Affected is one affected package of a record.
type Affected struct {
	Package          Package         `json:"package"`
	Versions         []string        `json:"versions,omitempty"`
	Ranges           []Range         `json:"ranges,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Package names an affected package: Ecosystem is an OSV ecosystem string
// ("npm", "PyPI", "GitHub Actions", ...), Name is as the ecosystem spells it.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Purl      string `json:"purl,omitempty"`
}

// Range is an OSV range: Type is "ECOSYSTEM", "SEMVER" or "GIT".
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is an OSV reference (type ADVISORY, WEB, REPORT, ...).
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// ErrNotOSV is returned by ParseRecord for JSON that is not an OSV record
// buildwall can use (no id, no modified time, no affected package).
var ErrNotOSV = errors.New("not an OSV record")

// maxStringLen bounds every identifier buildwall keeps (ids, names,
// versions); real ones are far shorter, and the index format relies on them
// holding no control characters.
const maxStringLen = 1024

// ParseRecord decodes and validates one OSV record. Affected entries that
// name no package are dropped. It returns an error wrapping ErrNotOSV when
// the JSON is well formed but not a usable OSV record (no id, no modified
// time, no affected package, an identifier with control characters or
// over 1 KiB), and a JSON error otherwise.
func ParseRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode OSV record: %w", err)
	}
	// Affected entries without a package (GIT-only entries of some OSV
	// sources) cannot be looked up: drop them, keep the rest.
	r.Affected = slices.DeleteFunc(r.Affected, func(a Affected) bool {
		return a.Package.Ecosystem == "" || a.Package.Name == ""
	})
	if err := r.validate(); err != nil {
		return nil, err
	}
	r.IOCs = parseIOCs(r.DatabaseSpecific)
	return &r, nil
}

func (r *Record) validate() error {
	if err := checkIdent("id", r.ID); err != nil {
		return err
	}
	if r.Modified.IsZero() {
		return fmt.Errorf("%w: record %s has no modified time", ErrNotOSV, r.ID)
	}
	if len(r.Affected) == 0 {
		return fmt.Errorf("%w: record %s has no affected packages", ErrNotOSV, r.ID)
	}
	for _, a := range r.Aliases {
		if err := checkIdent("alias", a); err != nil {
			return fmt.Errorf("record %s: %w", r.ID, err)
		}
	}
	for i, a := range r.Affected {
		if err := checkIdent("ecosystem", a.Package.Ecosystem); err != nil {
			return fmt.Errorf("record %s affected[%d]: %w", r.ID, i, err)
		}
		if err := checkIdent("package name", a.Package.Name); err != nil {
			return fmt.Errorf("record %s affected[%d]: %w", r.ID, i, err)
		}
		for _, v := range a.Versions {
			if err := checkIdent("version", v); err != nil {
				return fmt.Errorf("record %s affected[%d]: %w", r.ID, i, err)
			}
		}
		for _, g := range a.Ranges {
			if err := checkIdent("range type", g.Type); err != nil {
				return fmt.Errorf("record %s affected[%d]: %w", r.ID, i, err)
			}
			for _, e := range g.Events {
				kind, v := e.kind()
				if kind == eventNone {
					return fmt.Errorf("%w: record %s affected[%d]: range event with no version", ErrNotOSV, r.ID, i)
				}
				if err := checkIdent("range event", v); err != nil {
					return fmt.Errorf("record %s affected[%d]: %w", r.ID, i, err)
				}
			}
		}
	}
	return nil
}

// checkIdent rejects empty, huge or control-character identifiers.
func checkIdent(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrNotOSV, what)
	}
	if len(s) > maxStringLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrNotOSV, what, maxStringLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%w: %s %q holds a control character", ErrNotOSV, what, s)
		}
	}
	return nil
}

type eventKind int

const (
	eventNone eventKind = iota
	eventIntroduced
	eventFixed
	eventLastAffected
	eventLimit
)

func (e Event) kind() (eventKind, string) {
	switch {
	case e.Introduced != "":
		return eventIntroduced, e.Introduced
	case e.Fixed != "":
		return eventFixed, e.Fixed
	case e.LastAffected != "":
		return eventLastAffected, e.LastAffected
	case e.Limit != "":
		return eventLimit, e.Limit
	}
	return eventNone, ""
}

// IsMalicious reports whether r describes malicious code rather than an
// ordinary vulnerability: MAL-* and BUILDWALL-* records always; other
// records (GHSA, PYSEC, ...) when their database_specific data says
// "type": "malware" or lists CWE-506 (Embedded Malicious Code), or when the
// summary says "malicious code" or "malware" (the wording of GitHub's
// malware advisories).
func (r *Record) IsMalicious() bool {
	if strings.HasPrefix(r.ID, "MAL-") || strings.HasPrefix(r.ID, "BUILDWALL-") {
		return true
	}
	if markedMalware(r.DatabaseSpecific) {
		return true
	}
	for _, a := range r.Affected {
		if markedMalware(a.DatabaseSpecific) {
			return true
		}
	}
	s := strings.ToLower(r.Summary)
	return strings.Contains(s, "malicious code") || strings.Contains(s, "malware")
}

// markedMalware reads the shapes GHSA and ossf records use:
// {"type": "malware"}, {"cwe_ids": ["CWE-506"]}, {"cwes": [{"cweId": "CWE-506"}]}.
func markedMalware(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var ds struct {
		Type   json.RawMessage   `json:"type"`
		CWEIDs []json.RawMessage `json:"cwe_ids"`
		CWEs   []struct {
			CWEID json.RawMessage `json:"cweId"`
		} `json:"cwes"`
	}
	if json.Unmarshal(raw, &ds) != nil {
		return false
	}
	if t, ok := rawString(ds.Type); ok && strings.EqualFold(t, "malware") {
		return true
	}
	for _, c := range ds.CWEIDs {
		if s, ok := rawString(c); ok && strings.EqualFold(s, "CWE-506") {
			return true
		}
	}
	for _, c := range ds.CWEs {
		if s, ok := rawString(c.CWEID); ok && strings.EqualFold(s, "CWE-506") {
			return true
		}
	}
	return false
}

// rawString decodes v when it is a JSON string.
func rawString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(v, &s) == nil
}
