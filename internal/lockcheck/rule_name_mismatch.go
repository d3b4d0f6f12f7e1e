package lockcheck

import (
	"net/url"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
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
		scheme, _, path, ok := splitURL(p.Resolved)
		if !ok || !isHTTP(scheme) || p.Name == "" {
			continue
		}
		name, stem, ok := tarballName(path)
		if !ok {
			continue
		}
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

// tarballName reads the package name and the file name without ".tgz"
// out of a registry tarball path "/<prefix>/<name>/-/<base>-<version>.tgz"
// ("@scope/name" for scoped packages, also "@scope%2fname"). ok is false
// when path does not have the registry shape.
func tarballName(path string) (name, stem string, ok bool) {
	idx := strings.LastIndex(path, "/-/")
	if idx < 0 {
		return "", "", false
	}
	file := path[idx+3:]
	if strings.IndexByte(file, '/') >= 0 || !strings.HasSuffix(file, ".tgz") {
		return "", "", false
	}
	dir := path[:idx]
	slash := strings.LastIndexByte(dir, '/')
	if slash < 0 {
		return "", "", false
	}
	last := dir[slash+1:]
	switch {
	case last == "":
		return "", "", false
	case strings.HasPrefix(last, "@") || strings.HasPrefix(last, "%40"):
		// "@scope%2fname" in one segment.
		u, err := url.PathUnescape(last)
		if err != nil || strings.Count(u, "/") != 1 {
			return "", "", false
		}
		name = u
	default:
		name = last
		if prev := strings.LastIndexByte(dir[:slash], '/'); prev >= 0 && strings.HasPrefix(dir[prev+1:slash], "@") {
			name = dir[prev+1:]
		}
	}
	return name, strings.TrimSuffix(file, ".tgz"), true
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
