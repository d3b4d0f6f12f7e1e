package cicheck

import (
	"errors"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var unparseableConfigRule = finding.Rule{
	ID:       "unparseable-config",
	Severity: finding.SeverityHigh,
	Summary:  "A CI configuration file (workflow, action, Dockerfile, GitLab CI) cannot be parsed (low when the only problem is an unknown key, which is ignored while every rule checks the rest).",
	Fix:      "Fix the syntax error at the reported position; the CI system rejects or misreads the file, and no other rule could check it fully.",
	Help: "buildwall could not parse the file, so it cannot vouch for it: a workflow GitHub rejects does not run, " +
		"but one that parses differently elsewhere may hide a step. The message names the first problem. " +
		"Valid workflows are read leniently: parallel: steps are checked like any other step, empty sections and whole-section " +
		"expressions that read no outsider's context are accepted, an entirely commented-out file is empty, and an unknown key " +
		"(a newer GitHub feature) is reported as low and ignored, except parallel: beside run: or uses:.",
}

var unparseableConfig = Rule{Rule: unparseableConfigRule}

// Unparseable returns the unparseable-config finding for a file at path
// (slash-separated, relative to the scan root) that failed to parse with
// err. A *ciconfig.ParseError's position becomes the finding's location.
func Unparseable(path string, err error) finding.Finding {
	f := finding.Finding{
		Rule:     unparseableConfigRule.ID,
		Severity: unparseableConfigRule.Severity,
		Message:  "cannot parse: " + err.Error(),
		Location: finding.Location{Path: path},
		Fix:      unparseableConfigRule.Fix,
	}
	var pe *ciconfig.ParseError
	if errors.As(err, &pe) {
		f.Message = "cannot parse: " + pe.Msg
		f.Line, f.Column = pe.Pos.Line, pe.Pos.Column
		if pe.Minor {
			// Only unknown keys: the file was understood and every rule
			// checked it; the key is ignored.
			f.Severity = finding.SeverityLow
			f.Message = "ignored: " + pe.Msg + " (every rule still checked the rest of the file)"
			f.Fix = "Check the key's spelling; a newer GitHub feature buildwall does not know yet is ignored, not checked."
		}
	}
	return f
}
