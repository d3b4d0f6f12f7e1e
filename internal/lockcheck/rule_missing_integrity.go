package lockcheck

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var missingIntegrityRule = finding.Rule{
	ID:       "missing-integrity",
	Severity: finding.SeverityHigh,
	Summary:  "A registry or tarball package has no integrity hash, so its content is not verified.",
	Fix:      "Regenerate the lockfile so every registry package records an integrity hash (npm/yarn/pnpm write one by default).",
	Help: "Without an integrity hash the package manager installs whatever bytes the server returns. " +
		"Entries of one lockfile are reported as one finding with their count and the first five named; yarn berry's " +
		"platform-specific entries (conditions:) that carry no checksum are a separate low finding. " +
		"Git, link and local-directory dependencies are not flagged (they have no integrity by design; see non-registry-source).",
}

var missingIntegrity = Rule{Rule: missingIntegrityRule, CheckLockfile: checkMissingIntegrity}

// integrityShown is how many entries an aggregated finding names.
const integrityShown = 5

func checkMissingIntegrity(c *Context, report func(finding.Finding)) {
	// One finding per lockfile and cause: registry and tarball entries that
	// should carry a hash (high: regenerating the lockfile fixes them), and
	// yarn berry's platform-specific entries, which carry none unless the
	// locking machine fetched them (low: nothing to fix in the lockfile).
	// Only optional registry entries count as such: a required package that
	// a pull request gives a platform condition and no checksum stays high.
	var plain, conditional []*lockfile.Package
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Integrity != "" || (p.Source != lockfile.SourceRegistry && p.Source != lockfile.SourceTarball) {
			continue
		}
		if c.ignoredPackage(&missingIntegrityRule, p) {
			report(missingIntegrityFinding(c, p)) // the scan counts it as suppressed
			continue
		}
		if p.Conditions != "" && p.Optional && p.Source == lockfile.SourceRegistry {
			conditional = append(conditional, p)
		} else {
			plain = append(plain, p)
		}
	}
	if len(plain) == 1 {
		report(missingIntegrityFinding(c, plain[0]))
	} else if len(plain) > 1 {
		msg := strconv.Itoa(len(plain)) + " entries of " + c.Path + " have no integrity hash: " + labels(plain)
		fix := "Regenerate " + c.Path + " (delete it and reinstall with a current package manager) so every entry records a sha512 integrity hash."
		report(c.pkgFinding(&missingIntegrityRule, plain[0], msg, fix))
	}
	if len(conditional) > 0 {
		f := c.pkgFinding(&missingIntegrityRule, conditional[0],
			strconv.Itoa(len(conditional))+" platform-specific entries of "+c.Path+" (yarn conditions) have no checksum because the machine that wrote the lockfile did not fetch them: "+labels(conditional),
			"Nothing to change in the lockfile; to record their checksums, list the platforms in supportedArchitectures (.yarnrc.yml) and run yarn install.")
		f.Severity = finding.SeverityLow
		report(f)
	}
}

// labels names the first integrityShown packages and counts the rest.
func labels(ps []*lockfile.Package) string {
	var b strings.Builder
	for i, p := range ps {
		if i == integrityShown {
			b.WriteString(" and " + strconv.Itoa(len(ps)-i) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(label(p))
		if p.Conditions != "" {
			b.WriteString(" [" + p.Conditions + "]")
		}
	}
	return b.String()
}

// missingIntegrityFinding is the finding for one package.
func missingIntegrityFinding(c *Context, p *lockfile.Package) finding.Finding {
	msg := label(p) + " has no integrity hash"
	if p.Resolved != "" {
		msg += " (resolved " + p.Resolved + ")"
	}
	fix := "Regenerate the lockfile entry for " + p.Name + " (delete it and reinstall) so it records a sha512 integrity hash."
	return c.pkgFinding(&missingIntegrityRule, p, msg, fix)
}

// ignoredPackage reports whether an ignore of the scan configuration would
// suppress r's finding for p on its own. Aggregated findings leave such
// packages out (they are reported on their own, for the scan to suppress and
// count), so that ignoring one package neither hides the others (when it
// would be named first) nor keeps them all reported.
func (c *Context) ignoredPackage(r *finding.Rule, p *lockfile.Package) bool {
	if c.Config == nil || len(c.Config.Ignores) == 0 {
		return false
	}
	f := c.pkgFinding(r, p, "", "")
	for i := range c.Config.Ignores {
		if c.Config.Ignores[i].Package != "" && c.Config.Ignores[i].Match(&f) {
			return true
		}
	}
	return false
}
