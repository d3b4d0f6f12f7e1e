package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
)

var maliciousPackageRule = finding.Rule{
	ID:       "malicious-package",
	Severity: finding.SeverityCritical,
	Summary:  "A locked name@version is in the malicious-package database.",
	Fix:      "Remove or replace the package and regenerate the lockfile; if it was ever installed, rotate every secret the machine could read.",
	Help: "The exact version is a known malicious release (OSV `MAL-*` record or a GHSA malware advisory). " +
		"Installing it runs the attacker's code, usually from an install script, so treat any machine that installed it as compromised.",
}

var maliciousPackage = Rule{Rule: maliciousPackageRule, CheckLockfile: checkMaliciousPackage}

func checkMaliciousPackage(c *Context, report func(finding.Finding)) {
	if c.Advisories == nil {
		return
	}
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Name == "" || p.Version == "" {
			continue
		}
		ms := c.Advisories.Lookup(Ecosystem, p.Name, p.Version)
		if len(ms) == 0 {
			continue
		}
		var b strings.Builder
		b.WriteString(label(p))
		b.WriteString(" is a known malicious version: ")
		for j, m := range ms {
			if j > 0 {
				b.WriteString("; ")
			}
			b.WriteString(m.ID)
			if len(m.Aliases) > 0 {
				b.WriteString(" (" + strings.Join(m.Aliases, ", ") + ")")
			}
			if m.Summary != "" {
				b.WriteString(": " + m.Summary)
			}
		}
		fix := "Remove or replace " + p.Name + "@" + p.Version + " (pin a clean version, regenerate the lockfile); if it was installed anywhere, treat that machine as compromised and rotate its secrets."
		report(c.pkgFinding(&maliciousPackageRule, p, b.String(), fix))
	}
}
