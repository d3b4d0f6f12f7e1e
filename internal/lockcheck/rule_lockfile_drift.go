package lockcheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/termsafe"
)

var lockfileDriftRule = finding.Rule{
	ID:       "lockfile-drift",
	Severity: finding.SeverityHigh,
	Summary:  "A dependency declared in package.json is not satisfied by the lockfile (absent, recorded with another spec, or locked outside the range).",
	Fix:      "Run your package manager's install to update the lockfile, commit it, and use npm ci / --frozen-lockfile in CI.",
	Help: "When package.json and the lockfile disagree, `npm install` silently resolves fresh versions (and `npm ci` fails). " +
		"Ranges are checked with npm semantics (`^`, `~`, `x`, `||`, hyphen ranges), also inside npm: aliases; dist-tags, git, " +
		"file: and workspace: specs are checked for presence only. The spec a lockfile records is compared with package.json's " +
		"only after the package manager's normalisation (yarn berry's `npm:^1.0.0` is `^1.0.0`, `user/repo` is " +
		"`github:user/repo` and `https://github.com/user/repo.git`); specs of other kinds are not compared. " +
		"A package that the root package.json's npm `overrides`, yarn `resolutions` or `pnpm.overrides`, or pnpm-workspace.yaml's " +
		"`overrides`, force to another spec is checked for presence only; pnpm `catalog:` and `catalog:<name>` specs are resolved through pnpm-workspace.yaml's catalogs and " +
		"the locked version checked against that range. A name declared in several sections drifts only when no declaration is satisfied. " +
		"Peer dependencies are not checked.",
}

var lockfileDrift = Rule{Rule: lockfileDriftRule, CheckLockfile: checkLockfileDrift}

func checkLockfileDrift(c *Context, report func(finding.Finding)) {
	workspaces := map[string]bool{}
	for _, m := range c.Manifests {
		if m.Manifest != nil && m.Name != "" {
			workspaces[m.Name] = true
		}
	}
	overridden := c.overridden()
	rs := ranges{}
	for _, m := range c.Manifests {
		if m.Manifest == nil {
			continue
		}
		// A name declared in several sections (dependencies and
		// devDependencies, ...) gets one lockfile entry: it drifts only when
		// no declaration is satisfied, and is reported once.
		sections := map[string]int{}
		for i := range m.Dependencies {
			sections[m.Dependencies[i].Name]++
		}
		done := map[string]bool{}
		for i := range m.Dependencies {
			d := &m.Dependencies[i]
			if d.Kind == lockfile.DepPeer || workspaces[d.Name] || hasPrefix(d.Spec, "workspace:") || done[d.Name] {
				continue
			}
			msg, version := c.driftOrOverride(rs, m, d, overridden[d.Name])
			if sections[d.Name] > 1 {
				done[d.Name] = true
			}
			if msg != "" && sections[d.Name] > 1 {
				for j := i + 1; j < len(m.Dependencies); j++ {
					if o := &m.Dependencies[j]; o.Name == d.Name && o.Kind != lockfile.DepPeer {
						if alt, _ := c.driftOrOverride(rs, m, o, overridden[d.Name]); alt == "" {
							msg = ""
							break
						}
					}
				}
			}
			if msg != "" {
				report(finding.Finding{
					Rule:     lockfileDriftRule.ID,
					Severity: lockfileDriftRule.Severity,
					Message:  termsafe.String(msg), // quotes package.json names and specs
					Location: finding.Location{Path: m.Path, Line: d.Line, Column: d.Column},
					Package:  &finding.Package{Ecosystem: Ecosystem, Name: d.Name, Version: version},
					Fix:      termsafe.String("Run your package manager's install to update " + c.Path + " for " + d.Name + ", commit it, and install with npm ci / --frozen-lockfile in CI."),
				})
			}
		}
	}
}

// overridden maps the package names that the root manifest's overrides or
// resolutions, or the package manager's settings (c.Overrides), force to
// another spec, to the setting that does so.
func (c *Context) overridden() map[string]string {
	out := map[string]string{}
	for _, m := range c.Manifests {
		if m.Manifest != nil && m.Importer == "." {
			for name, how := range m.Overrides {
				out[name] = m.Path + " " + how
			}
		}
	}
	for name, how := range c.Overrides {
		if _, ok := out[name]; !ok {
			out[name] = how
		}
	}
	return out
}

// driftOrOverride is drift, except that for a package an override forces
// (override names the setting) only the presence of a locked entry is
// checked: the lockfile then records the override's spec and version, not
// package.json's.
func (c *Context) driftOrOverride(rs ranges, m Manifest, d *lockfile.Dependency, override string) (msg, version string) {
	if override == "" {
		return c.drift(rs, m, d)
	}
	absent := m.Path + " declares " + d.Name + " " + quoteSpec(d.Spec) + " (overridden by " + override + ") but " + c.Path + " has no entry for it"
	if lf := c.Lockfile; lf.Importers != nil {
		direct, ok := lf.Importers[m.Importer][d.Name]
		if !ok {
			return absent, ""
		}
		return "", direct.Version
	}
	if len(c.packagesByName()[d.Name]) == 0 {
		return absent, ""
	}
	return "", ""
}

// drift explains how the lockfile fails to satisfy d, or returns "". version
// is the locked version when there is one.
func (c *Context) drift(rs ranges, m Manifest, d *lockfile.Dependency) (msg, version string) {
	decl := m.Path + " declares " + d.Name + " " + quoteSpec(d.Spec)
	absent := decl + " but " + c.Path + " has no entry for it"
	lf := c.Lockfile
	switch {
	case lf.Importers != nil:
		direct, ok := lf.Importers[m.Importer][d.Name]
		if !ok {
			return absent, ""
		}
		if direct.Spec != "" && specsDiffer(direct.Spec, d.Spec) {
			return decl + " but " + c.Path + " recorded " + quoteSpec(direct.Spec) + ": the lockfile is out of date", direct.Version
		}
		if direct.Version == "" && !isLocalSpec(d.Spec) {
			return decl + " but " + c.Path + " locks no version of it (no installed entry)", ""
		}
		if rng, ok := c.catalogSpec(d.Spec, d.Name); ok {
			return c.outside(rs, decl+" (catalog range "+quoteSpec(rng)+")", rng, direct.Version), direct.Version
		}
		return c.outside(rs, decl, d.Spec, direct.Version), direct.Version
	case lf.Descriptors != nil:
		v, ok := lf.Descriptors[d.Name+"@"+d.Spec]
		if !ok {
			if len(c.packagesByName()[d.Name]) == 0 {
				return absent, ""
			}
			return decl + " but no entry in " + c.Path + " resolves " + d.Name + "@" + d.Spec + ": the lockfile is out of date", ""
		}
		return c.outside(rs, decl, d.Spec, v), v
	default:
		pkgs := c.packagesByName()[d.Name]
		if len(pkgs) == 0 {
			return absent, ""
		}
		// Without importers, any locked copy in range satisfies the declaration;
		// report against the top-level one when the format records paths.
		best := pkgs[0]
		for _, p := range pkgs {
			if ok, checked := rs.satisfies(d.Spec, p.Version); ok || !checked {
				return "", ""
			}
			if p.Path == "node_modules/"+d.Name {
				best = p
			}
		}
		return c.outside(rs, decl, d.Spec, best.Version), best.Version
	}
}

// outside returns a message when version is outside spec, else "".
func (c *Context) outside(rs ranges, decl, spec, version string) string {
	if version == "" || isLocalSpec(spec) {
		return ""
	}
	rng, v := rangeOf(spec, version)
	if ok, checked := rs.satisfies(rng, v); ok || !checked {
		return ""
	}
	return decl + " but " + c.Path + " locks " + version + ", outside that range"
}

func quoteSpec(spec string) string {
	if spec == "" {
		return `""`
	}
	return spec
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// catalogSpec resolves a pnpm "catalog:" or "catalog:<name>" spec of
// package name through c.Catalogs. ok is false for other specs and for
// entries the catalogs do not hold (pnpm-workspace.yaml unread).
func (c *Context) catalogSpec(spec, name string) (string, bool) {
	catalog, ok := strings.CutPrefix(strings.TrimSpace(spec), "catalog:")
	if !ok {
		return "", false
	}
	if catalog == "" {
		catalog = "default"
	}
	rng, ok := c.Catalogs[catalog][name]
	return rng, ok
}
