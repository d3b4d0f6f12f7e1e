package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
)

var insecureSourceRule = finding.Rule{
	ID:       "insecure-source",
	Severity: finding.SeverityHigh,
	Summary:  "The package is fetched over plain http://, git+http:// or git://, which anyone on the path can tamper with.",
	Fix:      "Use an https:// (or git+https://, git+ssh://) URL and regenerate the lockfile.",
}

var insecureSource = Rule{Rule: insecureSourceRule, CheckLockfile: checkInsecureSource}

func checkInsecureSource(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		scheme := insecureScheme(p.Resolved)
		if scheme == "" {
			continue
		}
		msg := label(p) + " is fetched over unencrypted " + scheme + ": " + p.Resolved
		fix := "Change " + p.Name + "'s source to https:// (or git+https://) and regenerate the lockfile."
		report(c.pkgFinding(&insecureSourceRule, p, msg, fix))
	}
}

// insecureScheme returns the unencrypted scheme of a resolved spec ("http",
// "git+http", "git"), or "" when the spec is not fetched in the clear.
func insecureScheme(resolved string) string {
	i := strings.Index(resolved, "://")
	if i <= 0 {
		return ""
	}
	// Yarn berry resolutions look like "name@https://..."; look at the
	// scheme only.
	scheme := resolved[:i]
	if at := strings.LastIndexByte(scheme, '@'); at >= 0 {
		scheme = scheme[at+1:]
	}
	switch strings.ToLower(scheme) {
	case "http":
		return "http"
	case "git+http":
		return "git+http"
	case "git":
		return "git"
	}
	return ""
}
