package lockcheck

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var weakIntegrityRule = finding.Rule{
	ID:       "weak-integrity",
	Severity: finding.SeverityMedium,
	Summary:  "The package's only integrity hash is sha1 (no sha256, sha384 or sha512).",
	Fix:      "Regenerate the lockfile entry so it records a sha512 integrity hash.",
	Help: "SHA-1 is broken for collision resistance; a registry that serves a colliding tarball passes the check. " +
		"Entries of one lockfile are reported as one finding with their count and the first five named.",
}

var weakIntegrity = Rule{Rule: weakIntegrityRule, CheckLockfile: checkWeakIntegrity}

func checkWeakIntegrity(c *Context, report func(finding.Finding)) {
	// One finding per lockfile: old clients wrote sha1 for every entry, and
	// one regeneration fixes them all.
	var weak []*lockfile.Package
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Integrity == "" || strongIntegrity(p.Integrity) {
			continue
		}
		if c.ignoredPackage(&weakIntegrityRule, p) {
			report(weakIntegrityFinding(c, p)) // the scan counts it as suppressed
			continue
		}
		weak = append(weak, p)
	}
	switch {
	case len(weak) == 1:
		report(weakIntegrityFinding(c, weak[0]))
	case len(weak) > 1:
		msg := strconv.Itoa(len(weak)) + " entries of " + c.Path + " are verified only by a sha1 (or other weak) integrity hash: " + labels(weak)
		fix := "Regenerate " + c.Path + " (delete it and reinstall with a current package manager) so every entry records a sha512 integrity hash."
		report(c.pkgFinding(&weakIntegrityRule, weak[0], msg, fix))
	}
}

// weakIntegrityFinding is the finding for one package.
func weakIntegrityFinding(c *Context, p *lockfile.Package) finding.Finding {
	algo, _, _ := strings.Cut(strings.TrimSpace(p.Integrity), "-")
	msg := label(p) + " is verified only by a " + algo + " integrity hash"
	fix := "Regenerate the lockfile entry for " + p.Name + " (delete it and reinstall) so it records a sha512 integrity hash."
	return c.pkgFinding(&weakIntegrityRule, p, msg, fix)
}

// strongIntegrity reports whether an SRI string holds a sha256, sha384 or
// sha512 hash.
func strongIntegrity(sri string) bool {
	return strings.Contains(sri, "sha512-") || strings.Contains(sri, "sha384-") || strings.Contains(sri, "sha256-")
}
