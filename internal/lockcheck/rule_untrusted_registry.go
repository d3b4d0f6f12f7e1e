package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
)

var untrustedRegistryRule = finding.Rule{
	ID:       "untrusted-registry",
	Severity: finding.SeverityHigh,
	Summary:  "A registry package is resolved from a host that is not an allowed registry.",
	Fix:      "Re-resolve the package from your registry, or add a trusted mirror to scan.registries in buildwall.yml or the project's .npmrc.",
	Help: "Allowed registries are those the project configures (.npmrc `registry=` and `@scope:registry=`, .yarnrc.yml " +
		"`npmRegistryServer`/`npmScopes`, .yarnrc `registry`, pnpm-workspace.yaml), the package managers' default " +
		"registries as configured on the scanning machine, and `scan.registries` in buildwall.yml. " +
		"Hosts are compared without the scheme, with the port, and the registry's path must prefix the URL's path. " +
		"A scoped registry (`@acme:registry=`) allows only `@acme/*` packages from its host.",
}

var untrustedRegistry = Rule{Rule: untrustedRegistryRule, CheckLockfile: checkUntrustedRegistry}

func checkUntrustedRegistry(c *Context, report func(finding.Finding)) {
	allowed := ""
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		if p.Source != lockfile.SourceRegistry {
			continue
		}
		if !hasHTTPScheme(p.Resolved) || c.Registries.AllowedFor(p.Name, p.Resolved) {
			continue
		}
		_, host, _, _ := splitURL(p.Resolved)
		if allowed == "" {
			allowed = c.Registries.Describe()
		}
		msg := label(p) + " is resolved from " + host + ", which is not an allowed registry (" + allowed + ")"
		fix := "Re-resolve " + p.Name + " from your registry (delete the entry and reinstall), or if " + host + " is a trusted mirror add it to scan.registries in buildwall.yml."
		report(c.pkgFinding(&untrustedRegistryRule, p, msg, fix))
	}
}

// hasHTTPScheme reports whether u starts with http:// or https://,
// case-insensitively.
func hasHTTPScheme(u string) bool {
	return len(u) >= 8 && strings.EqualFold(u[:8], "https://") || len(u) >= 7 && strings.EqualFold(u[:7], "http://")
}
