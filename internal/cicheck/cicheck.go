// Package cicheck holds the rules over CI configuration — GitHub Actions
// workflows and action metadata (and, from their own files, Dockerfiles and
// GitLab CI) — one file per rule (rule_<name>.go), and the explicit list of
// them (Rules).
//
// Rules never read files: package scan finds files, package ciconfig parses
// them, and the Check* functions here run every rule on one parsed file.
// Rule IDs and severities are a public contract (see the README's rule
// table). Every finding points at the line and column of the offending key
// or expression.
//
// Every rule is linear in the size of the file: scans run on monorepos with
// thousands of workflows under a tight time budget.
package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// Ecosystem is the OSV ecosystem of the actions these rules report.
const Ecosystem = advisory.EcosystemGitHubActions

// Advisories looks up compromised action versions; *advisory.DB implements
// it. Implementations must be safe for concurrent use.
type Advisories interface {
	Lookup(ecosystem, name, version string) []advisory.Match
}

// Context is what a rule sees besides the parsed file. Rules must not
// modify its exported fields. A Context serves one file: the Check*
// functions cache what several rules derive from the file (its uses: and
// steps) in it, so it must not be shared by goroutines or reused for
// another file.
type Context struct {
	// Path is the file's path, slash-separated and relative to the scan
	// root, as findings report it.
	Path string
	// Advisories may be nil (no known-compromised-action check).
	Advisories Advisories
	// ActionInputs, for an action metadata file, maps input names that a
	// caller in the same repository passes untrusted values to onto
	// where those values come from (template-injection traces them into
	// the action's steps); nil when none is known.
	ActionInputs map[string]string
	// Workflows maps the name of each workflow of the repository (its
	// name:, or its path when it has none) onto the events that trigger
	// it; dangerous-trigger looks up workflow_run's upstream workflows in
	// it. Nil when the repository is not known: upstreams are then
	// assumed to run on pull requests.
	Workflows map[string][]string
	// Info is filled by CheckWorkflow: the workflow's name and triggers,
	// for the scan to build Workflows from.
	Info *WorkflowInfo
	// Calls is filled by CheckWorkflow and CheckAction: the local actions
	// the file runs with untrusted inputs, for the scan to trace
	// (TraceAction).
	Calls []LocalCall

	cacheFor any // the file the cached lists below belong to
	uses     []usesRef
	steps    []stepRef
	lowered  map[*ciconfig.String]string
}

// lower returns s.Value in lower case. Values without upper-case letters
// cost nothing (strings.ToLower returns them as they are); the others are
// lowered once per file, however many rules or scopes ask.
func (c *Context) lower(s *ciconfig.String) string {
	if l, ok := c.lowered[s]; ok {
		return l
	}
	l := strings.ToLower(s.Value)
	if l != s.Value {
		if c.lowered == nil {
			c.lowered = map[*ciconfig.String]string{}
		}
		c.lowered[s] = l
	}
	return l
}

// fileUses returns workflowUses(w), computed once per file.
func (c *Context) fileUses(w *ciconfig.Workflow) []usesRef {
	c.reset(w)
	if c.uses == nil {
		c.uses = workflowUses(w)
		if c.uses == nil {
			c.uses = []usesRef{}
		}
	}
	return c.uses
}

// fileSteps returns workflowSteps(w), computed once per file.
func (c *Context) fileSteps(w *ciconfig.Workflow) []stepRef {
	c.reset(w)
	if c.steps == nil {
		c.steps = workflowSteps(w)
		if c.steps == nil {
			c.steps = []stepRef{}
		}
	}
	return c.steps
}

func (c *Context) reset(file any) {
	if c.cacheFor != file {
		c.cacheFor, c.uses, c.steps, c.lowered = file, nil, nil, nil
	}
}

// Rule is one check. A rule sets the check function of every file kind it
// applies to; unparseable-config sets none because the scan produces its
// findings (see Unparseable). Owners of further file kinds (Dockerfile,
// GitLab CI) add a field per kind here and set it on their rules.
type Rule struct {
	finding.Rule
	// Workflow checks a GitHub Actions workflow.
	Workflow func(c *Context, w *ciconfig.Workflow, report func(finding.Finding))
	// Action checks an action metadata file (composite or Docker action).
	Action func(c *Context, a *ciconfig.Action, report func(finding.Finding))
	// Dockerfile checks a Dockerfile or Containerfile.
	Dockerfile func(c *Context, d *ciconfig.Dockerfile, report func(finding.Finding))
	// GitLab checks a .gitlab-ci.yml.
	GitLab func(c *Context, g *ciconfig.GitLabCI, report func(finding.Finding))
}

// Rules returns every CI-configuration rule, in a fixed order. The slice is
// new on each call.
func Rules() []Rule {
	return []Rule{
		knownCompromisedAction,
		unpinnedAction,
		unpinnedImage,
		excessivePermissions,
		dangerousTrigger,
		templateInjection,
		expressionTooComplex,
		credentialPersistence,
		secretsInherit,
		selfHostedOnPR,
		downloadExec,
		cacheInRelease,
		unpinnedInclude,
		unparseableConfig,
		onlineIncomplete,
	}
}

// Metadata returns the finding.Rule of every rule, in Rules order.
func Metadata() []finding.Rule {
	rules := Rules()
	out := make([]finding.Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// CheckWorkflow runs every workflow rule on w and returns the findings,
// unsorted.
func CheckWorkflow(c *Context, w *ciconfig.Workflow) []finding.Finding {
	c.Info = &WorkflowInfo{Name: WorkflowName(w, c.Path), Events: WorkflowEvents(w), NeedsWorkflows: NeedsWorkflows(w)}
	return checkAll(c, w, func(r Rule) func(*Context, *ciconfig.Workflow, func(finding.Finding)) { return r.Workflow })
}

// CheckAction runs every action rule on a and returns the findings,
// unsorted.
func CheckAction(c *Context, a *ciconfig.Action) []finding.Finding {
	return checkAll(c, a, func(r Rule) func(*Context, *ciconfig.Action, func(finding.Finding)) { return r.Action })
}

// CheckDockerfile runs every Dockerfile rule on d and returns the
// findings, unsorted.
func CheckDockerfile(c *Context, d *ciconfig.Dockerfile) []finding.Finding {
	return checkAll(c, d, func(r Rule) func(*Context, *ciconfig.Dockerfile, func(finding.Finding)) { return r.Dockerfile })
}

// CheckGitLab runs every GitLab CI rule on g and returns the findings,
// unsorted.
func CheckGitLab(c *Context, g *ciconfig.GitLabCI) []finding.Finding {
	return checkAll(c, g, func(r Rule) func(*Context, *ciconfig.GitLabCI, func(finding.Finding)) { return r.GitLab })
}

// checkAll runs the check that pick selects from every rule that has one
// for this kind of file.
func checkAll[T any](c *Context, file T, pick func(Rule) func(*Context, T, func(finding.Finding))) []finding.Finding {
	var out []finding.Finding
	report := func(f finding.Finding) {
		if out == nil {
			out = make([]finding.Finding, 0, 16)
		}
		out = append(out, f)
	}
	for _, r := range Rules() {
		if check := pick(r); check != nil {
			check(c, file, report)
		}
	}
	return out
}

// at builds a finding of rule r at p in the context's file.
func (c *Context) at(r *finding.Rule, p ciconfig.Pos, msg, fix string) finding.Finding {
	return finding.Finding{
		Rule:     r.ID,
		Severity: r.Severity,
		Message:  msg,
		Location: finding.Location{Path: c.Path, Line: p.Line, Column: p.Column},
		Fix:      fix,
	}
}

// actionPackage is the finding package of a remote `uses:` reference.
func actionPackage(u ciconfig.Uses) *finding.Package {
	return &finding.Package{Ecosystem: Ecosystem, Name: u.Name(), Version: u.Ref}
}

// usesRef is one `uses:` value: a step's action or a job's reusable
// workflow.
type usesRef struct {
	str  *ciconfig.String
	uses ciconfig.Uses
	step *ciconfig.Step // nil for a reusable-workflow call
	job  *ciconfig.Job  // nil inside an action
}

// workflowUses lists every `uses:` of w in source order.
func workflowUses(w *ciconfig.Workflow) []usesRef {
	n := 0
	for _, j := range w.Jobs {
		n += len(j.Steps) + 1
	}
	out := make([]usesRef, 0, n)
	for _, j := range w.Jobs {
		if j.Uses != nil {
			out = append(out, usesRef{str: j.Uses, uses: ciconfig.ParseUses(j.Uses.Value), job: j})
		}
		var expanded map[*ciconfig.String]bool // matrix rows listed already
		for _, s := range j.Steps {
			if s.Uses == nil {
				continue
			}
			if vals, ok := matrixExpansion(j, s.Uses.Value); ok {
				// uses: ${{ matrix.x }}: check each value where the
				// matrix lists it, once per job however many steps
				// use the row (else steps × values refs).
				if expanded[&vals[0]] {
					continue
				}
				if expanded == nil {
					expanded = map[*ciconfig.String]bool{}
				}
				expanded[&vals[0]] = true
				for i := range vals {
					out = append(out, usesRef{str: &vals[i], uses: ciconfig.ParseUses(vals[i].Value), step: s, job: j})
				}
				continue
			}
			out = append(out, usesRef{str: s.Uses, uses: ciconfig.ParseUses(s.Uses.Value), step: s, job: j})
		}
	}
	return out
}

// matrixExpansion returns the matrix values that v stands for when v is
// exactly ${{ matrix.<name> }}.
func matrixExpansion(j *ciconfig.Job, v string) ([]ciconfig.String, bool) {
	if len(j.Matrix) == 0 || !strings.Contains(v, "${{") {
		return nil, false
	}
	v = strings.TrimSpace(v)
	inner, ok := strings.CutPrefix(v, "${{")
	if !ok {
		return nil, false
	}
	inner, ok = strings.CutSuffix(inner, "}}")
	if !ok {
		return nil, false
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(inner), "matrix.")
	if !ok || strings.ContainsAny(name, " .()[]|&!=") {
		return nil, false
	}
	vals := j.MatrixValues(name)
	return vals, len(vals) > 0
}

// actionUses lists every `uses:` of a composite action's steps.
func actionUses(a *ciconfig.Action) []usesRef {
	if a.Runs == nil {
		return nil
	}
	var out []usesRef
	for _, s := range a.Runs.Steps {
		if s.Uses != nil {
			out = append(out, usesRef{str: s.Uses, uses: ciconfig.ParseUses(s.Uses.Value), step: s})
		}
	}
	return out
}

// WorkflowInfo is what a check across files needs to know of a workflow.
type WorkflowInfo struct {
	// Name is the workflow's name for workflow_run filters (WorkflowName)
	// and Events the events that trigger it.
	Name   string
	Events []string
	// NeedsWorkflows is set when the workflow's findings depend on
	// Context.Workflows: it is to be checked again with them.
	NeedsWorkflows bool
}

// WorkflowName is the name workflow_run's workflows: filters match for the
// workflow w at path: its name:, or its path when it has none.
func WorkflowName(w *ciconfig.Workflow, path string) string {
	if w.Name != nil && w.Name.Value != "" {
		return w.Name.Value
	}
	return path
}

// WorkflowEvents returns the names of the events that trigger w.
func WorkflowEvents(w *ciconfig.Workflow) []string {
	out := make([]string, 0, len(w.On))
	for _, e := range w.On {
		out = append(out, e.Name.Value)
	}
	return out
}

// NeedsWorkflows reports whether checking w depends on Context.Workflows
// (it runs on workflow_run), so that a scan can check it again once every
// workflow of the repository is known.
func NeedsWorkflows(w *ciconfig.Workflow) bool {
	return w.Trigger("workflow_run") != nil
}
