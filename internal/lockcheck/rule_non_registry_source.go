package lockcheck

import (
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var nonRegistrySourceRule = finding.Rule{
	ID:       "non-registry-source",
	Severity: finding.SeverityMedium,
	Summary:  "The package comes from git, a GitHub shorthand, a remote tarball or a file: path instead of a registry.",
	Fix:      "Depend on a published registry version; if you must keep it, pin git to a full commit SHA and review it.",
	Help: "Such sources bypass the registry's immutability and malware takedowns: a branch or tag can be moved, a " +
		"tarball URL can serve new bytes, and most have no integrity hash. Workspace and link: packages are not flagged.",
}

var nonRegistrySource = Rule{Rule: nonRegistrySourceRule, CheckLockfile: checkNonRegistrySource}

func checkNonRegistrySource(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		var kind string
		switch p.Source {
		case lockfile.SourceGit:
			kind = "git"
		case lockfile.SourceTarball:
			kind = "a remote tarball"
		case lockfile.SourceFile:
			kind = "a local file"
		default:
			continue
		}
		msg := label(p) + " is installed from " + kind + " rather than a registry"
		if p.Resolved != "" {
			msg += ": " + p.Resolved
		}
		fix := "Depend on a published registry version of " + p.Name + ", or pin the source to an immutable commit and review it."
		report(c.pkgFinding(&nonRegistrySourceRule, p, msg, fix))
	}
}
