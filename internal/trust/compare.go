package trust

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// RuleID is the ID of the gate-weakened rule. Its findings cannot be
// suppressed by scan.ignore.
const RuleID = "gate-weakened"

var rule = finding.Rule{
	ID:       RuleID,
	Severity: finding.SeverityHigh,
	Summary:  "The branch changes buildwall.yml or a registry configuration file so that the gate lets more through than the trusted revision (lower fail-on, new ignores, registries or install-script allows).",
	Fix:      "Have a maintainer review the configuration change and merge it on its own; until then the trusted revision's configuration applies.",
	Help: "In a pull request buildwall.yml, .npmrc, .yarnrc, .yarnrc.yml and pnpm-workspace.yaml come from whoever wrote the branch. " +
		"With --config-from REF (or $GITHUB_BASE_REF / $CI_MERGE_REQUEST_TARGET_BRANCH_NAME, as origin/<branch>) scan compares them with that revision; " +
		"each weakening is reported, the trusted configuration applies instead, and no scan.ignore can suppress the finding.",
}

// Metadata returns the metadata of the rules this package reports.
func Metadata() []finding.Rule { return []finding.Rule{rule} }

// Weakened returns a gate-weakened finding at loc. ref names the trusted
// revision; what says what the branch changed compared with it, and is
// escaped for output.
func Weakened(loc finding.Location, ref, what string) finding.Finding {
	return finding.Finding{
		Rule:     RuleID,
		Severity: rule.Severity,
		Message:  termsafe.String(what) + "; the configuration of " + termsafe.String(ref) + " applies instead",
		Location: loc,
		Fix:      rule.Fix,
	}
}

// Split separates gate-weakened findings (kept) from the others, which
// ignores may suppress; both keep their order. fs's storage is reused for
// rest.
func Split(fs []finding.Finding) (kept, rest []finding.Finding) {
	rest = fs[:0]
	for _, f := range fs {
		if f.Rule == RuleID {
			kept = append(kept, f)
		} else {
			rest = append(rest, f)
		}
	}
	return kept, rest
}

// ConfigOptions say how to compare two buildwall.yml files.
type ConfigOptions struct {
	// Ref names the trusted revision in messages.
	Ref string
	// Path is the branch's configuration file as findings name it.
	Path string
	// DefaultFailOn applies when a file sets no scan.fail-on.
	DefaultFailOn finding.Severity
	// FailOnFixed is true when --fail-on was given: neither file's
	// fail-on then matters.
	FailOnFixed bool
}

// CompareConfig returns a gate-weakened finding for each way the branch's
// configuration lets more through than the trusted one: a higher (or no)
// scan.fail-on, a scan.ignore entry the trusted file lacks (compared by
// rule, package and path; the reason does not matter), a scan.registries
// URL it does not allow, a scan.install-scripts.allow name it does not
// list. trusted and branch may be empty configurations, never nil.
func CompareConfig(o ConfigOptions, trusted, branch *config.Config) []finding.Finding {
	var out []finding.Finding
	at := func(p config.Position) finding.Location {
		return finding.Location{Path: o.Path, Line: p.Line, Column: p.Column}
	}
	t, b := &trusted.Scan, &branch.Scan
	if !o.FailOnFixed {
		tf, bf := failOn(t, o.DefaultFailOn), failOn(b, o.DefaultFailOn)
		if rank(bf) > rank(tf) {
			out = append(out, Weakened(at(b.FailOnPos), o.Ref, fmt.Sprintf("scan.fail-on %s is more lenient than %s in %s", bf, tf, o.Ref)))
		}
	}
	for _, ig := range b.Ignores {
		at := finding.Location{Path: o.Path, Line: ig.Line, Column: ig.Column}
		i := slices.IndexFunc(t.Ignores, func(x config.Ignore) bool {
			return x.Rule == ig.Rule && x.Package == ig.Package && x.Path == ig.Path
		})
		switch {
		case i < 0:
			out = append(out, Weakened(at, o.Ref, "scan.ignore adds "+describeIgnore(ig)+" that "+o.Ref+" does not have"))
		case !t.Ignores[i].Until.IsZero() && (ig.Until.IsZero() || ig.Until.After(t.Ignores[i].Until)):
			out = append(out, Weakened(at, o.Ref, "scan.ignore extends "+describeIgnore(ig)+" past until: "+t.Ignores[i].Until.Format(time.DateOnly)+" in "+o.Ref))
		}
	}
	for i, g := range b.Exclude {
		if !slices.ContainsFunc(t.Exclude, func(x config.Glob) bool { return x.String() == g.String() }) {
			out = append(out, Weakened(at(posAt(b.ExcludePos, i)), o.Ref, fmt.Sprintf("scan.exclude adds %q, which %s does not exclude", g.String(), o.Ref)))
		}
	}
	for i, u := range b.Registries {
		if !containsRegistry(t.Registries, u) {
			out = append(out, Weakened(at(posAt(b.RegistryPos, i)), o.Ref, "scan.registries adds "+u+", which "+o.Ref+" does not allow"))
		}
	}
	for i, name := range b.InstallScriptsAllow {
		if !slices.Contains(t.InstallScriptsAllow, name) {
			out = append(out, Weakened(at(posAt(b.InstallScriptsAllowPos, i)), o.Ref, fmt.Sprintf("scan.install-scripts.allow adds %q, which %s does not allow", name, o.Ref)))
		}
	}
	return out
}

func failOn(s *config.Scan, def finding.Severity) finding.Severity {
	if s.FailOn != nil {
		return *s.FailOn
	}
	return def
}

// rank orders fail-on values from strictest to most lenient: low fails on
// the most findings, none on nothing.
func rank(s finding.Severity) int {
	if s == finding.SeverityNone {
		return int(finding.SeverityCritical) + 1
	}
	return int(s)
}

func posAt(ps []config.Position, i int) config.Position {
	if i < len(ps) {
		return ps[i]
	}
	return config.Position{}
}

func describeIgnore(ig config.Ignore) string {
	var parts []string
	if ig.Rule != "" {
		parts = append(parts, "rule "+ig.Rule)
	}
	if ig.Package != "" {
		parts = append(parts, "package "+ig.Package)
	}
	if ig.Path != "" {
		parts = append(parts, "path "+ig.Path)
	}
	return "an entry (" + strings.Join(parts, ", ") + ")"
}

// containsRegistry reports whether the unscoped registries in list allow
// what the registry u allows (see CoversRegistry).
func containsRegistry(list []string, u string) bool {
	trusted := make([]lockcheck.Registry, len(list))
	for i, x := range list {
		trusted[i] = lockcheck.Registry{URL: x}
	}
	return CoversRegistry(trusted, lockcheck.Registry{URL: u})
}

// CoversRegistry reports whether a trusted registry allows what the
// branch's registry r allows: the same host with a path that prefixes r's
// (as lockcheck matches URLs), unscoped or for the same scope (scopes
// compared case-insensitively).
func CoversRegistry(trusted []lockcheck.Registry, r lockcheck.Registry) bool {
	key, ok := lockcheck.RegistryKey(r.URL)
	for _, t := range trusted {
		if t.Scope != "" && !strings.EqualFold(t.Scope, r.Scope) {
			continue
		}
		// Keys are host + path ending in "/", so a prefix is a parent path
		// on the same host.
		if k, okt := lockcheck.RegistryKey(t.URL); ok && okt && strings.HasPrefix(key, k) || t.URL == r.URL {
			return true
		}
	}
	return false
}
