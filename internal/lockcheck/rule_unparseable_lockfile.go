package lockcheck

import (
	"errors"
	"fmt"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/termsafe"
)

var unparseableLockfileRule = finding.Rule{
	ID:       "unparseable-lockfile",
	Severity: finding.SeverityHigh,
	Summary:  "A lockfile or package.json cannot be parsed (or is too large), so nothing in it was checked.",
	Fix:      "Fix or regenerate the file with your package manager so it parses.",
	Help:     "buildwall never skips a file silently: a file it cannot read is a finding, and the scan goes on with the others.",
}

var unparseableLockfile = Rule{Rule: unparseableLockfileRule}

// Unparseable returns the finding for a file at path (slash-separated,
// relative to the scan root) whose parser returned err. A
// *lockfile.ParseError supplies the position. Message and fix quote the
// path (file names may hold newlines) and are escaped with termsafe.
func Unparseable(path string, err error) finding.Finding {
	f := unparseable(path, err)
	f.Message, f.Fix = termsafe.String(f.Message), termsafe.String(f.Fix)
	return f
}

func unparseable(path string, err error) finding.Finding {
	f := finding.Finding{
		Rule:     unparseableLockfileRule.ID,
		Severity: unparseableLockfileRule.Severity,
		Location: finding.Location{Path: path},
		Fix:      "Fix the syntax error or regenerate " + path + " with your package manager, then commit it.",
	}
	var pe *lockfile.ParseError
	if errors.As(err, &pe) {
		f.Line, f.Column = pe.Line, pe.Column
		switch {
		case pe.Line > 0 && pe.Column > 0:
			f.Message = fmt.Sprintf("cannot parse %s at line %d, column %d: %s", path, pe.Line, pe.Column, pe.Msg)
		case pe.Line > 0:
			f.Message = fmt.Sprintf("cannot parse %s at line %d: %s", path, pe.Line, pe.Msg)
		default:
			f.Message = fmt.Sprintf("cannot parse %s: %s", path, pe.Msg)
		}
		return f
	}
	f.Message = fmt.Sprintf("cannot parse %s: %v", path, err)
	return f
}
