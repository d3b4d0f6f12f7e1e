package cicheck

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var expressionTooComplexRule = finding.Rule{
	ID:       "expression-too-complex",
	Severity: finding.SeverityHigh,
	Summary:  "A ${{ }} expression is longer than " + strconv.Itoa(maxExprLen) + " bytes or nests deeper than " + strconv.Itoa(maxExprDepth) + " levels, so it was not checked.",
	Fix:      "Split the expression: compute parts in earlier steps' outputs or in env: values. GitHub rejects expressions beyond these limits too.",
	Help: "Expressions are checked for attacker-controllable inputs (template-injection, dangerous-trigger). One that exceeds GitHub's own limits " +
		"(" + strconv.Itoa(maxExprLen) + " bytes, " + strconv.Itoa(maxExprDepth) + " nested parentheses or brackets) is not parsed, so that a hostile file " +
		"cannot exhaust the scanner's stack or memory; the gate says so instead of passing it silently.",
}

var expressionTooComplex = Rule{Rule: expressionTooComplexRule, Workflow: checkExpressionsWorkflow, Action: checkExpressionsAction}

func checkExpressionsWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	checkExpressionPairs(c, w.Source, w.Env, report)
	for _, j := range w.Jobs {
		checkExpressionPairs(c, w.Source, j.Env, report)
		checkExpressionPairs(c, w.Source, j.With, report)
		for _, s := range j.Steps {
			checkExpressionsStep(c, w.Source, s, report)
		}
	}
}

func checkExpressionsAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, s := range actionSteps(a) {
		checkExpressionsStep(c, a.Source, s.step, report)
	}
}

// checkExpressionsStep looks at the values whose expressions other rules
// check: run:, with: inputs and env:.
func checkExpressionsStep(c *Context, src *ciconfig.Source, s *ciconfig.Step, report func(finding.Finding)) {
	checkExpressionValue(c, src, s.Run, report)
	checkExpressionPairs(c, src, s.With, report)
	checkExpressionPairs(c, src, s.Env, report)
}

func checkExpressionPairs(c *Context, src *ciconfig.Source, ps []ciconfig.Pair, report func(finding.Finding)) {
	for i := range ps {
		checkExpressionValue(c, src, ps[i].Value, report)
	}
}

func checkExpressionValue(c *Context, src *ciconfig.Source, v *ciconfig.String, report func(finding.Finding)) {
	if v == nil || len(v.Value) <= maxExprLen && strings.Count(v.Value, "(")+strings.Count(v.Value, "[") <= maxExprDepth {
		return // too short, or too few brackets, to exceed either limit (counted fast)
	}
	if !strings.Contains(v.Value, "${{") {
		return
	}
	bad := tooComplexExpressions(v.Value)
	reportCapped(len(bad), func(i int) finding.Finding {
		e := bad[i]
		return c.at(&expressionTooComplexRule, src.Locate(v, e.Start),
			"expression of "+strconv.Itoa(e.End-e.Start)+" bytes exceeds the limits ("+strconv.Itoa(maxExprLen)+" bytes, "+
				strconv.Itoa(maxExprDepth)+" levels of nesting) and was not checked for attacker-controllable inputs",
			expressionTooComplexRule.Fix)
	}, report)
}
