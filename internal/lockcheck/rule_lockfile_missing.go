package lockcheck

import (
	"fmt"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/termsafe"
)

var lockfileMissingRule = finding.Rule{
	ID:       "lockfile-missing",
	Severity: finding.SeverityHigh,
	Summary:  "A package.json declares dependencies but no lockfile exists in its directory or any parent up to the scan root.",
	Fix:      "Generate the lockfile with your package manager, commit it, and install with npm ci / --frozen-lockfile in CI.",
	Help: "Without a lockfile every build resolves the newest matching versions, which is how a hijacked release " +
		"(axios 1.14.1) reaches builds within minutes. Peer dependencies alone do not need a lockfile.",
}

var lockfileMissing = Rule{Rule: lockfileMissingRule, CheckOrphan: checkLockfileMissing}

func checkLockfileMissing(m Manifest, report func(finding.Finding)) {
	if m.Manifest == nil {
		return
	}
	n := 0
	var first *lockfile.Dependency
	for i := range m.Dependencies {
		d := &m.Dependencies[i]
		if d.Kind == lockfile.DepPeer {
			continue
		}
		if first == nil {
			first = d
		}
		n++
	}
	if n == 0 {
		return
	}
	f := finding.Finding{
		Rule:     lockfileMissingRule.ID,
		Severity: lockfileMissingRule.Severity,
		Message:  fmt.Sprintf("%s declares %d dependencies but no lockfile was found in its directory or any parent up to the scan root", m.Path, n),
		Location: finding.Location{Path: m.Path, Line: first.Line, Column: first.Column},
		Fix:      "Run your package manager's install (npm install --package-lock-only, yarn install, pnpm install --lockfile-only) and commit the lockfile.",
	}
	if n == 1 {
		f.Message = fmt.Sprintf("%s declares 1 dependency but no lockfile was found in its directory or any parent up to the scan root", m.Path)
	}
	f.Message = termsafe.String(f.Message) // the path may hold a newline
	report(f)
}
