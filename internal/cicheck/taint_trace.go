package cicheck

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// Taint across files: untrusted values passed to local actions and
// reusable workflows, traced into them by the scan.

// LocalCall is a step that runs a local action (uses: ./dir) and passes
// untrusted values to some of its inputs. The scan traces those inputs
// into the action's own steps (TraceAction).
type LocalCall struct {
	// Dir is the action's directory, slash-separated and relative to the
	// repository root, cleaned ("." for the root); "" for a workflow.
	Dir string
	// Workflow is the called reusable workflow's path, slash-separated
	// and relative to the repository root, for a job that calls one
	// (uses: ./.github/workflows/x.yml); "" for an action.
	Workflow string
	// Inputs maps a lower-case input name to where its value comes from.
	Inputs map[string]string
}

// workflowCall records, in c.Calls, the untrusted inputs job j (with
// its taint jt) passes to a reusable workflow in the repository.
func workflowCall(c *Context, j *ciconfig.Job, jt *taint) {
	if j.Uses == nil || len(j.With) == 0 {
		return
	}
	u := ciconfig.ParseUses(j.Uses.Value)
	if u.Kind != ciconfig.UsesLocal {
		return
	}
	if inputs := untrustedInputs(c, j.With, jt); inputs != nil {
		c.Calls = append(c.Calls, LocalCall{Workflow: path.Clean(strings.TrimSpace(u.Path)), Inputs: inputs})
	}
}

// untrustedInputs maps the with: entries that expand untrusted input
// (under t) to where it comes from and the caller's file and line; nil
// when there are none.
func untrustedInputs(c *Context, with []ciconfig.Pair, t *taint) map[string]string {
	var inputs map[string]string
	for _, p := range with {
		if p.Value == nil || !strings.Contains(p.Value.Value, "${{") {
			continue
		}
		if from, _ := untrustedIn1(p.Value.Value, t); from != "" {
			if inputs == nil {
				inputs = map[string]string{}
			}
			inputs[strings.ToLower(p.Name.Value)] = capOrigin(from + ", passed by " + c.Path + ":" + strconv.Itoa(p.Name.Pos.Line))
		}
	}
	return inputs
}

// localCall records, in c.Calls, the untrusted inputs step s (with its
// taint st) passes to a local action.
func localCall(c *Context, s *ciconfig.Step, st *taint) {
	if s.Uses == nil || len(s.With) == 0 || !strings.HasPrefix(strings.TrimSpace(s.Uses.Value), ".") {
		return // only ./ and ../ are local (a cheap test before parsing)
	}
	u := ciconfig.ParseUses(s.Uses.Value)
	if u.Kind != ciconfig.UsesLocal {
		return
	}
	inputs := untrustedInputs(c, s.With, st)
	if inputs != nil {
		c.Calls = append(c.Calls, LocalCall{Dir: path.Clean(strings.TrimSpace(u.Path)), Inputs: inputs})
	}
}

// TraceWorkflow runs template-injection on reusable workflow w (whose
// context c has ActionInputs set to the untrusted inputs its callers in
// the repository pass) and returns the findings that differ from
// CheckWorkflow's: new ones, and ones now of a higher severity (an input
// reported as medium when only the caller was known to set it).
func TraceWorkflow(c *Context, w *ciconfig.Workflow) []finding.Finding {
	if len(c.ActionInputs) == 0 {
		return nil
	}
	var traced []finding.Finding
	checkTemplateInjectionWorkflow(c, w, func(f finding.Finding) { traced = append(traced, f) })
	plain := map[[2]int]finding.Severity{}
	checkTemplateInjectionWorkflow(&Context{Path: c.Path}, w, func(f finding.Finding) { plain[[2]int{f.Line, f.Column}] = f.Severity })
	return slices.DeleteFunc(traced, func(f finding.Finding) bool {
		sev, ok := plain[[2]int{f.Line, f.Column}]
		return ok && sev >= f.Severity
	})
}

// TraceAction runs template-injection on composite action a (whose
// context c has ActionInputs set to the untrusted inputs its callers pass)
// and returns the findings that come from those inputs only: the others
// are reported by CheckAction already.
func TraceAction(c *Context, a *ciconfig.Action) []finding.Finding {
	if len(c.ActionInputs) == 0 {
		return nil
	}
	var traced []finding.Finding
	checkTemplateInjectionAction(c, a, func(f finding.Finding) { traced = append(traced, f) })
	plain := &Context{Path: c.Path}
	seen := map[[2]int]bool{}
	checkTemplateInjectionAction(plain, a, func(f finding.Finding) { seen[[2]int{f.Line, f.Column}] = true })
	return slices.DeleteFunc(traced, func(f finding.Finding) bool { return seen[[2]int{f.Line, f.Column}] })
}
