package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/finding"
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
				Files: len(r.Files), Suppressed: r.suppressedCount()}
			if err := encodeJSON(&want, doc); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("streamed JSON differs from encoding/json (-want +got):\n%s", diff)
			}
		})
	}
}

// encodeFinding is the reference: encoding/json as writeJSON's contract
// says, at the nesting depth of a finding in the document.
func encodeFinding(t testing.TB, f jsonFinding) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return string(jsonSafe(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
}

// TestAppendJSONFindingMatchesEncoder covers the escapes encoding/json
// applies (quotes, backslashes, control characters, invalid UTF-8, U+2028)
// and the HTML characters it must leave alone.
func TestAppendJSONFindingMatchesEncoder(t *testing.T) {
	for _, s := range []string{
		"", "plain", `a "quoted" \ back`, "tab\tnl\ncr\rbs\bff\fnul\x00esc\x1b",
		"<html> & </html>", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf8", "\x7f",
	} {
		for _, f := range []jsonFinding{
			{Rule: s, Severity: "high", Message: s, Path: s, Line: 3, Column: -1, Fix: s, Fingerprint: s},
			{Rule: "r", Message: s, Package: &jsonPackage{Ecosystem: s, Name: s, Version: s}},
		} {
			want := encodeFinding(t, f)
			if got := string(appendJSONFinding(nil, f)); got != want {
				t.Errorf("appendJSONFinding(%q) differs from encoding/json (-want +got):\n%s", s, cmp.Diff(want, got))
			}
		}
	}
}

func FuzzAppendJSONFinding(f *testing.F) {
	f.Add("rule", "msg \"q\" <b>", "a/b.yml", "fix\n", "npm", 7, true)
	f.Add("", "\xff\u2028", "", "", "", 0, false)
	f.Add("r", "bidi\u202e \u0085 \ufeff", "p\u2066", "", "", 1, true)
	f.Fuzz(func(t *testing.T, rule, msg, path, fix, pkg string, line int, withPkg bool) {
		jf := jsonFinding{Rule: rule, Severity: "medium", Message: msg, Path: path, Line: line, Column: line / 2, Fix: fix, Fingerprint: rule + path}
		if withPkg {
			jf.Package = &jsonPackage{Ecosystem: pkg, Name: msg, Version: fix}
		}
		if got, want := string(appendJSONFinding(nil, jf)), encodeFinding(t, jf); got != want {
			t.Fatalf("differs from encoding/json (-want +got):\n%s", cmp.Diff(want, got))
		}
	})
}

// TestSARIFStreamMatchesEncoder: the streamed SARIF log, results encoded
// in concurrent chunks, has exactly the bytes of encoding the whole log at
// once, for reports below, at and above one chunk.
func TestSARIFStreamMatchesEncoder(t *testing.T) {
	for _, n := range []int{0, 1, 7, 512, 1300} {
		r := richReport()
		all := r.Findings
		r.Findings = nil
		for i := range n {
			f := all[i%len(all)]
			f.Line = i // distinct results
			r.Findings = append(r.Findings, f)
		}
		var got, want bytes.Buffer
		if err := writeSARIF(&got, r); err != nil {
			t.Fatal(err)
		}
		rules, index := sarifRules(r)
		run := sarifRun{
			Tool: sarifTool{Driver: sarifDriver{Name: "buildwall", InformationURI: informationURI, Version: r.ToolVersion,
				SemanticVersion: strings.TrimPrefix(r.ToolVersion, "v"), Rules: rules}},
			OriginalURIBaseIDs: map[string]sarifArtifact{srcRoot: srcRootArtifact(r)},
			Results:            []sarifResult{},
			Properties:         &sarifRunProperties{FilesScanned: len(r.Files), Suppressed: r.suppressedCount()},
		}
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: true}}
		for _, f := range r.Findings {
			run.Results = append(run.Results, sarifResultOf(f, index[f.Rule]))
		}
		if err := encodeJSON(&want, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d findings: streamed SARIF differs from encoding/json (-want +got):\n%s", n, cmp.Diff(want.String(), got.String()))
		}
	}
}

// TestTextChunksMatchSequential: text rendered in concurrent chunks is the
// text of rendering every group in order on one goroutine, for reports
// below and across chunk boundaries, including one file whose group is
// larger than a chunk.
func TestTextChunksMatchSequential(t *testing.T) {
	rich := richReport().Findings
	for _, n := range []int{1, 50, 1024, 1025, 3000} {
		var fs []finding.Finding
		for i := range n {
			f := rich[i%len(rich)]
			f.Path = fmt.Sprintf("dir/f%03d.yml", i/(1+i%1500)) // groups of every size, one over 1,024
			f.Line = i
			fs = append(fs, f)
		}
		fs = finding.Sort(fs)
		paint := func(code, s string) string { return code + s }
		var want bytes.Buffer
		ww := &errWriter{w: &want}
		for start := 0; start < len(fs); {
			if start > 0 {
				ww.print("\n")
			}
			end := start + 1
			for end < len(fs) && fs[end].Path == fs[start].Path {
				end++
			}
			writeTextGroup(ww, fs[start:end], paint)
			start = end
		}
		var got bytes.Buffer
		writeTextGroups(&errWriter{w: &got}, fs, paint)
		if got.String() != want.String() {
			t.Errorf("%d findings: chunked text differs (-want +got):\n%s", n, cmp.Diff(want.String(), got.String()))
		}
	}
}

// FuzzJSONSafe: jsonSafe never changes what a JSON string decodes to, and
// leaves none of the runes needsEscape reports.
func FuzzJSONSafe(f *testing.F) {
	for _, s := range []string{"plain", "bidi\u202eevil", "c1\u0085", "\ufeff", "\xff\xc2", "日本 \u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		safe := jsonSafe(b)
		var back, want string
		if err := json.Unmarshal(safe, &back); err != nil {
			t.Fatalf("jsonSafe(%q) = %q does not decode: %v", b, safe, err)
		}
		json.Unmarshal(b, &want)
		if back != want {
			t.Fatalf("jsonSafe changed the value: %q -> %q", want, back)
		}
		for _, r := range string(safe) {
			if r >= 0x80 && needsEscape(r) {
				t.Fatalf("jsonSafe(%q) = %q keeps %U", b, safe, r)
			}
		}
	})
}
