// Package lockcheck holds the rules over parsed JavaScript lockfiles and
// package.json manifests, one file per rule (rule_<name>.go), and the
// explicit list of them (Rules).
//
// Rules never read files: package scan finds and parses files, builds a
// Context for each lockfile and calls every rule's CheckLockfile; manifests
// that no lockfile covers go to CheckOrphan. Rule IDs and severities are a
// public contract (see the README's rule table).
//
// Every rule is O(packages) with no per-package allocation on the clean path,
// because scans run on 50,000-package lockfiles under a tight time budget.
package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// Ecosystem is the OSV ecosystem of every package these rules look at.
const Ecosystem = "npm"

// Advisories looks up known-malicious versions; *advisory.DB implements it.
// Implementations must be safe for concurrent use; Lookup is called once
// per locked package.
type Advisories interface {
	Lookup(ecosystem, name, version string) []advisory.Match
}

// Manifest is a package.json that a lockfile covers (or that no lockfile
// covers, for CheckOrphan).
type Manifest struct {
	// Path is slash-separated and relative to the scan root.
	Path string
	// Importer is the manifest's directory relative to the lockfile's
	// directory ("." for the root), the key into Lockfile.Importers.
	Importer string
	*lockfile.Manifest
}

// Context is what a rule sees of one lockfile. Rules must not modify it.
type Context struct {
	Lockfile *lockfile.Lockfile
	// Path is the lockfile's path, slash-separated and relative to the scan
	// root, as findings report it.
	Path string
	// Manifests are the package.json files the lockfile covers, the root
	// importer first when present.
	Manifests []Manifest
	// Config is the scan configuration; nil means none.
	Config *config.Scan
	// Advisories may be nil (no malicious-package check).
	Advisories Advisories
	// Registries decides which resolved hosts are allowed; nil allows none
	// beyond what the finding message can explain.
	Registries *Registries
	// BuildAllowed maps package names that the package manager's own
	// settings let run install scripts (pnpm's onlyBuiltDependencies) to the
	// setting that does so. Such packages run scripts even when the
	// lockfile does not record it.
	BuildAllowed map[string]string
	// Overrides maps package names that the package manager's own settings
	// (pnpm-workspace.yaml overrides) force to another spec, to the setting
	// that does so; the root manifest's overrides are read from it.
	Overrides map[string]string
	// Catalogs are pnpm's catalogs (pnpm-workspace.yaml catalog/catalogs):
	// catalog name ("default" for the top-level one) to package name to
	// spec, resolving package.json's "catalog:" and "catalog:<name>" specs.
	Catalogs map[string]map[string]string

	byName map[string][]*lockfile.Package
}

// Rule is one check. Exactly one of CheckLockfile and CheckOrphan is set for
// rules that look at parsed files; unparseable-lockfile has neither because
// the scan produces its findings (see Unparseable and TooLarge).
type Rule struct {
	finding.Rule
	// CheckLockfile reports findings for one parsed lockfile.
	CheckLockfile func(c *Context, report func(finding.Finding))
	// CheckOrphan reports findings for a manifest that no lockfile covers.
	CheckOrphan func(m Manifest, report func(finding.Finding))
}

// Rules returns every lockfile rule, in a fixed order. The slice is new on
// each call.
func Rules() []Rule {
	return []Rule{
		maliciousPackage,
		missingIntegrity,
		weakIntegrity,
		insecureSource,
		untrustedRegistry,
		nameMismatch,
		nonRegistrySource,
		installScript,
		lockfileMissing,
		lockfileDrift,
		unparseableLockfile,
	}
}

// Metadata returns the finding.Rule of every rule, in Rules order.
func Metadata() []finding.Rule {
	rules := Rules()
	out := make([]finding.Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// Check runs every lockfile rule on c and returns the findings, unsorted.
func Check(c *Context) []finding.Finding {
	var out []finding.Finding
	report := func(f finding.Finding) { out = append(out, f) }
	for _, r := range Rules() {
		if r.CheckLockfile != nil {
			r.CheckLockfile(c, report)
		}
	}
	return out
}

// CheckOrphan runs every orphan-manifest rule on m.
func CheckOrphan(m Manifest) []finding.Finding {
	var out []finding.Finding
	report := func(f finding.Finding) { out = append(out, f) }
	for _, r := range Rules() {
		if r.CheckOrphan != nil {
			r.CheckOrphan(m, report)
		}
	}
	return out
}

// pkgFinding builds a finding located at a package entry of the lockfile.
// msg and fix quote package names, versions and URLs from the lockfile,
// which JSON escapes let carry newlines: they are escaped here (one line
// each) so that a hostile name cannot add lines to the text report, such
// as a forged summary; Package keeps the raw values.
func (c *Context) pkgFinding(r *finding.Rule, p *lockfile.Package, msg, fix string) finding.Finding {
	return finding.Finding{
		Rule:     r.ID,
		Severity: r.Severity,
		Message:  termsafe.String(msg),
		Location: finding.Location{Path: c.Path, Line: p.Line, Column: p.Column},
		Package:  &finding.Package{Ecosystem: Ecosystem, Name: p.Name, Version: p.Version},
		Fix:      termsafe.String(fix),
	}
}

// packagesByName indexes the locked packages by name, once per context.
func (c *Context) packagesByName() map[string][]*lockfile.Package {
	if c.byName == nil {
		c.byName = make(map[string][]*lockfile.Package, len(c.Lockfile.Packages))
		for i := range c.Lockfile.Packages {
			p := &c.Lockfile.Packages[i]
			c.byName[p.Name] = append(c.byName[p.Name], p)
			if p.Alias != "" && p.Alias != p.Name {
				c.byName[p.Alias] = append(c.byName[p.Alias], p)
			}
		}
	}
	return c.byName
}

// label renders a package for messages: "name@version", with the alias.
func label(p *lockfile.Package) string {
	s := p.Name
	if p.Version != "" {
		s += "@" + p.Version
	}
	if p.Alias != "" && p.Alias != p.Name {
		s += " (installed as " + p.Alias + ")"
	}
	return s
}

// splitURL cuts an absolute URL into scheme, host (without user info) and
// path (without query or fragment; "/" when empty) without allocating.
// ok is false when s has no "scheme://".
func splitURL(s string) (scheme, host, path string, ok bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", "", "", false
	}
	scheme, rest := s[:i], s[i+3:]
	// Query and fragment first (rare; IndexByte is vectorised), then the
	// host ends at the first '/' or '\': URL parsers that follow the
	// WHATWG URL standard (npm's among them) read '\' as '/' in http(s)
	// URLs, so "https://evil.example\@registry.example/" is fetched from
	// evil.example, not registry.example.
	if k := strings.IndexByte(rest, '?'); k >= 0 {
		rest = rest[:k]
	}
	if k := strings.IndexByte(rest, '#'); k >= 0 {
		rest = rest[:k]
	}
	if j := strings.IndexAny(rest, "/\\"); j >= 0 {
		host, path = rest[:j], rest[j:]
	} else {
		host, path = rest, "/"
	}
	if k := strings.LastIndexByte(host, '@'); k >= 0 {
		host = host[k+1:]
	}
	return scheme, host, path, true
}

// isHTTP reports whether scheme is http or https, case-insensitively.
func isHTTP(scheme string) bool {
	return strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")
}
