package lockcheck

import (
	"path"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var nonRegistrySourceRule = finding.Rule{
	ID:       "non-registry-source",
	Severity: finding.SeverityMedium,
	Summary:  "The package comes from git, a GitHub shorthand, a remote tarball or a file: path instead of a registry.",
	Fix:      "Depend on a published registry version; if you must keep it, pin git to a full commit SHA and review it.",
	Help: "Such sources bypass the registry's immutability and malware takedowns: a branch or tag can be moved, a " +
		"tarball URL can serve new bytes, and most have no integrity hash. Workspace and link: packages, and file: " +
		"directories and tarballs inside the scanned tree (reviewed with the change that edits them), are not flagged.",
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
			if c.inRepository(p.Resolved) {
				continue
			}
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

// inRepository reports whether a file: source (npm and yarn "file:../x",
// berry "name@file:./x::locator=...", pnpm's bare "directory", bun's
// "./x") is a relative path that stays inside the scanned tree, seen from
// the lockfile's directory. Absolute paths, home-relative paths, exec:
// builds and anything with another scheme are not.
func (c *Context) inRepository(resolved string) bool {
	p := resolved
	if i := strings.Index(strings.ToLower(p), "file:"); i >= 0 && (i == 0 || p[i-1] == '@') {
		p = p[i+len("file:"):]
	} else if strings.Contains(p, ":") {
		return false
	}
	if i := strings.Index(p, "::"); i >= 0 {
		p = p[:i]
	}
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimPrefix(p, "//") // file://./x is rare but valid
	if p == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~") || strings.Contains(p, "\\") || strings.Contains(p, ":") {
		return false
	}
	joined := path.Join(path.Dir(c.Path), p)
	return joined != ".." && !strings.HasPrefix(joined, "../")
}
