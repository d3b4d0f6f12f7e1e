package lockcheck

import (
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var missingIntegrityRule = finding.Rule{
	ID:       "missing-integrity",
	Severity: finding.SeverityHigh,
	Summary:  "A registry or tarball package has no integrity hash, so its content is not verified.",
	Fix:      "Regenerate the lockfile so every registry package records an integrity hash (npm/yarn/pnpm write one by default).",
	Help: "Without an integrity hash the package manager installs whatever bytes the server returns. " +
		"Git, link and local-directory dependencies are not flagged (they have no integrity by design; see non-registry-source).",
}

var missingIntegrity = Rule{Rule: missingIntegrityRule, CheckLockfile: checkMissingIntegrity}

func checkMissingIntegrity(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Integrity != "" || (p.Source != lockfile.SourceRegistry && p.Source != lockfile.SourceTarball) {
			continue
		}
		msg := label(p) + " has no integrity hash"
		if p.Resolved != "" {
			msg += " (resolved " + p.Resolved + ")"
		}
		fix := "Regenerate the lockfile entry for " + p.Name + " (delete it and reinstall) so it records a sha512 integrity hash."
		report(c.pkgFinding(&missingIntegrityRule, p, msg, fix))
	}
}
