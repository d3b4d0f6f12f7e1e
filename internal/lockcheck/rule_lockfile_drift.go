package lockcheck

import (
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
	rs := ranges{}
	for _, m := range c.Manifests {
		if m.Manifest == nil {
			continue
		}
		for i := range m.Dependencies {
			d := &m.Dependencies[i]
			if d.Kind == lockfile.DepPeer || workspaces[d.Name] || hasPrefix(d.Spec, "workspace:") {
				continue
			}
			if msg, version := c.drift(rs, m, d); msg != "" {
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
