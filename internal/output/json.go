package output

import (
	"encoding/json"
	"io"
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
func writeJSON(w io.Writer, r Report) error {
	doc := jsonReport{
		Schema:   JSONSchema,
		Tool:     jsonTool{Name: "buildwall", Version: r.ToolVersion},
		Findings: make([]jsonFinding, 0, len(r.Findings)),
	}
	for _, f := range r.Findings {
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
		if f.Package != nil {
			jf.Package = &jsonPackage{Ecosystem: f.Package.Ecosystem, Name: f.Package.Name, Version: f.Package.Version}
		}
		doc.Findings = append(doc.Findings, jf)
	}
	c := countFindings(r.Findings)
	doc.Summary = jsonSummary{
		Critical: c.critical, High: c.high, Medium: c.medium, Low: c.low,
		Files: len(r.Files), Suppressed: r.Suppressed,
	}
	return encodeJSON(w, doc)
}

// encodeJSON writes v indented with a trailing newline, without HTML escaping.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
