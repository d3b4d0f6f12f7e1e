package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var knownCompromisedActionRule = finding.Rule{
	ID:       "known-compromised-action",
	Severity: finding.SeverityCritical,
	Summary:  "A uses: reference (tag or SHA) is listed as compromised in the advisory database.",
	Fix:      "Replace the reference with a clean release pinned by SHA, and rotate every secret the workflow could read while it used the compromised one.",
	Help: "The database (OSV records of the `GitHub Actions` ecosystem) lists action tags and commits that an attacker controlled: " +
		"tj-actions/changed-files, reviewdog actions, aquasecurity/trivy-action and setup-trivy, Checkmarx kics-github-action and ast-github-action in their attack windows. " +
		"A job that ran such a reference leaked what it could read (secrets, tokens), so rotate them.",
}

var knownCompromisedAction = Rule{Rule: knownCompromisedActionRule, Workflow: checkCompromisedWorkflow, Action: checkCompromisedAction}

func checkCompromisedWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, u := range c.fileUses(w) {
		checkCompromisedUses(c, u, report)
	}
}

func checkCompromisedAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, u := range actionUses(a) {
		checkCompromisedUses(c, u, report)
	}
}

func checkCompromisedUses(c *Context, u usesRef, report func(finding.Finding)) {
	if c.Advisories == nil || u.uses.Kind != ciconfig.UsesRemote {
		return
	}
	ms := LookupUses(c.Advisories, u.uses, u.uses.Ref)
	if len(ms) == 0 {
		return
	}
	f := c.at(&knownCompromisedActionRule, u.str.Pos, u.uses.FullName()+"@"+u.uses.Ref+" is a known compromised reference: "+DescribeMatches(ms),
		"Replace "+u.uses.FullName()+"@"+u.uses.Ref+" with a clean release pinned by full commit SHA, and rotate every secret this workflow could read while it used the compromised reference.")
	f.Package = actionPackage(u.uses)
	report(f)
}

// LookupUses returns the advisories that list the remote action u at ref
// (a tag, branch or commit SHA) as compromised: records may name the
// repository or the sub-path action, and spell a tag v1.2.3 or 1.2.3.
func LookupUses(adv Advisories, u ciconfig.Uses, ref string) []advisory.Match {
	lookup := func(ref string) []advisory.Match {
		ms := adv.Lookup(Ecosystem, u.Name(), ref)
		if len(ms) == 0 && u.Path != "" {
			ms = adv.Lookup(Ecosystem, u.FullName(), ref)
		}
		return ms
	}
	ms := lookup(ref)
	if len(ms) == 0 {
		if alt := altVersionSpelling(ref); alt != "" {
			ms = lookup(alt)
		}
	}
	return ms
}

// DescribeMatches renders advisories as "ID (aliases): summary; ...".
func DescribeMatches(ms []advisory.Match) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m.ID)
		if len(m.Aliases) > 0 {
			b.WriteString(" (" + strings.Join(m.Aliases, ", ") + ")")
		}
		if m.Summary != "" {
			b.WriteString(": " + m.Summary)
		}
	}
	return b.String()
}

// altVersionSpelling returns ref without its leading "v" (v0.2.0 gives
// 0.2.0) or with one (2.3.28 gives v2.3.28) when ref is a version tag,
// else "".
func altVersionSpelling(ref string) string {
	if rest, ok := strings.CutPrefix(ref, "v"); ok {
		if rest != "" && '0' <= rest[0] && rest[0] <= '9' {
			return rest
		}
		return ""
	}
	if ref != "" && '0' <= ref[0] && ref[0] <= '9' && !ciconfig.IsCommitSHA(ref) {
		return "v" + ref
	}
	return ""
}
