package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var nameMismatchRule = finding.Rule{
	ID:       "name-mismatch",
	Severity: finding.SeverityHigh,
	Summary:  "The resolved registry tarball URL names a different package or version than the lockfile entry.",
	Fix:      "Delete the lockfile entry and reinstall so the URL matches the package; review who changed it.",
	Help: "A poisoned lockfile can keep an innocent-looking entry (`left-pad`) while pointing its `resolved` URL at " +
		"another package's tarball. Registry tarball paths have the shape `/<name>/-/<base>-<version>.tgz` " +
		"(`/@scope/name/-/name-1.0.0.tgz` for scoped packages).",
}

var nameMismatch = Rule{Rule: nameMismatchRule, CheckLockfile: checkNameMismatch}

func checkNameMismatch(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Name == "" {
			continue
		}
		name, file, ok := lockfile.RegistryTarball(p.Resolved)
		if !ok {
			continue
		}
		stem := file[:len(file)-len(".tgz")]
		var msg string
		switch {
		case name != p.Name:
			msg = "lockfile entry " + label(p) + " resolves to a tarball of another package, " + name
		case p.Version != "" && !tarballStemMatches(stem, name, p.Version):
			msg = "lockfile entry " + label(p) + " resolves to the tarball file " + stem + ".tgz"
		default:
			continue
		}
		msg += ": " + p.Resolved
		fix := "Delete the lockfile entry for " + p.Name + " and reinstall so its URL matches the package, and find out who changed it."
		report(c.pkgFinding(&nameMismatchRule, p, msg, fix))
	}
}

// tarballStemMatches reports whether a tarball file stem is
// "<base>-<version>" for the package, where base is the name without its
// scope. Registries leave semver build metadata out of file names.
func tarballStemMatches(stem, name, version string) bool {
	base := name
	if k := strings.IndexByte(base, '/'); k >= 0 {
		base = base[k+1:]
	}
	if len(stem) <= len(base) || stem[:len(base)] != base || stem[len(base)] != '-' {
		return false
	}
	v := stem[len(base)+1:]
	if v == version {
		return true
	}
	if i := strings.IndexByte(version, '+'); i >= 0 {
		return v == version[:i]
	}
	return false
}
