package output_test

import (
	"fmt"
	"os"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/output"
)

func ExampleWrite() {
	r := output.Report{
		ToolVersion: "v1.0.0",
		Roots:       []string{"."},
		Files:       []string{"package-lock.json"},
		Findings: []finding.Finding{{
			Rule:     "missing-integrity",
			Severity: finding.SeverityHigh,
			Message:  "left-pad@1.3.0 has no integrity hash",
			Location: finding.Location{Path: "package-lock.json", Line: 7, Column: 5},
			Package:  &finding.Package{Ecosystem: "npm", Name: "left-pad", Version: "1.3.0"},
			Fix:      "Regenerate the lockfile.",
		}},
	}
	// The caller decides about colors: output.ColorEnabled(os.Stdout, os.Getenv).
	if err := output.Write(os.Stdout, output.FormatText, r, output.Options{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// package-lock.json
	//   7:5  HIGH      missing-integrity  left-pad@1.3.0 has no integrity hash
	//        package: npm left-pad@1.3.0
	//        fix: Regenerate the lockfile.
	//
	// 1 finding (0 critical, 1 high, 0 medium, 0 low) in 1 file; 1 file scanned
}

func ExampleRuleTable() {
	fmt.Print(output.RuleTable([]finding.Rule{{
		ID: "weak-integrity", Severity: finding.SeverityMedium,
		Summary: "Only a sha1 integrity hash.", Fix: "Regenerate the lockfile so it records sha512.",
	}}))
	// Output:
	// | ID | Severity | What it catches | How to fix |
	// | --- | --- | --- | --- |
	// | `weak-integrity` | medium | Only a sha1 integrity hash. | Regenerate the lockfile so it records sha512. |
}
