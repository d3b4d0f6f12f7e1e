package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/output"
	"github.com/buildwall/buildwall/internal/testutil"
)

const (
	rulesBegin = "<!-- rules:begin -->"
	rulesEnd   = "<!-- rules:end -->"
)

// readmeRuleBlock is what belongs between the README's rule markers.
func readmeRuleBlock(rules []finding.Rule) string {
	return "\n<!-- generated from the code by `go test ./internal/cli -run TestREADMERuleTable -update`; do not edit -->\n" +
		output.RuleTable(rules)
}

// TestREADMERuleTable keeps the README's rule reference equal to the rules
// in the code; `go test ./internal/cli -run TestREADMERuleTable -update`
// rewrites the part between the markers.
func TestREADMERuleTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	readme := string(data)
	begin := strings.Index(readme, rulesBegin)
	end := strings.Index(readme, rulesEnd)
	if begin < 0 || end < begin || strings.Count(readme, rulesBegin) != 1 || strings.Count(readme, rulesEnd) != 1 {
		t.Fatalf("README.md must contain %s and then %s exactly once each", rulesBegin, rulesEnd)
	}
	got := readme[begin+len(rulesBegin) : end]
	want := readmeRuleBlock(allRules())
	if got == want {
		return
	}
	if *testutil.Update {
		updated := readme[:begin+len(rulesBegin)] + want + readme[end:]
		if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README rule table is stale; run go test ./internal/cli -run TestREADMERuleTable -update (-want +got):\n%s",
		cmp.Diff(want, got))
}

var ruleIDRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// TestAllRules checks the metadata every output format relies on.
func TestAllRules(t *testing.T) {
	rules := allRules()
	if len(rules) == 0 {
		t.Fatal("allRules() is empty")
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if !ruleIDRE.MatchString(r.ID) {
			t.Errorf("rule ID %q is not kebab-case", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("rule ID %q appears twice", r.ID)
		}
		seen[r.ID] = true
		if r.Severity < finding.SeverityLow || r.Severity > finding.SeverityCritical {
			t.Errorf("rule %q has severity %v", r.ID, r.Severity)
		}
		if strings.TrimSpace(r.Summary) == "" || strings.TrimSpace(r.Fix) == "" {
			t.Errorf("rule %q lacks a summary or a fix", r.ID)
		}
	}
	// The lockfile rule IDs and severities are a public contract (issue 2).
	want := map[string]finding.Severity{
		"malicious-package":    finding.SeverityCritical,
		"missing-integrity":    finding.SeverityHigh,
		"weak-integrity":       finding.SeverityMedium,
		"insecure-source":      finding.SeverityHigh,
		"untrusted-registry":   finding.SeverityHigh,
		"name-mismatch":        finding.SeverityHigh,
		"non-registry-source":  finding.SeverityMedium,
		"install-script":       finding.SeverityMedium,
		"lockfile-missing":     finding.SeverityHigh,
		"lockfile-drift":       finding.SeverityHigh,
		"unparseable-lockfile": finding.SeverityHigh,
	}
	got := map[string]finding.Severity{}
	for _, r := range rules {
		if _, ok := want[r.ID]; ok {
			got[r.ID] = r.Severity
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contract rules mismatch (-want +got):\n%s", diff)
	}
}

func runRulesCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestRulesCommand(t *testing.T) {
	all := allRules()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErr    string   // substring of stderr
		wantNotOut string
	}{
		{name: "text", args: []string{"rules"}, wantCode: ExitOK,
			wantOut: []string{"malicious-package", "critical", "fix: "}},
		{name: "markdown", args: []string{"rules", "--format", "markdown"}, wantCode: ExitOK,
			wantOut: []string{output.RuleTable(all)}},
		{name: "select", args: []string{"rules", "weak-integrity"}, wantCode: ExitOK,
			wantOut: []string{"weak-integrity", "1 rule\n"}, wantNotOut: "malicious-package"},
		{name: "unknown_rule", args: []string{"rules", "no-such-rule"}, wantCode: ExitUsage,
			wantErr: `unknown rule "no-such-rule"`},
		{name: "sarif_format", args: []string{"rules", "--format", "sarif"}, wantCode: ExitUsage,
			wantErr: "does not list rules"},
		{name: "bad_format", args: []string{"rules", "--format", "xml"}, wantCode: ExitUsage,
			wantErr: "unknown output format"},
		{name: "bad_flag", args: []string{"rules", "--nope"}, wantCode: ExitUsage,
			wantErr: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runRulesCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tt.wantNotOut != "" && strings.Contains(out, tt.wantNotOut) {
				t.Errorf("stdout has %q:\n%s", tt.wantNotOut, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestRulesCommandJSON(t *testing.T) {
	code, out, errOut := runRulesCLI(t, "rules", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit code = %d, stderr %q", code, errOut)
	}
	var doc struct {
		Schema string `json:"schema"`
		Rules  []struct {
			ID       string `json:"id"`
			Severity string `json:"severity"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decode rules JSON: %v\n%s", err, out)
	}
	if doc.Schema != output.RulesJSONSchema {
		t.Errorf("schema = %q, want %q", doc.Schema, output.RulesJSONSchema)
	}
	var want, got []string
	for _, r := range allRules() {
		want = append(want, r.ID+" "+r.Severity.String())
	}
	for _, r := range doc.Rules {
		got = append(got, r.ID+" "+r.Severity)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules mismatch (-want +got):\n%s", diff)
	}
}
