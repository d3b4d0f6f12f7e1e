package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/finding"
)

// JSONSchema names the version of the JSON document written by the json
// format. Adding fields is compatible; renaming or removing one needs a new
// version.
const JSONSchema = "buildwall.scan/v1"

// jsonReport is the buildwall.scan/v1 document. Field order is the order of
// the struct, so the output is deterministic.
type jsonReport struct {
	Schema   string        `json:"schema"`
	Tool     jsonTool      `json:"tool"`
	Findings []jsonFinding `json:"findings"` // never nil: [] when clean
	Summary  jsonSummary   `json:"summary"`
	// Incomplete is written only when true: the scan was interrupted.
	Incomplete bool `json:"incomplete,omitempty"`
	// Notes are caveats that are not findings; written only when any.
	Notes []string `json:"notes,omitempty"`
}

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// jsonFinding carries exactly the contract fields of a finding plus its
// fingerprint. Package is null when the finding is about no package.
type jsonFinding struct {
	Rule        string       `json:"rule"`
	Severity    string       `json:"severity"`
	Message     string       `json:"message"`
	Path        string       `json:"path"`
	Line        int          `json:"line"`   // 1-based; 0 when unknown
	Column      int          `json:"column"` // 1-based; 0 when unknown
	Package     *jsonPackage `json:"package"`
	Fix         string       `json:"fix"`
	Fingerprint string       `json:"fingerprint"`
	// Suppressed is written only for a finding an ignore matched: it does
	// not count toward --fail-on or the summary's severities.
	Suppressed *jsonSuppression `json:"suppressed,omitempty"`
}

type jsonSuppression struct {
	Kind   string `json:"kind"` // "external" (buildwall.yml) or "inSource" (inline comment)
	Reason string `json:"reason"`
	Source string `json:"source"`
}

type jsonPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

type jsonSummary struct {
	Critical   int `json:"critical"`
	High       int `json:"high"`
	Medium     int `json:"medium"`
	Low        int `json:"low"`
	Files      int `json:"files"` // files scanned
	Suppressed int `json:"suppressed"`
}

// writeJSON writes the buildwall.scan/v1 document, indented by two spaces
// and ending in a newline. HTML characters are not escaped, so messages
// read naturally ("<" rather than "\u003c").
//
// Findings are appended one at a time into a buffered writer by
// appendJSONFinding rather than encoded as one value: encoding/json would
// build the whole document and then copy it again to indent it, which for
// tens of thousands of findings was a third of a scan's time, and even one
// Encode per finding (reflection, then a second pass to indent) was most of
// what remained. The bytes are exactly what encoding the whole jsonReport
// with SetIndent("", "  ") gives (TestJSONStreamMatchesEncoder).
func writeJSON(w io.Writer, r Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// value encodes v as it appears nested at depth (two spaces per level).
	value := func(v any, indent string) error {
		buf.Reset()
		enc.SetIndent(indent, "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := bw.Write(jsonSafe(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
		return err
	}
	bw.WriteString("{\n  \"schema\": ")
	if err := value(JSONSchema, "  "); err != nil {
		return err
	}
	bw.WriteString(",\n  \"tool\": ")
	if err := value(jsonTool{Name: "buildwall", Version: r.ToolVersion}, "  "); err != nil {
		return err
	}
	bw.WriteString(",\n  \"findings\": [")
	var fb []byte
	for i, f := range r.Findings {
		if i > 0 {
			bw.WriteString(",")
		}
		fb = appendJSONFinding(append(fb[:0], "\n    "...), toJSONFinding(f))
		bw.Write(fb)
	}
	if len(r.Findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n  \"summary\": ")
	c := countFindings(r.Findings)
	if err := value(jsonSummary{
		Critical: c.critical, High: c.high, Medium: c.medium, Low: c.low,
		Files: len(r.Files), Suppressed: r.suppressedCount(),
	}, "  "); err != nil {
		return err
	}
	if r.Incomplete {
		bw.WriteString(",\n  \"incomplete\": true")
	}
	if len(r.Notes) > 0 {
		bw.WriteString(",\n  \"notes\": ")
		if err := value(r.Notes, "  "); err != nil {
			return err
		}
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

func toJSONFinding(f finding.Finding) jsonFinding {
	jf := jsonFinding{
		Rule:        f.Rule,
		Severity:    f.Severity.String(),
		Message:     f.Message,
		Path:        f.Path,
		Line:        max(f.Line, 0),
		Column:      max(f.Column, 0),
		Fix:         f.Fix,
		Fingerprint: f.Fingerprint(),
	}
	if s := f.Suppressed; s != nil {
		jf.Suppressed = &jsonSuppression{Kind: s.Kind, Reason: s.Reason, Source: s.Source}
	}
	if f.Package != nil {
		jf.Package = &jsonPackage{Ecosystem: f.Package.Ecosystem, Name: f.Package.Name, Version: f.Package.Version}
	}
	return jf
}

// encodeJSON writes v indented with a trailing newline, without HTML escaping.
func encodeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(jsonSafe(buf.Bytes()))
	return err
}

// jsonSafe rewrites, in encoded JSON, the runes encoding/json leaves raw
// but a terminal or log viewer acts on (C1 controls, bidirectional
// controls, U+FEFF; see needsEscape) as \uXXXX escapes. Such runes occur
// only inside strings, so the document decodes to the same values; a JSON
// report printed into a CI log cannot reorder or hide text. b is returned
// as is when it has nothing to rewrite (all-ASCII in practice).
func jsonSafe(b []byte) []byte {
	first := -1
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if needsEscape(r) {
			first = i
			break
		}
		i += size
	}
	if first < 0 {
		return b
	}
	out := append(make([]byte, 0, len(b)+16), b[:first]...)
	for i := first; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if needsEscape(r) {
			out = append(out, '\\', 'u', hexDigit[r>>12&0xf], hexDigit[r>>8&0xf], hexDigit[r>>4&0xf], hexDigit[r&0xf])
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

const hexDigit = "0123456789abcdef"

// appendJSONFinding appends f as encoding/json with SetIndent("    ", "  ")
// and SetEscapeHTML(false) writes it, without the trailing newline
// (TestAppendJSONFindingMatchesEncoder, FuzzAppendJSONFinding).
func appendJSONFinding(b []byte, f jsonFinding) []byte {
	b = append(b, "{\n      \"rule\": "...)
	b = appendJSONString(b, f.Rule)
	b = append(b, ",\n      \"severity\": "...)
	b = appendJSONString(b, f.Severity)
	b = append(b, ",\n      \"message\": "...)
	b = appendJSONString(b, f.Message)
	b = append(b, ",\n      \"path\": "...)
	b = appendJSONString(b, f.Path)
	b = append(b, ",\n      \"line\": "...)
	b = strconv.AppendInt(b, int64(f.Line), 10)
	b = append(b, ",\n      \"column\": "...)
	b = strconv.AppendInt(b, int64(f.Column), 10)
	b = append(b, ",\n      \"package\": "...)
	if p := f.Package; p != nil {
		b = append(b, "{\n        \"ecosystem\": "...)
		b = appendJSONString(b, p.Ecosystem)
		b = append(b, ",\n        \"name\": "...)
		b = appendJSONString(b, p.Name)
		b = append(b, ",\n        \"version\": "...)
		b = appendJSONString(b, p.Version)
		b = append(b, "\n      }"...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, ",\n      \"fix\": "...)
	b = appendJSONString(b, f.Fix)
	b = append(b, ",\n      \"fingerprint\": "...)
	b = appendJSONString(b, f.Fingerprint)
	if s := f.Suppressed; s != nil {
		b = append(b, ",\n      \"suppressed\": {\n        \"kind\": "...)
		b = appendJSONString(b, s.Kind)
		b = append(b, ",\n        \"reason\": "...)
		b = appendJSONString(b, s.Reason)
		b = append(b, ",\n        \"source\": "...)
		b = appendJSONString(b, s.Source)
		b = append(b, "\n      }"...)
	}
	return append(b, "\n    }"...)
}

// appendJSONString appends s quoted as encoding/json does without HTML
// escaping, then made safe for logs by jsonSafe. Plain printable ASCII, nearly every string here, is copied as
// is; anything else goes through encoding/json itself, so that escapes,
// invalid UTF-8 and U+2028/U+2029 come out exactly as the standard library
// writes them.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes
			return append(b, jsonSafe(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
