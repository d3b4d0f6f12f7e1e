package output

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/finding"
)

// sarifDoc is an independent, loosely typed reading of the SARIF output, so
// the structure test does not trust the writer's own structs.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name            string `json:"name"`
				InformationURI  string `json:"informationUri"`
				SemanticVersion string `json:"semanticVersion"`
				Rules           []struct {
					ID               string            `json:"id"`
					Name             string            `json:"name"`
					ShortDescription map[string]string `json:"shortDescription"`
					FullDescription  map[string]string `json:"fullDescription"`
					Help             map[string]string `json:"help"`
					Default          map[string]string `json:"defaultConfiguration"`
					Properties       struct {
						Tags             []string `json:"tags"`
						SecuritySeverity string   `json:"security-severity"`
						Precision        string   `json:"precision"`
					} `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		OriginalURIBaseIDs map[string]json.RawMessage `json:"originalUriBaseIds"`
		Results            []struct {
			RuleID    *string           `json:"ruleId"`
			RuleIndex *int              `json:"ruleIndex"`
			Level     string            `json:"level"`
			Message   map[string]string `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine   *int `json:"startLine"`
						StartColumn *int `json:"startColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
		} `json:"results"`
	} `json:"runs"`
}

// TestSARIFStructure checks what GitHub code scanning requires of an upload,
// result by result against the findings that produced it.
func TestSARIFStructure(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkSARIF(t, c.report)
		})
	}
}

func checkSARIF(t *testing.T, r Report) {
	t.Helper()
	var doc sarifDoc
	if err := json.Unmarshal(render(t, FormatSARIF, r, Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || doc.Schema == "" {
		t.Errorf("version = %q, $schema = %q; want 2.1.0 and a schema URI", doc.Version, doc.Schema)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(doc.Runs))
	}
	run := doc.Runs[0]
	d := run.Tool.Driver
	if d.Name != "buildwall" || d.InformationURI == "" {
		t.Errorf("driver name = %q, informationUri = %q", d.Name, d.InformationURI)
	}
	if _, ok := run.OriginalURIBaseIDs[srcRoot]; !ok {
		t.Errorf("originalUriBaseIds lacks %s", srcRoot)
	}
	validLevel := map[string]bool{"error": true, "warning": true, "note": true}
	ids := map[string]bool{}
	for i, ru := range d.Rules {
		if ru.ID == "" || ru.Name == "" || ru.ShortDescription["text"] == "" || ru.FullDescription["text"] == "" ||
			ru.Help["text"] == "" || ru.Help["markdown"] == "" {
			t.Errorf("rule %d (%q) lacks id, name, descriptions or help", i, ru.ID)
		}
		if ids[ru.ID] {
			t.Errorf("rule %q appears twice", ru.ID)
		}
		ids[ru.ID] = true
		if i > 0 && d.Rules[i-1].ID >= ru.ID {
			t.Errorf("rules not sorted by id: %q before %q", d.Rules[i-1].ID, ru.ID)
		}
		if !validLevel[ru.Default["level"]] {
			t.Errorf("rule %q default level %q", ru.ID, ru.Default["level"])
		}
		score, err := strconv.ParseFloat(ru.Properties.SecuritySeverity, 64)
		if err != nil || score <= 0 || score > 10 {
			t.Errorf("rule %q security-severity %q is not a score in (0, 10]", ru.ID, ru.Properties.SecuritySeverity)
		}
		if !contains(ru.Properties.Tags, "security") || ru.Properties.Precision == "" {
			t.Errorf("rule %q tags %v precision %q: want the security tag and a precision", ru.ID, ru.Properties.Tags, ru.Properties.Precision)
		}
	}
	for _, ru := range r.Rules {
		if !ids[ru.ID] {
			t.Errorf("rule %q that ran is missing from rules[]", ru.ID)
		}
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("got %d results, want %d", len(run.Results), len(r.Findings))
	}
	fps := map[string]bool{}
	for i, res := range run.Results {
		f := r.Findings[i]
		if res.RuleID == nil || *res.RuleID != f.Rule {
			t.Errorf("result %d ruleId = %v, want %q", i, res.RuleID, f.Rule)
			continue
		}
		if res.RuleIndex == nil || *res.RuleIndex < 0 || *res.RuleIndex >= len(d.Rules) || d.Rules[*res.RuleIndex].ID != f.Rule {
			t.Errorf("result %d (%s) ruleIndex %v does not point at its rule", i, f.Rule, res.RuleIndex)
		}
		if want := sarifLevel(f.Severity); res.Level != want || !validLevel[res.Level] {
			t.Errorf("result %d level = %q, want %q", i, res.Level, want)
		}
		if res.Message["text"] == "" {
			t.Errorf("result %d has no message text", i)
		}
		fp := res.PartialFingerprints[sarifFingerprintKey]
		if fp == "" || fps[fp] {
			t.Errorf("result %d fingerprint %q is empty or repeated", i, fp)
		}
		fps[fp] = true
		if len(res.Locations) != 1 {
			t.Errorf("result %d has %d locations, want 1", i, len(res.Locations))
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		u, err := url.Parse(pl.ArtifactLocation.URI)
		// A first segment with a colon gets "./" so it is not read as a
		// scheme (artifactOf).
		if err != nil || u.IsAbs() || strings.TrimPrefix(u.Path, "./") != f.Path || pl.ArtifactLocation.URIBaseID != srcRoot {
			t.Errorf("result %d artifact %+v: want a relative URI of %q based on %s (parse error %v)", i, pl.ArtifactLocation, f.Path, srcRoot, err)
		}
		if pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine < 1 {
			t.Errorf("result %d region %+v: want startLine >= 1", i, pl.Region)
			continue
		}
		if f.Line > 0 && *pl.Region.StartLine != f.Line {
			t.Errorf("result %d startLine = %d, want %d", i, *pl.Region.StartLine, f.Line)
		}
		if got := pl.Region.StartColumn; (f.Line > 0 && f.Column > 0) != (got != nil) || got != nil && *got != f.Column {
			t.Errorf("result %d startColumn = %v, want %d (absent when unknown)", i, got, f.Column)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSARIFArtifact(t *testing.T) {
	tests := []struct {
		path string
		want sarifArtifact
	}{
		{"package-lock.json", sarifArtifact{URI: "package-lock.json", URIBaseID: srcRoot}},
		{"dir with space/yarn.lock", sarifArtifact{URI: "dir%20with%20space/yarn.lock", URIBaseID: srcRoot}},
		{"a:b/package-lock.json", sarifArtifact{URI: "./a:b/package-lock.json", URIBaseID: srcRoot}},
		{"odd#name?.json", sarifArtifact{URI: "odd%23name%3F.json", URIBaseID: srcRoot}},
		{"/abs/outside/package-lock.json", sarifArtifact{URI: "file:///abs/outside/package-lock.json"}},
	}
	for _, tt := range tests {
		if got := artifactOf(tt.path); got != tt.want {
			t.Errorf("artifactOf(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func TestSARIFSemanticVersion(t *testing.T) {
	for ver, want := range map[string]string{"v1.2.3": "1.2.3", "1.0.0-rc.1": "1.0.0-rc.1", "dev": "", "v1.2": ""} {
		var doc sarifDoc
		if err := json.Unmarshal(render(t, FormatSARIF, Report{ToolVersion: ver}, Options{}), &doc); err != nil {
			t.Fatal(err)
		}
		if got := doc.Runs[0].Tool.Driver.SemanticVersion; got != want {
			t.Errorf("version %q: semanticVersion = %q, want %q", ver, got, want)
		}
	}
}

// TestSARIFSchema validates the output against the official SARIF 2.1.0
// JSON schema with ajv under node. The tooling is pinned by
// testdata/sarifschema/package-lock.json and installed by
// `npm ci --prefix internal/output/testdata/sarifschema` (.ci/run does it).
func TestSARIFSchema(t *testing.T) {
	dir := filepath.Join("testdata", "sarifschema")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: the SARIF schema check needs node and `npm ci --prefix internal/output/testdata/sarifschema`")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ajv")); err != nil {
		t.Skip("SARIF schema tooling not installed: run `npm ci --prefix internal/output/testdata/sarifschema`")
	}
	unscanned := richReport()
	unscanned.Incomplete = true
	unscanned.Findings = append(unscanned.Findings, finding.Finding{Rule: unscannedRule, Severity: finding.SeverityHigh,
		Message: "cannot read it: permission denied", Location: finding.Location{Path: "secret/package-lock.json"}})
	reports := map[string]Report{"rich": richReport(), "empty": emptyReport(), "zero": {}, "unscanned_incomplete": unscanned}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(node, "validate.js")
			cmd.Dir = dir
			cmd.Stdin = bytes.NewReader(render(t, FormatSARIF, r, Options{}))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("SARIF output fails the 2.1.0 schema: %v\n%s", err, out)
			}
		})
	}
	// The validator must reject what is not SARIF, or the check proves nothing.
	cmd := exec.Command(node, "validate.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader([]byte(`{"version":"2.1.0","runs":[{"results":[{"level":"fatal"}]}]}`))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("validator accepted an invalid SARIF log:\n%s", out)
	}
}

func TestSARIFUnknownRuleGetsMetadata(t *testing.T) {
	r := Report{Findings: []finding.Finding{{Rule: "made-up", Severity: finding.SeverityLow, Message: "m",
		Location: finding.Location{Path: "x"}}}}
	checkSARIF(t, r)
}
