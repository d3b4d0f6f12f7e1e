package ciconfig

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/rhysd/actionlint"
)

// Workflow is a GitHub Actions workflow (.github/workflows/*.yml). Slices
// are in source order; optional nodes are nil when absent.
type Workflow struct {
	*Source
	Name        *String
	On          []Event
	Permissions *Permissions
	Env         []Pair
	// EnvExpr is an env: given as a whole expression (${{ fromJSON(...) }}),
	// whose variables are known only at run time; nil otherwise.
	EnvExpr *String
	Jobs    []*Job
}

// Event is one trigger under on:.
type Event struct {
	// Name is the event name with the position of its key (or of the list
	// item / scalar naming it).
	Name String
	// Types are the activity types (types:), Branches and Tags the push /
	// pull_request filters; nil when not given.
	Types, Branches, Tags []String
	// Workflows are the upstream workflow names of workflow_run.
	Workflows []String
	// Inputs are the inputs of workflow_dispatch and workflow_call, in
	// source order.
	Inputs []Input
}

// Input is one declared input of workflow_dispatch or workflow_call.
type Input struct {
	// Name is the input's name in lower case (input names are
	// case-insensitive).
	Name string
	// Type is string, number, boolean, choice or environment; an untyped
	// workflow_dispatch input is a string.
	Type string
}

// FreeText reports whether the input can carry arbitrary text.
func (in Input) FreeText() bool { return in.Type == "string" || in.Type == "" }

// Permissions is a permissions: block, at workflow or job level.
type Permissions struct {
	// Pos is the position of the permissions: key.
	Pos Pos
	// All is set for the scalar forms (read-all, write-all, {}), nil for a
	// mapping.
	All *String
	// Scopes are the scope: value entries of the mapping form, in source
	// order.
	Scopes []Pair
}

// Pair is one key: value entry (with:, env:, secrets:, permission scopes).
// Value is nil when the value is not a scalar.
type Pair struct {
	Name  String
	Value *String
}

// Job is one entry under jobs:.
type Job struct {
	// ID is the job's key.
	ID          String
	Name, If    *String
	Permissions *Permissions
	RunsOn      *RunsOn
	// Container is the image of container: (nil when absent or given by an
	// expression only).
	Container *String
	Services  []Service
	Env       []Pair
	// EnvExpr is an env: given as a whole expression (${{ fromJSON(...) }}),
	// whose variables are known only at run time; nil otherwise.
	EnvExpr *String
	// Matrix holds the scalar values of strategy.matrix, by row, include:
	// entries added to their rows; nil when the matrix is absent or an
	// expression.
	Matrix []MatrixRow
	// MatrixExpr is a strategy.matrix given as a whole expression
	// (${{ fromJSON(...) }}); nil otherwise.
	MatrixExpr *String
	// Outputs are the job's outputs: entries, in source order.
	Outputs []Pair
	Steps   []*Step
	// Uses is set when the job calls a reusable workflow; With and Secrets
	// are its inputs, SecretsInherit the position of `secrets: inherit`.
	Uses           *String
	With, Secrets  []Pair
	SecretsInherit *Pos
}

// RunsOn is the runs-on: value of a job.
type RunsOn struct {
	Labels []String
	// Group is the runner group of the object form; Expr a whole-value
	// expression such as ${{ matrix.os }}.
	Group, Expr *String
}

// MatrixRow is one key of strategy.matrix with the scalar values it can
// take, each with its position.
type MatrixRow struct {
	Name   String
	Values []String
}

// MatrixValues returns the values of row name, or nil.
func (j *Job) MatrixValues(name string) []String {
	for i := range j.Matrix {
		if j.Matrix[i].Name.Value == name {
			return j.Matrix[i].Values
		}
	}
	return nil
}

// Service is one entry under services:.
type Service struct {
	Name  String
	Image *String
}

// Step is one step of a job or of a composite action. Exactly one of Uses
// and Run is set in a valid step.
type Step struct {
	// Pos is the position of the step's mapping (its first key).
	Pos          Pos
	ID, Name, If *String
	Uses         *String
	With         []Pair
	Run, Shell   *String
	Env          []Pair
	// EnvExpr is an env: given as a whole expression (${{ fromJSON(...) }}),
	// whose variables are known only at run time; nil otherwise.
	EnvExpr *String
}

// Input returns the with: entry named name (case-insensitively), or nil.
func (s *Step) Input(name string) *Pair {
	for i := range s.With {
		if strings.EqualFold(s.With[i].Name.Value, name) {
			return &s.With[i]
		}
	}
	return nil
}

// Trigger returns the event named name (case-sensitive, as GitHub
// matches), or nil.
func (w *Workflow) Trigger(name string) *Event {
	for i := range w.On {
		if w.On[i].Name.Value == name {
			return &w.On[i]
		}
	}
	return nil
}

// ParseWorkflow parses a workflow with actionlint's parser (which keeps
// positions and resolves YAML anchors) and converts it to a Workflow.
//
// When the bytes are not YAML, or their aliases expand beyond
// MaxExpandedNodes, it returns a nil Workflow and a *ParseError.
// When they are YAML but not a valid workflow (unknown keys, wrong types),
// it returns the partial Workflow together with a *ParseError for the first
// problem, so that rules can still check what was understood.
//
// Most workflows are read by a fast front end (fastyaml.go, fastworkflow.go)
// that produces exactly the same Workflow; whatever it is not sure about,
// errors included, goes through actionlint.
func ParseWorkflow(src []byte) (*Workflow, error) {
	if w, ok := fastWorkflow(src); ok {
		return w, nil
	}
	return parseWorkflowActionlint(src)
}

// parseWorkflowActionlint is ParseWorkflow without the fast front end.
func parseWorkflowActionlint(src []byte) (*Workflow, error) {
	if err := checkWorkflowAliases(src); err != nil {
		return nil, err
	}
	if onlyComments(src) {
		// Entirely commented out (or empty): a valid file that runs
		// nothing.
		return &Workflow{Source: NewSource(src)}, nil
	}
	aw, errs := actionlint.Parse(src)
	errs = lenientErrors(src, errs)
	if aw == nil {
		return nil, firstError(errs)
	}
	w := &Workflow{Source: NewSource(src), Name: str(aw.Name), Env: env(aw.Env), EnvExpr: envExpr(aw.Env), Permissions: perms(aw.Permissions)}
	for _, e := range aw.On {
		w.On = append(w.On, event(e))
	}
	for _, j := range aw.Jobs {
		if j != nil && j.ID != nil {
			w.Jobs = append(w.Jobs, job(w.Source, j))
		}
	}
	slices.SortFunc(w.Jobs, func(a, b *Job) int { return comparePos(a.ID.Pos, b.ID.Pos) })
	expanded := map[Pos]bool{}
	for _, j := range w.Jobs {
		var perrs []*actionlint.Error
		j.Steps, perrs = expandParallel(w.Source, j.Steps, expanded)
		errs = append(errs, perrs...)
	}
	errs = slices.DeleteFunc(errs, func(e *actionlint.Error) bool {
		return e.Message == stepWithoutExec && expanded[Pos{Line: e.Line, Column: e.Column}]
	})
	return w, firstError(errs)
}

// stepWithoutExec is actionlint's message for a step with neither run: nor
// uses:, which is what it makes of a parallel: step.
const stepWithoutExec = `step must run script with "run" section or run action with "uses" section`

// lenientErrors drops the problems of valid workflows that actionlint
// rejects: empty sections (`secrets: {}`) and a
// section given by a whole expression (`with: ${{ fromJSON(vars.X) }}`),
// which GitHub evaluates at run time, when it reads no context an outsider
// can fill (trustedSection).
func lenientErrors(src []byte, errs []*actionlint.Error) []*actionlint.Error {
	var s *Source
	return slices.DeleteFunc(errs, func(e *actionlint.Error) bool {
		switch {
		case strings.Contains(e.Message, "is scalar node but"):
			if s == nil {
				s = NewSource(src)
			}
			off := s.Offset(Pos{Line: e.Line, Column: e.Column})
			return off >= 0 && bytes.HasPrefix(src[off:], []byte("${{")) && trustedSection(src[off:])
		case strings.HasSuffix(e.Message, "should not be empty") ||
			strings.Contains(e.Message, "should not be empty. please remove"):
			return true
		}
		return false
	})
}

// riskyContexts are the contexts that can carry an outsider's text (or a
// value derived from one) into a section given by a whole expression: a
// `with:` or `env:` built from them decides inputs and environment
// variables (BASH_ENV, NODE_OPTIONS) that nothing can check, so such a
// section stays a problem.
var riskyContexts = []string{"github.event", "github.head_ref", "inputs.", "steps.", "needs.", "env.", "job.", "matrix."}

// trustedSection reports whether the expression at the start of b (up to
// the end of its line) reads none of riskyContexts.
func trustedSection(b []byte) bool {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	l := strings.ToLower(string(b))
	for _, c := range riskyContexts {
		if strings.Contains(l, c) {
			return false
		}
	}
	return true
}

// onlyComments reports whether src has no YAML content besides comments,
// blank lines and document markers.
func onlyComments(src []byte) bool {
	for line := range bytes.Lines(src) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && string(t) != "---" && string(t) != "..." {
			return false
		}
	}
	return true
}

// minorError reports whether an actionlint message is an unknown key that
// cannot hide a step: any key but parallel: (whose steps, beside a run: or
// uses:, would not be checked).
func minorError(msg string) bool {
	return strings.HasPrefix(msg, "unexpected key ") && !strings.HasPrefix(msg, `unexpected key "parallel"`)
}

// firstError returns the first problem of errs as a *ParseError, Minor
// when every problem is an unknown key (which GitHub ignores or which
// cannot add a step), nil when errs is empty.
func firstError(errs []*actionlint.Error) error {
	if len(errs) == 0 {
		return nil
	}
	minor := true
	for _, e := range errs {
		if !minorError(e.Message) {
			minor = false
		}
	}
	first := slices.MinFunc(errs, func(a, b *actionlint.Error) int {
		// A serious problem goes first: it is the one to fix.
		am, bm := minorError(a.Message), minorError(b.Message)
		if am != bm {
			if am {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &ParseError{Pos: fixPos(first.Line, first.Column), Msg: first.Message, Minor: minor}
}

func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
}

func pos(p *actionlint.Pos) Pos {
	if p == nil {
		return Pos{}
	}
	return Pos{Line: p.Line, Column: p.Col}
}

func str(s *actionlint.String) *String {
	if s == nil {
		return nil
	}
	return &String{Value: s.Value, Pos: pos(s.Pos), Quoted: s.Quoted}
}

func strs(ss []*actionlint.String) []String {
	var out []String
	for _, s := range ss {
		if s != nil {
			out = append(out, *str(s))
		}
	}
	return out
}

func pair(name, value *actionlint.String) Pair {
	p := Pair{Value: str(value)}
	if n := str(name); n != nil {
		p.Name = *n
	}
	return p
}

func sortPairs(ps []Pair) []Pair {
	slices.SortFunc(ps, func(a, b Pair) int { return comparePos(a.Name.Pos, b.Name.Pos) })
	return ps
}

func env(e *actionlint.Env) []Pair {
	if e == nil {
		return nil
	}
	var out []Pair
	for _, v := range e.Vars {
		out = append(out, pair(v.Name, v.Value))
	}
	return sortPairs(out)
}

// envExpr returns the whole-section expression of e, or nil.
func envExpr(e *actionlint.Env) *String {
	if e == nil {
		return nil
	}
	return str(e.Expression)
}

func perms(p *actionlint.Permissions) *Permissions {
	if p == nil {
		return nil
	}
	out := &Permissions{Pos: pos(p.Pos), All: str(p.All)}
	for _, s := range p.Scopes {
		out.Scopes = append(out.Scopes, pair(s.Name, s.Value))
	}
	sortPairs(out.Scopes)
	return out
}

func event(e actionlint.Event) Event {
	switch e := e.(type) {
	case *actionlint.WebhookEvent:
		ev := Event{Types: strs(e.Types)}
		if n := str(e.Hook); n != nil {
			ev.Name = *n
		}
		if e.Branches != nil {
			ev.Branches = strs(e.Branches.Values)
		}
		if e.Tags != nil {
			ev.Tags = strs(e.Tags.Values)
		}
		ev.Workflows = strs(e.Workflows)
		return ev
	case *actionlint.ScheduledEvent:
		return Event{Name: String{Value: e.EventName(), Pos: pos(e.Pos)}}
	case *actionlint.WorkflowDispatchEvent:
		return Event{Name: String{Value: e.EventName(), Pos: pos(e.Pos)}, Inputs: dispatchInputs(e.Inputs)}
	case *actionlint.RepositoryDispatchEvent:
		return Event{Name: String{Value: e.EventName(), Pos: pos(e.Pos)}, Types: strs(e.Types)}
	case *actionlint.WorkflowCallEvent:
		ev := Event{Name: String{Value: e.EventName(), Pos: pos(e.Pos)}}
		for _, in := range e.Inputs {
			if in == nil || in.Name == nil {
				continue
			}
			t := ""
			switch in.Type {
			case actionlint.WorkflowCallEventInputTypeNumber:
				t = "number"
			case actionlint.WorkflowCallEventInputTypeBoolean:
				t = "boolean"
			case actionlint.WorkflowCallEventInputTypeString:
				t = "string"
			}
			ev.Inputs = append(ev.Inputs, Input{Name: strings.ToLower(in.Name.Value), Type: t})
		}
		return ev
	case *actionlint.ImageVersionEvent:
		return Event{Name: String{Value: e.EventName(), Pos: pos(e.Pos)}}
	}
	return Event{Name: String{Value: e.EventName()}}
}

// dispatchInputs converts workflow_dispatch inputs (a map) in source
// order, as the fast front end reads them.
func dispatchInputs(m map[string]*actionlint.DispatchInput) []Input {
	ins := make([]*actionlint.DispatchInput, 0, len(m))
	for _, in := range m {
		if in != nil && in.Name != nil {
			ins = append(ins, in)
		}
	}
	slices.SortFunc(ins, func(a, b *actionlint.DispatchInput) int { return comparePos(pos(a.Name.Pos), pos(b.Name.Pos)) })
	var out []Input
	for _, in := range ins {
		t := "string"
		switch in.Type {
		case actionlint.WorkflowDispatchEventInputTypeNumber:
			t = "number"
		case actionlint.WorkflowDispatchEventInputTypeBoolean:
			t = "boolean"
		case actionlint.WorkflowDispatchEventInputTypeChoice:
			t = "choice"
		case actionlint.WorkflowDispatchEventInputTypeEnvironment:
			t = "environment"
		}
		out = append(out, Input{Name: strings.ToLower(in.Name.Value), Type: t})
	}
	return out
}

func job(src *Source, j *actionlint.Job) *Job {
	out := &Job{
		ID:          *str(j.ID),
		Name:        str(j.Name),
		If:          str(j.If),
		Permissions: perms(j.Permissions),
		Env:         env(j.Env),
		EnvExpr:     envExpr(j.Env),
	}
	if r := j.RunsOn; r != nil {
		out.RunsOn = &RunsOn{Labels: strs(r.Labels), Group: str(r.Group), Expr: str(r.LabelsExpr)}
	}
	for _, o := range j.Outputs {
		if o != nil && o.Name != nil {
			out.Outputs = append(out.Outputs, pair(o.Name, o.Value))
		}
	}
	sortPairs(out.Outputs)
	if j.Strategy != nil && j.Strategy.Matrix != nil {
		out.MatrixExpr = str(j.Strategy.Matrix.Expression)
		out.Matrix = matrix(j.Strategy.Matrix)
	}
	if c := j.Container; c != nil {
		out.Container = str(c.Image)
	}
	if s := j.Services; s != nil {
		for _, sv := range s.Value {
			if sv == nil || sv.Name == nil {
				continue
			}
			svc := Service{Name: *str(sv.Name)}
			if sv.Container != nil {
				svc.Image = str(sv.Container.Image)
			}
			out.Services = append(out.Services, svc)
		}
		slices.SortFunc(out.Services, func(a, b Service) int { return comparePos(a.Name.Pos, b.Name.Pos) })
	}
	if wc := j.WorkflowCall; wc != nil {
		out.Uses = str(wc.Uses)
		for _, in := range wc.Inputs {
			out.With = append(out.With, pair(in.Name, in.Value))
		}
		sortPairs(out.With)
		for _, s := range wc.Secrets {
			out.Secrets = append(out.Secrets, pair(s.Name, s.Value))
		}
		sortPairs(out.Secrets)
		if wc.InheritSecrets {
			p := findKey(src, pos(j.Pos), "secrets")
			out.SecretsInherit = &p
		}
	}
	for _, s := range j.Steps {
		if s != nil {
			out.Steps = append(out.Steps, step(s))
		}
	}
	return out
}

func step(s *actionlint.Step) *Step {
	out := &Step{Pos: pos(s.Pos), ID: str(s.ID), Name: str(s.Name), If: str(s.If), Env: env(s.Env), EnvExpr: envExpr(s.Env)}
	switch e := s.Exec.(type) {
	case *actionlint.ExecRun:
		out.Run, out.Shell = str(e.Run), str(e.Shell)
	case *actionlint.ExecAction:
		out.Uses = str(e.Uses)
		for _, in := range e.Inputs {
			out.With = append(out.With, pair(in.Name, in.Value))
		}
		for _, p := range []struct {
			name string
			v    *actionlint.String
		}{{"entrypoint", e.Entrypoint}, {"args", e.Args}} {
			if p.v != nil {
				// actionlint keeps only the value; the key is on the
				// value's line.
				out.With = append(out.With, Pair{Name: String{Value: p.name, Pos: pos(p.v.Pos)}, Value: str(p.v)})
			}
		}
		sortPairs(out.With)
	}
	return out
}

// findKey returns the position of the first "key:" at or after from, or
// from itself when there is none. It is used for keys whose position
// actionlint does not keep.
func findKey(src *Source, from Pos, key string) Pos {
	start := src.Offset(from)
	if start < 0 {
		return from
	}
	b := src.Bytes()[start:]
	needle := []byte(key + ":")
	for at := 0; ; {
		i := bytes.Index(b[at:], needle)
		if i < 0 {
			return from
		}
		i += at
		if i == 0 || b[i-1] == ' ' || b[i-1] == '\t' || b[i-1] == '\n' || b[i-1] == '{' || b[i-1] == ',' {
			return src.PosOf(start + i)
		}
		at = i + len(needle)
	}
}

func matrix(m *actionlint.Matrix) []MatrixRow {
	var rows []MatrixRow
	index := map[string]int{}
	add := func(name *actionlint.String, v actionlint.RawYAMLValue) {
		if name == nil {
			return
		}
		i, ok := index[name.Value]
		if !ok {
			i = len(rows)
			index[name.Value] = i
			rows = append(rows, MatrixRow{Name: *str(name)})
		}
		if s, ok := v.(*actionlint.RawYAMLString); ok {
			rows[i].Values = append(rows[i].Values, String{Value: s.Value, Pos: pos(s.Pos())})
		}
	}
	for _, r := range m.Rows {
		if r == nil {
			continue
		}
		if len(r.Values) == 0 {
			add(r.Name, nil)
		}
		for _, v := range r.Values {
			add(r.Name, v)
		}
	}
	if m.Include != nil {
		for _, c := range m.Include.Combinations {
			if c == nil {
				continue
			}
			for _, a := range c.Assigns {
				if a != nil {
					add(a.Key, a.Value)
				}
			}
		}
	}
	slices.SortFunc(rows, func(a, b MatrixRow) int { return comparePos(a.Name.Pos, b.Name.Pos) })
	for i := range rows {
		slices.SortFunc(rows[i].Values, func(a, b String) int { return comparePos(a.Pos, b.Pos) })
	}
	return rows
}
