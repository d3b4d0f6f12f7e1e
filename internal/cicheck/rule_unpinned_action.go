package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var unpinnedActionRule = finding.Rule{
	ID:       "unpinned-action",
	Severity: finding.SeverityHigh,
	Summary:  "A uses: references an action or reusable workflow by tag or branch instead of a full commit SHA (low: SHA without a # vX.Y.Z comment).",
	Fix:      "Run buildwall pin to rewrite the reference to owner/repo@<40-hex SHA> # <tag>; pin docker:// images by @sha256 digest.",
	Help: "Tags and branches are mutable: in March 2026 an attacker force-pushed 76 of 77 aquasecurity/trivy-action tags to a malicious commit, " +
		"and every workflow using a tag ran it with the job's secrets. Only a full commit SHA is immutable. " +
		"Local actions (`./…`) are pinned by the repository's own commit and exempt; `uses:` computed by an expression cannot be checked. " +
		"A SHA pin without a trailing `# v1.2.3` comment is reported as low, because nobody can tell which release it is or review an update.",
}

var unpinnedAction = Rule{Rule: unpinnedActionRule, Workflow: checkUnpinnedActionWorkflow, Action: checkUnpinnedActionAction}

func checkUnpinnedActionWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, u := range c.fileUses(w) {
		checkUnpinnedUses(c, w.Source, u, report)
	}
}

func checkUnpinnedActionAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, u := range actionUses(a) {
		checkUnpinnedUses(c, a.Source, u, report)
	}
	if a.Runs != nil && a.Runs.Image != nil {
		if u := ciconfig.ParseUses(a.Runs.Image.Value); u.Kind == ciconfig.UsesDocker && !u.Image.Pinned() {
			report(c.at(&unpinnedActionRule, a.Runs.Image.Pos,
				"Docker action image "+a.Runs.Image.Value+" is not pinned by digest",
				"Pin the image by digest: docker://"+u.Image.String()+"@sha256:<digest> (`buildwall pin` resolves it)."))
		}
	}
}

func checkUnpinnedUses(c *Context, src *ciconfig.Source, u usesRef, report func(finding.Finding)) {
	what := "action"
	if u.uses.IsReusableWorkflow() {
		what = "reusable workflow"
	}
	value := strings.TrimSpace(u.str.Value) // a block scalar's newline
	switch u.uses.Kind {
	case ciconfig.UsesDocker:
		if !u.uses.Image.Pinned() {
			report(c.at(&unpinnedActionRule, u.str.Pos,
				"docker action "+value+" is not pinned by digest; the tag can be moved to another image",
				"Pin the image by digest: docker://"+u.uses.Image.String()+"@sha256:<digest> (`buildwall pin` resolves it)."))
		}
	case ciconfig.UsesRemote:
		if !ciconfig.IsCommitSHA(u.uses.Ref) {
			f := c.at(&unpinnedActionRule, u.str.Pos,
				what+" "+value+" is referenced by the mutable ref "+u.uses.Ref+", not a full commit SHA",
				"Pin to the full commit SHA: "+u.uses.FullName()+"@<40-hex SHA> # "+u.uses.Ref+" (`buildwall pin` does it).")
			f.Package = actionPackage(u.uses)
			report(f)
			return
		}
		if comment, ok := src.TrailingComment(u.str); !ok || comment == "" {
			f := c.at(&unpinnedActionRule, u.str.Pos,
				what+" "+u.uses.FullName()+" is pinned to a SHA without a trailing version comment, so nobody can tell which release it is",
				"Add the release the SHA belongs to as a comment: "+value+" # vX.Y.Z (`buildwall pin` writes it).")
			f.Severity = finding.SeverityLow
			f.Package = actionPackage(u.uses)
			report(f)
		}
	}
}
