package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// checkEnvExpressions reports an env: section given as one expression
// (env: ${{ fromJSON(...) }}) that expands untrusted input: the outsider
// then names the variables too, and BASH_ENV, NODE_OPTIONS, LD_PRELOAD or
// PATH run code in every later command of the step (or of the job or
// workflow, at those levels).
func checkEnvExpressions(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	envExpression(c, w.EnvExpr, "the workflow", report)
	for _, j := range w.Jobs {
		envExpression(c, j.EnvExpr, "job "+j.ID.Value, report)
		for _, s := range j.Steps {
			envExpression(c, s.EnvExpr, "the step", report)
		}
	}
}

func envExpression(c *Context, e *ciconfig.String, where string, report func(finding.Finding)) {
	if e == nil {
		return
	}
	for _, x := range expressions(e.Value) {
		if len(x.Untrusted) == 0 {
			continue
		}
		report(c.at(&templateInjectionRule, e.Pos,
			"env: of "+where+" is computed from "+strings.Join(x.Untrusted, ", ")+", which an outsider controls: they choose the variables' names as well as their values (BASH_ENV, NODE_OPTIONS, LD_PRELOAD run code)",
			"List the variables by name (env: NAME: ${{ ... }}) so that an outsider can set only their values."))
		return
	}
}
