package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
)

var weakIntegrityRule = finding.Rule{
	ID:       "weak-integrity",
	Severity: finding.SeverityMedium,
	Summary:  "The package's only integrity hash is sha1 (no sha256, sha384 or sha512).",
	Fix:      "Regenerate the lockfile entry so it records a sha512 integrity hash.",
	Help:     "SHA-1 is broken for collision resistance; a registry that serves a colliding tarball passes the check.",
}

var weakIntegrity = Rule{Rule: weakIntegrityRule, CheckLockfile: checkWeakIntegrity}

func checkWeakIntegrity(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Integrity == "" || strongIntegrity(p.Integrity) {
			continue
		}
		algo, _, _ := strings.Cut(strings.TrimSpace(p.Integrity), "-")
		msg := label(p) + " is verified only by a " + algo + " integrity hash"
		fix := "Regenerate the lockfile entry for " + p.Name + " (delete it and reinstall) so it records a sha512 integrity hash."
		report(c.pkgFinding(&weakIntegrityRule, p, msg, fix))
	}
}

// strongIntegrity reports whether an SRI string holds a sha256, sha384 or
// sha512 hash.
func strongIntegrity(sri string) bool {
	return strings.Contains(sri, "sha512-") || strings.Contains(sri, "sha384-") || strings.Contains(sri, "sha256-")
}
