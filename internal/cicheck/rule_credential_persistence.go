package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var credentialPersistenceRule = finding.Rule{
	ID:       "credential-persistence",
	Severity: finding.SeverityMedium,
	Summary:  "actions/checkout runs without persist-credentials: false, leaving the job's token in .git/config.",
	Fix:      "Add with: persist-credentials: false to the checkout step (pass a token explicitly to the one step that pushes).",
	Help: "By default actions/checkout writes the GITHUB_TOKEN into the repository's git configuration, where every later step — " +
		"including third-party actions, build scripts and anything they download — can read it, and an artifact upload of the workspace can leak it.",
}

var credentialPersistence = Rule{Rule: credentialPersistenceRule, Workflow: checkCredentialPersistenceWorkflow, Action: checkCredentialPersistenceAction}

func checkCredentialPersistenceWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, s := range c.fileSteps(w) {
		checkCredentialPersistenceStep(c, s.step, report)
	}
}

func checkCredentialPersistenceAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, s := range actionSteps(a) {
		checkCredentialPersistenceStep(c, s.step, report)
	}
}

func checkCredentialPersistenceStep(c *Context, s *ciconfig.Step, report func(finding.Finding)) {
	if !usesAction(s, "actions/checkout") {
		return
	}
	p := s.Input("persist-credentials")
	if p != nil && p.Value != nil {
		v := strings.TrimSpace(p.Value.Value)
		if strings.EqualFold(v, "false") || strings.Contains(v, "${{") {
			return // disabled, or decided at run time
		}
		report(c.at(&credentialPersistenceRule, p.Value.Pos,
			"actions/checkout keeps the job's token in .git/config (persist-credentials: "+v+"), where every later step can read it",
			"Set `persist-credentials: false` and pass a token explicitly to the one step that needs to push."))
		return
	}
	report(c.at(&credentialPersistenceRule, s.Uses.Pos,
		"actions/checkout keeps the job's token in .git/config (persist-credentials defaults to true), where every later step can read it",
		"Add `with: persist-credentials: false` to this step."))
}
