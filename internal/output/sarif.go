package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// The SARIF model below is the small subset of SARIF 2.1.0 that buildwall
// writes and GitHub code scanning reads. It is written here rather than
// imported: the Go SARIF library in the module proxy
// (github.com/owenrumney/go-sarif) is a large builder API over the whole
// schema whose map-valued properties and pointer-heavy constructors would
// have to be wrapped anyway to keep output byte-for-byte deterministic,
// while buildwall needs a dozen plain structs whose field order is the
// output order. The structure is checked by TestSARIFStructure and, where
// the tooling is installed, against the official JSON schema.

// SARIF constants.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	// sarifFingerprintKey names buildwall's partial fingerprint; the "/v1"
	// lets the algorithm change without colliding with old alerts.
	sarifFingerprintKey = "buildwall/v1"
	srcRoot             = "%SRCROOT%"
	// informationURI points at the rule reference in the project README.
	informationURI = "https://github.com/buildwall/buildwall#rules"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds"` // one key: sorted by encoding/json anyway
	Results            []sarifResult            `json:"results"`            // never nil
	Invocations        []sarifInvocation        `json:"invocations,omitempty"`
	Properties         *sarifRunProperties      `json:"properties,omitempty"`
}

type sarifRunProperties struct {
	FilesScanned int  `json:"filesScanned"`
	Suppressed   int  `json:"suppressed"`
	Incomplete   bool `json:"incomplete,omitempty"`
}

// sarifInvocation records the run's status: executionSuccessful is false,
// with a notification each, when the scan did not cover everything (it was
// interrupted, or paths were left unscanned).
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

// unscannedRule is the rule scan reports for what it could not read;
// SARIF also lists those as tool execution notifications, so that code
// scanning shows the run as not fully successful.
const unscannedRule = "unscanned-path"

// sarifInvocations returns the run's one invocation: successful for a
// complete scan, else unsuccessful with a notification for the
// interruption and for each unscanned path.
func sarifInvocations(r Report) []sarifInvocation {
	var notes []sarifNotification
	if r.Incomplete {
		notes = append(notes, sarifNotification{Level: "error", Message: sarifText{Text: incompleteNote}})
	}
	for _, f := range r.Findings {
		if f.Rule == unscannedRule {
			loc := sarifPhysicalLocation{ArtifactLocation: artifactOf(f.Path)}
			notes = append(notes, sarifNotification{Level: "error", Message: sarifText{Text: f.Message}, Locations: []sarifLocation{{PhysicalLocation: loc}}})
		}
	}
	failed := len(notes) > 0
	for _, n := range r.Notes {
		notes = append(notes, sarifNotification{Level: "warning", Message: sarifText{Text: n}})
	}
	return []sarifInvocation{{ExecutionSuccessful: !failed, ToolExecutionNotifications: notes}}
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name            string      `json:"name"`
	InformationURI  string      `json:"informationUri"`
	Version         string      `json:"version,omitempty"`
	SemanticVersion string      `json:"semanticVersion,omitempty"`
	Rules           []sarifRule `json:"rules"` // never nil
}

type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name"`
	ShortDescription     sarifText           `json:"shortDescription"`
	FullDescription      sarifText           `json:"fullDescription"`
	Help                 sarifHelp           `json:"help"`
	HelpURI              string              `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfiguration  `json:"defaultConfiguration"`
	Properties           sarifRuleProperties `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          *sarifResultProps  `json:"properties,omitempty"`
}

// sarifSuppression marks a result an ignore matched; code scanning shows it
// as dismissed rather than open.
type sarifSuppression struct {
	Kind          string         `json:"kind"` // "external" or "inSource"
	Justification string         `json:"justification,omitempty"`
	Location      *sarifLocation `json:"location,omitempty"`
}

type sarifResultProps struct {
	Severity string `json:"buildwall-severity"`
	Package  string `json:"package,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI         string     `json:"uri,omitempty"`
	URIBaseID   string     `json:"uriBaseId,omitempty"`
	Description *sarifText `json:"description,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// sarifLevel maps a severity to a SARIF result level: critical and high are
// errors, medium a warning, low a note.
func sarifLevel(s finding.Severity) string {
	switch {
	case s >= finding.SeverityHigh:
		return "error"
	case s == finding.SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is the CVSS-like score GitHub uses to label alerts:
// ≥ 9.0 critical, ≥ 7.0 high, ≥ 4.0 medium, otherwise low.
func securitySeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "9.5"
	case finding.SeverityHigh:
		return "8.0"
	case finding.SeverityMedium:
		return "5.5"
	default:
		return "3.0"
	}
}

// srcRootArtifact describes %SRCROOT%: the repository's top (Report.Base)
// as a file URI ending in "/" when known, which SARIF consumers resolve
// result paths against.
func srcRootArtifact(r Report) sarifArtifact {
	a := sarifArtifact{Description: &sarifText{Text: "The repository root (the git top-level, else the scan root) of the scan of " + sanitize(strings.Join(roots(r.Roots), ", ")) + "; result paths are relative to it."}}
	if strings.HasPrefix(r.Base, "/") {
		p := r.Base
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		a.URI = (&url.URL{Scheme: "file", Path: p}).String()
	}
	return a
}

// semverRE matches a SemVer 2.0.0 version (without the leading "v").
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// writeSARIF writes one SARIF 2.1.0 run. rules[] holds every rule of
// r.Rules sorted by ID, plus a minimal entry for any rule that produced a
// finding without metadata, so every result's ruleIndex is valid.
func writeSARIF(w io.Writer, r Report) error {
	rules, index := sarifRules(r)
	driver := sarifDriver{Name: "buildwall", InformationURI: informationURI, Version: r.ToolVersion, Rules: rules}
	if v := strings.TrimPrefix(r.ToolVersion, "v"); semverRE.MatchString(v) {
		driver.SemanticVersion = v
	}
	run := sarifRun{
		Tool:               sarifTool{Driver: driver},
		OriginalURIBaseIDs: map[string]sarifArtifact{srcRoot: srcRootArtifact(r)},
		Results:            []sarifResult{},
		Properties:         &sarifRunProperties{FilesScanned: len(r.Files), Suppressed: r.suppressedCount(), Incomplete: r.Incomplete},
	}
	run.Invocations = sarifInvocations(r)
	if len(r.Findings) == 0 {
		return encodeJSON(w, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
	}
	// The document without results, split where its empty results array
	// is: the results are streamed in between (TestSARIFStreamMatchesEncoder).
	var frame bytes.Buffer
	if err := encodeJSON(&frame, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}); err != nil {
		return err
	}
	const empty = `"results": []`
	at := bytes.Index(frame.Bytes(), []byte(empty)) // unique: a quote inside a string is escaped
	if at < 0 {
		return fmt.Errorf("sarif: no results array in the encoded frame")
	}
	head, tail := frame.Bytes()[:at+len(empty)-1], frame.Bytes()[at+len(empty)-1:]
	lineStart := bytes.LastIndexByte(head, '\n') + 1
	indent := string(head[lineStart : lineStart+len(head[lineStart:])-len(bytes.TrimLeft(head[lineStart:], " "))])
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	err := encodeChunks(bw, len(r.Findings), indent+"  ", func(i int) any {
		return sarifResultOf(r.Findings[i], index[r.Findings[i].Rule])
	})
	if err != nil {
		return err
	}
	bw.WriteString("\n" + indent)
	bw.Write(tail)
	return bw.Flush()
}

// encodeChunks writes n values, value(i) for i in order, as the elements
// of a JSON array that encoding/json with two-space indentation places at
// indent (the opening bracket is already written; the closing one is the
// caller's). Chunks of values are encoded concurrently, one per CPU, and
// written in order, so a report of tens of thousands of results does not
// wait for one core.
func encodeChunks(w io.Writer, n int, indent string, value func(i int) any) error {
	const chunk = 512
	chunks := (n + chunk - 1) / chunk
	bufs := make([][]byte, chunks)
	errs := make([]error, chunks)
	concurrently(chunks, func(c int) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent(indent, "  ")
		for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n" + indent)
			if errs[c] = enc.Encode(value(i)); errs[c] != nil {
				return
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline
		}
		bufs[c] = jsonSafe(buf.Bytes())
	})
	for c := range chunks {
		if errs[c] != nil {
			return errs[c]
		}
		if _, err := w.Write(bufs[c]); err != nil {
			return err
		}
	}
	return nil
}

func roots(rs []string) []string {
	if len(rs) == 0 {
		return []string{"."}
	}
	return rs
}

// sarifRules builds rules[] and the index of each rule ID in it.
func sarifRules(r Report) ([]sarifRule, map[string]int) {
	meta := map[string]finding.Rule{}
	for _, ru := range r.Rules {
		if _, dup := meta[ru.ID]; !dup {
			meta[ru.ID] = ru
		}
	}
	for _, f := range r.Findings {
		if _, ok := meta[f.Rule]; !ok {
			meta[f.Rule] = finding.Rule{ID: f.Rule, Severity: f.Severity, Summary: "Findings of rule " + f.Rule + "."}
		}
	}
	ids := make([]string, 0, len(meta))
	for id := range meta {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rules := make([]sarifRule, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		rules[i] = sarifRuleOf(meta[id])
		index[id] = i
	}
	return rules, index
}

func sarifRuleOf(ru finding.Rule) sarifRule {
	summary := strings.TrimSpace(ru.Summary)
	full := summary
	text := summary
	md := "**What it catches:** " + summary
	if ru.Fix != "" {
		full += " How to fix: " + ru.Fix
		text += "\n\nHow to fix: " + ru.Fix
		md += "\n\n**How to fix:** " + ru.Fix
	}
	if h := strings.TrimSpace(ru.Help); h != "" {
		text += "\n\n" + h
		md += "\n\n" + h
	}
	return sarifRule{
		ID:                   ru.ID,
		Name:                 pascalCase(ru.ID),
		ShortDescription:     sarifText{Text: summary},
		FullDescription:      sarifText{Text: full},
		Help:                 sarifHelp{Text: text, Markdown: md},
		HelpURI:              informationURI,
		DefaultConfiguration: sarifConfiguration{Level: sarifLevel(ru.Severity)},
		Properties: sarifRuleProperties{
			Tags:             []string{"security", "supply-chain"},
			SecuritySeverity: securitySeverity(ru.Severity),
			Precision:        "high",
		},
	}
}

// sarifResultOf converts one finding. The message and package label are
// escaped (termsafe) although JSON would carry any byte: code scanning turns
// them into pull-request annotations and SARIF viewers print them on
// terminals, so they get the same treatment as the text format.
func sarifResultOf(f finding.Finding, ruleIndex int) sarifResult {
	msg := f.Message
	if f.Fix != "" {
		msg += "\nFix: " + f.Fix
	}
	res := sarifResult{
		RuleID:              f.Rule,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifText{Text: termsafe.Lines(strings.ReplaceAll(msg, "\r\n", "\n"))},
		PartialFingerprints: map[string]string{sarifFingerprintKey: f.Fingerprint()},
		Properties:          &sarifResultProps{Severity: f.Severity.String()},
	}
	if f.Package != nil {
		res.Properties.Package = sanitize(packageLabel(f.Package))
	}
	if s := f.Suppressed; s != nil {
		sup := sarifSuppression{Kind: s.Kind, Justification: termsafe.Lines(s.Reason)}
		if s.Source != "" {
			sup.Location = suppressionLocation(s.Source)
		}
		res.Suppressions = []sarifSuppression{sup}
	}
	if f.Path != "" {
		loc := sarifPhysicalLocation{
			ArtifactLocation: artifactOf(f.Path),
			Region:           &sarifRegion{StartLine: max(f.Line, 1)},
		}
		if f.Line > 0 && f.Column > 0 {
			loc.Region.StartColumn = f.Column
		}
		res.Locations = []sarifLocation{{PhysicalLocation: loc}}
	}
	return res
}

// suppressionLocation turns "path:line" into a SARIF location.
func suppressionLocation(source string) *sarifLocation {
	p, line := source, 0
	if i := strings.LastIndexByte(source, ':'); i > 0 {
		if n, err := strconv.Atoi(source[i+1:]); err == nil && n > 0 {
			p, line = source[:i], n
		}
	}
	loc := sarifPhysicalLocation{ArtifactLocation: artifactOf(p)}
	if line > 0 {
		loc.Region = &sarifRegion{StartLine: line}
	}
	return &sarifLocation{PhysicalLocation: loc}
}

// artifactOf turns a finding path into a URI reference: relative paths are
// percent-encoded and resolved against %SRCROOT%; absolute paths (files
// outside every scan root) become file URIs.
func artifactOf(path string) sarifArtifact {
	if strings.HasPrefix(path, "/") {
		return sarifArtifact{URI: (&url.URL{Scheme: "file", Path: path}).String()}
	}
	// url.URL.String prefixes "./" when the first segment holds a colon, so
	// the reference is never mistaken for a scheme.
	return sarifArtifact{URI: (&url.URL{Path: path}).String(), URIBaseID: srcRoot}
}

// pascalCase turns "missing-integrity" into "MissingIntegrity".
func pascalCase(id string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(id, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
