package scan

import (
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/termsafe"
)

var unscannedPathRule = finding.Rule{
	ID:       "unscanned-path",
	Severity: finding.SeverityHigh,
	Summary:  "A file or directory that should have been scanned was not: unreadable, over the size limit, not a regular file, or a symbolic link leading outside the scanned root.",
	Fix:      "Make the path a readable regular file inside the repository (or remove it), then scan again.",
	Help: "buildwall fails closed: what it could not read is a finding, never a warning that lets the gate pass. " +
		"It reads only regular files inside the scanned root: a symbolic link whose target leaves the root " +
		"(an absolute link, `..` above the root, `/proc/self/fd/...`) is reported here and its target is never read, " +
		"and FIFOs, sockets and devices are never opened. A directory it cannot list and a file it cannot open " +
		"(permission denied, I/O error) are reported here too.",
}

// Rules returns the metadata of the rules scan reports itself (not through
// lockcheck or cicheck).
func Rules() []finding.Rule {
	return []finding.Rule{unscannedPathRule, ignoreInvalidRule, ignoreExpiredRule, ignoreUnusedRule}
}

// Unscanned returns the unscanned-path finding for rel (slash-separated,
// relative to the scan root), for files scan does not read itself (the
// configuration file). reason must never carry file content.
func Unscanned(rel string, reason error) finding.Finding { return unscanned(rel, reason) }

// unscannedSep follows the path in an unscanned-path message.
const unscannedSep = " was not scanned: "

func unscanned(rel string, reason error) finding.Finding {
	return finding.Finding{
		Rule:     unscannedPathRule.ID,
		Severity: unscannedPathRule.Severity,
		Message:  termsafe.String(rel) + unscannedSep + termsafe.String(reason.Error()),
		Location: finding.Location{Path: rel},
		Fix:      unscannedPathRule.Fix,
	}
}
