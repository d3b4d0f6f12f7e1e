package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var unpinnedIncludeRule = finding.Rule{
	ID:       "unpinned-include",
	Severity: finding.SeverityHigh,
	Summary:  "A GitLab CI include: of a remote URL without integrity:, or of another project or CI/CD component without a commit SHA.",
	Fix:      "Add integrity: sha256-<base64 digest> to remote includes; pin project includes with ref: <40-hex commit SHA> and components with @<40-hex commit SHA>.",
	Help: "An included file becomes part of the pipeline and runs with its variables and tokens. A URL, branch or tag can be changed " +
		"by whoever controls it after review; integrity: (a hash of the content) or a commit SHA pins exactly what was reviewed. " +
		"local: and template: includes are versioned with the repository or the GitLab instance and are not reported.",
}

var unpinnedInclude = Rule{Rule: unpinnedIncludeRule, GitLab: checkUnpinnedInclude}

// checkUnpinnedInclude reports remote includes without integrity:, project
// includes whose ref: is missing (the default branch) or not a 40-hex
// commit SHA, and components whose @version is not a commit SHA. Semantic
// version tags of components are reported too: GitLab lets maintainers
// delete and re-create a tag, so only a SHA is immutable (the same stance
// as unpinned-action).
func checkUnpinnedInclude(c *Context, g *ciconfig.GitLabCI, report func(finding.Finding)) {
	for _, inc := range g.Includes {
		if inc.Value == nil {
			continue
		}
		v := inc.Value.Value
		switch inc.Kind {
		case ciconfig.IncludeRemote:
			if inc.Integrity != nil && strings.HasPrefix(strings.TrimSpace(inc.Integrity.Value), "sha256-") {
				continue
			}
			report(c.at(&unpinnedIncludeRule, inc.Pos,
				"include of remote "+v+" without integrity:; whoever controls that URL changes this pipeline",
				"Add integrity: sha256-<base64 SHA-256 of the file> (or vendor the file and include it with local:)."))
		case ciconfig.IncludeProject:
			switch {
			case inc.Ref == nil:
				report(c.at(&unpinnedIncludeRule, inc.Pos,
					"include of project "+v+" without ref: follows its default branch; every push there changes this pipeline",
					"Pin the include with ref: <40-hex commit SHA> of the reviewed version."))
			case !ciconfig.IsCommitSHA(strings.TrimSpace(inc.Ref.Value)):
				report(c.at(&unpinnedIncludeRule, inc.Ref.Pos,
					"include of project "+v+" at ref "+inc.Ref.Value+", a branch or tag that can be moved; only a commit SHA is immutable",
					"Replace ref: "+inc.Ref.Value+" with the 40-hex commit SHA it points at (keep the name in a comment)."))
			}
		case ciconfig.IncludeComponent:
			_, version, ok := strings.Cut(v, "@")
			if ok && ciconfig.IsCommitSHA(version) {
				continue
			}
			msg := "component " + v + " is included at version " + version + ", a tag or branch that can be moved; only a commit SHA is immutable"
			if !ok {
				msg = "component " + v + " is included without a version"
			} else if version == "~latest" {
				msg = "component " + v + " follows ~latest: every new release changes this pipeline"
			}
			report(c.at(&unpinnedIncludeRule, inc.Pos, msg,
				"Pin the component with @<40-hex commit SHA> of the reviewed release."))
		}
	}
}
