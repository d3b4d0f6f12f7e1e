package output

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJSONStreamMatchesEncoder: the streaming writer gives exactly the bytes
// of encoding the whole document at once with encoding/json.
func TestJSONStreamMatchesEncoder(t *testing.T) {
	one := richReport()
	one.Findings = one.Findings[:1]
	for name, r := range map[string]Report{"rich": richReport(), "empty": emptyReport(), "one": one} {
		t.Run(name, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := writeJSON(&got, r); err != nil {
				t.Fatal(err)
			}
			doc := jsonReport{
				Schema:   JSONSchema,
				Tool:     jsonTool{Name: "buildwall", Version: r.ToolVersion},
				Findings: []jsonFinding{},
			}
			for _, f := range r.Findings {
				doc.Findings = append(doc.Findings, toJSONFinding(f))
			}
			c := countFindings(r.Findings)
			doc.Summary = jsonSummary{Critical: c.critical, High: c.high, Medium: c.medium, Low: c.low,
				Files: len(r.Files), Suppressed: r.Suppressed}
			if err := encodeJSON(&want, doc); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("streamed JSON differs from encoding/json (-want +got):\n%s", diff)
			}
		})
	}
}
