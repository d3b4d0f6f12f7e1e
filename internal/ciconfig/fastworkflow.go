package ciconfig

import (
	"slices"
	"strings"
)

// fastWorkflow converts the fast YAML tree of src into a Workflow exactly as
// actionlint.Parse followed by the conversion in workflow.go would, for
// workflows that actionlint parses without any error. ok is false as soon
// as the tree is outside the fast reader's subset or anything in it would
// make actionlint report an error (unknown keys, wrong node kinds, missing
// required keys, duplicates, ...): the caller then takes the actionlint
// path, which produces the error. The checks mirror actionlint's parse.go
// (v1.7.12) function by function.
func fastWorkflow(src []byte) (w *Workflow, ok bool) {
	root, ok := parseFastYAML(src)
	if !ok {
		return nil, false
	}
	c := &wconv{src: NewSource(src)}
	w = c.workflow(root)
	if c.fail {
		return nil, false
	}
	return w, true
}

type wconv struct {
	src  *Source
	fail bool
	strs []String // arena for the *String fields of the result
}

func (c *wconv) string(n *ynode) *String {
	if len(c.strs) == 0 {
		c.strs = make([]String, 64)
	}
	s := &c.strs[0]
	c.strs = c.strs[1:]
	*s = String{Value: n.value, Pos: Pos{Line: n.line, Column: n.col}, Quoted: n.quoted()}
	return s
}

func ypos(n *ynode) Pos { return Pos{Line: n.line, Column: n.col} }

// mapping is parseMapping: the key/value content of n, or nil (failing
// when actionlint reports an error).
func (c *wconv) mapping(n *ynode, allowEmpty, caseSensitive bool) []*ynode {
	if n.isNull() {
		if !allowEmpty {
			c.fail = true
		}
		return nil
	}
	if n.kind != yamlMap || (!allowEmpty && len(n.content) == 0) {
		c.fail = true
		return nil
	}
	var lower map[string]struct{} // for large case-insensitive mappings
	for i := 0; i < len(n.content); i += 2 {
		k := n.content[i]
		if k.value == "" || k.value == "<<" {
			c.fail = true
			return nil
		}
		switch {
		case caseSensitive: // exact duplicates never reach here
		case len(n.content) <= 2*smallMapping:
			for j := 0; j < i; j += 2 {
				if lowerEqual(n.content[j].value, k.value) {
					c.fail = true
					return nil
				}
			}
		default:
			if lower == nil {
				lower = make(map[string]struct{}, len(n.content)/2)
			}
			l := strings.ToLower(k.value)
			if _, dup := lower[l]; dup {
				c.fail = true
				return nil
			}
			lower[l] = struct{}{}
		}
	}
	return n.content
}

// lowerEqual reports strings.ToLower(a) == strings.ToLower(b) without
// allocating for ASCII strings.
func lowerEqual(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] >= 0x80 {
			return strings.ToLower(a) == strings.ToLower(b)
		}
	}
	for i := 0; i < len(b); i++ {
		if b[i] >= 0x80 {
			return strings.ToLower(a) == strings.ToLower(b)
		}
	}
	return strings.EqualFold(a, b)
}

// str is parseString.
func (c *wconv) str(n *ynode, allowEmpty bool) *String {
	if n.kind != yamlScalar || (!allowEmpty && n.value == "") {
		c.fail = true
		return nil
	}
	return c.string(n)
}

// strSeq is parseStringSequence.
func (c *wconv) strSeq(n *ynode, allowEmpty, allowElemEmpty bool) []String {
	if n.kind != yamlSeq || (!allowEmpty && len(n.content) == 0) {
		c.fail = true
		return nil
	}
	var out []String
	for _, e := range n.content {
		if s := c.str(e, allowElemEmpty); s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// strOrSeq is parseStringOrStringSequence, converted by strs().
func (c *wconv) strOrSeq(n *ynode, allowEmpty, allowElemEmpty bool) []String {
	if n.kind == yamlScalar {
		if allowEmpty && n.isNull() {
			return nil
		}
		if s := c.str(n, allowElemEmpty); s != nil {
			return []String{*s}
		}
		return nil
	}
	return c.strSeq(n, allowEmpty, allowElemEmpty)
}

// isExpr is actionlint's isExprAssigned.
func isExpr(s string) bool {
	v := strings.TrimSpace(s)
	return strings.HasPrefix(v, "${{") && strings.HasSuffix(v, "}}") && strings.Count(v, "${{") == 1
}

// mayExpr is mayParseExpression. A scalar holding a single expression is
// always a string: plain ones start with '$', which no other tag claims.
func (c *wconv) mayExpr(n *ynode) *String {
	if n.kind != yamlScalar || !isExpr(n.value) {
		return nil
	}
	return c.string(n)
}

// expr is parseExpression.
func (c *wconv) expr(n *ynode) {
	if !isExpr(n.value) {
		c.fail = true
	}
}

// boolean is parseBool.
func (c *wconv) boolean(n *ynode) {
	if n.kind != yamlScalar || !(n.isBool() || isExpr(n.value)) {
		c.fail = true
	}
}

// number is parseInt (max-parallel) and parseFloat (timeout-minutes),
// both checked to be greater than zero. Only plain decimal numbers are
// taken; other spellings (0x10, 1e3, 1_000) fall back.
func (c *wconv) number(n *ynode, allowFraction bool) {
	if n.kind != yamlScalar {
		c.fail = true
		return
	}
	if isExpr(n.value) {
		return
	}
	v := n.value
	if n.style != stylePlain || v == "" || len(v) > 9 || v[0] < '1' || v[0] > '9' {
		c.fail = true
		return
	}
	dot := false
	for i := 1; i < len(v); i++ {
		switch {
		case v[i] >= '0' && v[i] <= '9':
		case v[i] == '.' && allowFraction && !dot && i+1 < len(v):
			dot = true
		default:
			c.fail = true
			return
		}
	}
}

func (c *wconv) workflow(n *ynode) *Workflow {
	w := &Workflow{Source: c.src}
	var on, jobs bool
	m := c.mapping(n, false, true)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		switch k.value {
		case "name":
			w.Name = c.str(v, true)
		case "on":
			on = true
			w.On = c.events(v)
		case "permissions":
			w.Permissions = c.perms(k, v)
		case "env":
			w.Env, w.EnvExpr = c.env(v)
		case "defaults":
			c.defaults(v)
		case "concurrency":
			c.concurrency(v)
		case "jobs":
			jobs = true
			w.Jobs = c.jobs(v)
		case "run-name":
			c.str(v, false)
		default:
			c.fail = true
		}
	}
	if !on || !jobs {
		c.fail = true
	}
	return w
}

func (c *wconv) perms(k, v *ynode) *Permissions {
	p := &Permissions{Pos: ypos(k)}
	if v.kind == yamlScalar {
		p.All = c.str(v, false)
		return p
	}
	m := c.mapping(v, true, false)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		p.Scopes = append(p.Scopes, Pair{Name: *c.string(m[i]), Value: c.str(m[i+1], false)})
	}
	return p
}

// pairs reads a mapping of strings (env, with, secrets, outputs).
func (c *wconv) pairs(v *ynode) []Pair {
	m := c.mapping(v, false, false)
	var out []Pair
	for i := 0; i < len(m) && !c.fail; i += 2 {
		out = append(out, Pair{Name: *c.string(m[i]), Value: c.str(m[i+1], true)})
	}
	return sortPairs(out)
}

func (c *wconv) env(v *ynode) ([]Pair, *String) {
	if v.kind == yamlScalar {
		c.expr(v)
		if c.fail {
			return nil, nil
		}
		return nil, c.str(v, false) // EnvExpr
	}
	return c.pairs(v), nil
}

// keys walks the case-sensitive mapping v; check validates one entry and
// returns false for a key actionlint does not expect there.
func (c *wconv) keys(v *ynode, allowEmpty bool, check func(k, v *ynode) bool) {
	m := c.mapping(v, allowEmpty, true)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		if !check(m[i], m[i+1]) {
			c.fail = true
		}
	}
}

func (c *wconv) defaults(v *ynode) {
	c.keys(v, false, func(k, v *ynode) bool {
		if k.value != "run" {
			return false
		}
		c.keys(v, false, func(k, v *ynode) bool {
			switch k.value {
			case "shell", "working-directory":
				c.str(v, false)
				return true
			}
			return false
		})
		return true
	})
}

func (c *wconv) concurrency(v *ynode) {
	if v.kind == yamlScalar {
		c.str(v, false)
		return
	}
	group := false
	c.keys(v, false, func(k, v *ynode) bool {
		switch k.value {
		case "group":
			group = true
			c.str(v, false)
		case "cancel-in-progress":
			c.boolean(v)
		default:
			return false
		}
		return true
	})
	if !group {
		c.fail = true
	}
}

func (c *wconv) environment(v *ynode) {
	if v.kind == yamlScalar {
		c.str(v, false)
		return
	}
	name := false
	c.keys(v, false, func(k, v *ynode) bool {
		switch k.value {
		case "name":
			name = true
			c.str(v, false)
		case "url":
			c.str(v, false)
		case "deployment":
			c.boolean(v)
		default:
			return false
		}
		return true
	})
	if !name {
		c.fail = true
	}
}

func (c *wconv) jobs(v *ynode) []*Job {
	m := c.mapping(v, false, false)
	var out []*Job
	for i := 0; i < len(m) && !c.fail; i += 2 {
		out = append(out, c.job(m[i], m[i+1]))
	}
	slices.SortFunc(out, func(a, b *Job) int { return comparePos(a.ID.Pos, b.ID.Pos) })
	return out
}
