package cicheck

import (
	"strings"

	"github.com/rhysd/actionlint"
)

// expr is one ${{ }} expression inside a string value.
type expr struct {
	// Start is the byte offset of "${{" in the value, End the offset just
	// past "}}" (or the end of the value when the expression is not
	// closed).
	Start, End int
	// Untrusted lists the attacker-controllable context paths the
	// expression expands into text (e.g. "github.event.issue.title"), in
	// source order; nil when there are none. A whole object that holds
	// such fields (toJSON(github.event)) is listed as its path followed by
	// " (whole object)".
	Untrusted []string
	// TooComplex is set when the expression is longer than
	// maxExprLen or nests deeper than maxExprDepth: it was not parsed,
	// so Untrusted is nil whatever it holds (rule
	// expression-too-complex reports it).
	TooComplex bool
}

// Limits on one expression, GitHub's own (the runner rejects longer or
// deeper expressions). They are checked before parsing: actionlint's
// parser recurses once per nesting level, and a million nested
// parentheses overflow the stack.
const (
	maxExprLen   = 21_000
	maxExprDepth = 50
)

// tooComplex reports whether expression text exceeds maxExprLen bytes or
// nests parentheses and brackets deeper than maxExprDepth (string
// literals skipped). It is linear in text and stops at the first excess.
func tooComplex(text string) bool {
	if len(text) > maxExprLen {
		return true
	}
	if len(text) <= maxExprDepth {
		return false
	}
	depth, inString := 0, false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\'':
			inString = !inString
		case inString:
		case c == '(' || c == '[':
			if depth++; depth > maxExprDepth {
				return true
			}
		case c == ')' || c == ']':
			depth = max(0, depth-1)
		}
	}
	return false
}

// wholeObject marks an untrusted path that names an object holding
// attacker-controllable fields rather than one field.
const wholeObject = " (whole object)"

// expressions finds the ${{ }} expressions of s in order and the untrusted
// inputs each expands. It is cheap for the common cases: a value without
// "${{" costs one search, the end of an expression is found by skipping
// string literals (so "}}" inside one does not end it), an expression
// that is a plain context path (github.event.issue.title, matrix.os) is
// looked up without parsing, and only an expression that mentions "event"
// or "head_ref" in some other form is parsed, with actionlint's
// expression parser, and only when it is within maxExprLen and
// maxExprDepth (else it is marked TooComplex).
//
// An expression text repeated in s is parsed once.
func expressions(s string) []expr {
	return (&exprParser{}).all(s)
}

// tooComplexExpressions returns the expressions of s that exceed the
// limits, without looking at what the others expand.
func tooComplexExpressions(s string) []expr {
	var out []expr
	p := exprParser{limitsOnly: true}
	for at := 0; ; {
		i := strings.Index(s[at:], "${{")
		if i < 0 {
			return out
		}
		e := p.next(s, at+i)
		if e.TooComplex {
			out = append(out, e)
		}
		at = e.End
	}
}

// all returns the expressions of s in order.
func (p *exprParser) all(s string) []expr {
	var out []expr
	for at := 0; ; {
		i := strings.Index(s[at:], "${{")
		if i < 0 {
			return out
		}
		e := p.next(s, at+i)
		out = append(out, e)
		at = e.End
	}
}

// exprParser parses the expressions of one value, remembering what each
// text it parsed expands.
type exprParser struct {
	// limitsOnly skips the analysis of untrusted inputs.
	limitsOnly bool
	// first is the first text parsed and what it expands; memo holds the
	// others (most values have one expression to parse, and no map).
	first     string
	firstUsed bool
	firstU    []string
	memo      map[string][]string
}

// parse returns parseUntrusted(text), once per distinct text.
func (p *exprParser) parse(text string) []string {
	if p.firstUsed && p.first == text {
		return p.firstU
	}
	if u, ok := p.memo[text]; ok {
		return u
	}
	u := parseUntrusted(text)
	switch {
	case !p.firstUsed:
		p.first, p.firstU, p.firstUsed = text, u, true
	case p.memo == nil:
		p.memo = map[string][]string{text: u}
	default:
		p.memo[text] = u
	}
	return u
}

// next reads the expression whose "${{" is at start.
func (p *exprParser) next(s string, start int) expr {
	body := s[start+3:]
	j := closingBraces(body)
	if j < 0 {
		// Not closed: the expression runs to the end of the value.
		e := expr{Start: start, End: len(s), TooComplex: tooComplex(body)}
		if !e.TooComplex && !p.limitsOnly && mayBeUntrusted(body) {
			e.Untrusted = p.parse(body)
		}
		return e
	}
	e := expr{Start: start, End: start + 3 + j + 2}
	inner := body[:j]
	if tooComplex(inner) {
		e.TooComplex = true
		return e
	}
	if p.limitsOnly {
		return e
	}
	if p, ok := plainPath(inner); ok {
		if n := untrustedTree.lookup(p); n != nil {
			e.Untrusted = []string{n.describe()}
		}
		return e
	}
	if mayBeUntrusted(inner) {
		e.Untrusted = p.parse(body[:j+2])
	}
	return e
}

// closingBraces returns the offset of the "}}" that ends an expression
// body, skipping string literals ('...', a doubled quote escaping one, as
// GitHub's expression syntax has them), or -1. An unterminated literal
// falls back to the first "}}".
func closingBraces(body string) int {
	first := strings.Index(body, "}}")
	if first < 0 || strings.IndexByte(body[:first], '\'') < 0 {
		return first
	}
	inString := false
	for i := 0; i+1 < len(body); i++ {
		switch c := body[i]; {
		case c == '\'':
			inString = !inString // '' toggles twice: still inside
		case !inString && c == '}' && body[i+1] == '}':
			return i
		}
	}
	return first
}

// plainPath reports whether the expression text is a bare context path
// (identifiers joined by dots, "*" filters allowed, surrounding spaces
// ignored) and returns it.
func plainPath(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !(isIdentStart(s[0])) {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(isIdentStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '*') {
			return "", false
		}
	}
	return s, true
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// mayBeUntrusted is a cheap filter on expression text: every untrusted
// input lives under github.event or is github.head_ref, and the property
// name appears literally (as a dereference or a string index) in any
// spelling, in any letter case.
func mayBeUntrusted(body string) bool {
	return containsFold(body, "event") || containsFold(body, "head_ref")
}

// containsFold reports whether s contains the lower-case ASCII text sub,
// ignoring ASCII case, without allocating. It jumps between occurrences of
// sub's first byte (in either case) with IndexByte.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	lo, up := sub[0], sub[0]
	if 'a' <= lo && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	// Offsets of the next lo and up bytes at or after i; -2 when there
	// are none. Both are remembered: searching again for a byte that
	// does not occur at every occurrence of the other would be quadratic.
	nextLo, nextUp := -1, -1
	for i := 0; i+len(sub) <= len(s); i++ {
		if nextLo != -2 && nextLo < i {
			if k := strings.IndexByte(s[i:], lo); k >= 0 {
				nextLo = i + k
			} else {
				nextLo = -2
			}
		}
		j := nextLo
		if j == -2 {
			j = -1
		}
		if up != lo && nextUp != -2 {
			if nextUp < i {
				if k := strings.IndexByte(s[i:], up); k >= 0 {
					nextUp = i + k
				} else {
					nextUp = -2
				}
			}
			if nextUp >= 0 && (j < 0 || nextUp < j) {
				j = nextUp
			}
		}
		if j < 0 || j+len(sub) > len(s) {
			return false
		}
		if equalFoldASCII(s[j+1:j+len(sub)], sub[1:]) {
			return true
		}
		i = j
	}
	return false
}

// equalFoldASCII compares s with lower-case ASCII sub, ignoring ASCII case.
func equalFoldASCII(s, sub string) bool {
	for k := 0; k < len(sub); k++ {
		c := s[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != sub[k] {
			return false
		}
	}
	return true
}

// parseUntrusted parses expression text (up to and including its "}}")
// and returns the untrusted inputs it expands; nil when it does not parse.
func parseUntrusted(text string) []string {
	node, err := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(text))
	if err != nil {
		return nil
	}
	return untrustedIn(node)
}

// untrustedIn returns the attacker-controllable context paths that the
// expression n expands into its value. Paths whose value is reduced to a
// boolean or a number — arguments of contains(), startsWith(), endsWith(),
// hashFiles(), operands of comparisons and of ! — do not count.
func untrustedIn(n actionlint.ExprNode) []string {
	var out []string
	walkExpanded(n, func(n actionlint.ExprNode, reduced bool) actionlint.ExprNode {
		t, base := untrustedTree.resolve(n)
		if t != nil && !reduced {
			out = append(out, t.describe())
		}
		return base // e.g. fromJSON(x).y: look inside x
	})
	return out
}

// walkExpanded calls chain for every property-access chain in n
// (github.event.issue.title, inputs['x'], a.*.b), telling whether its
// value is reduced to a boolean or number on its way to the result —
// an argument of contains(), startsWith(), endsWith(), hashFiles(), an
// operand of a comparison or of !, the left side of && — and walks into
// the chain's root when chain returns it (a function call whose result
// is dereferenced).
func walkExpanded(n actionlint.ExprNode, chain func(n actionlint.ExprNode, reduced bool) (base actionlint.ExprNode)) {
	var visit func(n actionlint.ExprNode, reduced bool)
	visit = func(n actionlint.ExprNode, reduced bool) {
		switch n := n.(type) {
		case *actionlint.VariableNode, *actionlint.ObjectDerefNode, *actionlint.IndexAccessNode, *actionlint.ArrayDerefNode:
			if base := chain(n, reduced); base != nil {
				visit(base, reduced)
			}
		case *actionlint.FuncCallNode:
			switch strings.ToLower(n.Callee) {
			case "contains", "startswith", "endswith", "hashfiles", "success", "failure", "always", "cancelled":
				reduced = true
			}
			for _, a := range n.Args {
				visit(a, reduced)
			}
		case *actionlint.NotOpNode:
			visit(n.Operand, true)
		case *actionlint.CompareOpNode:
			visit(n.Left, true)
			visit(n.Right, true)
		case *actionlint.LogicalOpNode:
			// a && b yields a only when a is falsy (empty): harmless.
			visit(n.Left, reduced || n.Kind == actionlint.LogicalOpNodeKindAnd)
			visit(n.Right, reduced)
		}
	}
	visit(n, false)
}

// inputNode is a node of the tree of untrusted context paths. A node
// without children is an attacker-controllable value; a node with
// children is an object that holds some.
type inputNode struct {
	path     string
	children map[string]*inputNode
}

func (n *inputNode) describe() string {
	if len(n.children) == 0 {
		return n.path
	}
	return n.path + wholeObject
}

func (n *inputNode) child(name string) *inputNode {
	if n == nil || len(n.children) == 0 {
		return nil
	}
	if c, ok := n.children[name]; ok {
		return c
	}
	return n.children[strings.ToLower(name)]
}

// lookup resolves a plain dotted path (any letter case). It returns the
// untrusted value or object the path names, the value when the path goes
// on below one (github.event.issue.title.length), or nil.
func (n *inputNode) lookup(p string) *inputNode {
	cur := n
	for p != "" {
		seg := p
		if i := strings.IndexByte(p, '.'); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		next := cur.child(seg)
		if next == nil {
			return nil
		}
		cur = next
		if len(cur.children) == 0 {
			return cur
		}
	}
	if cur == n {
		return nil
	}
	return cur
}

// resolve maps a property-access chain (github.event['issue'].title,
// github.event.commits.*.message, github.event.pages[0].page_name) to its
// node in the tree, or nil. base is the chain's root when that is not a
// context name (a function call, say), for the caller to look into.
func (n *inputNode) resolve(e actionlint.ExprNode) (t *inputNode, base actionlint.ExprNode) {
	var step func(e actionlint.ExprNode) (*inputNode, bool)
	step = func(e actionlint.ExprNode) (*inputNode, bool) {
		var parent *inputNode
		var ok bool
		switch e := e.(type) {
		case *actionlint.VariableNode:
			return n.child(e.Name), true
		case *actionlint.ObjectDerefNode:
			if parent, ok = step(e.Receiver); parent == nil || len(parent.children) == 0 {
				return parent, ok
			}
			return parent.child(e.Property), true
		case *actionlint.ArrayDerefNode:
			if parent, ok = step(e.Receiver); parent == nil || len(parent.children) == 0 {
				return parent, ok
			}
			return parent.child("*"), true
		case *actionlint.IndexAccessNode:
			if parent, ok = step(e.Operand); parent == nil || len(parent.children) == 0 {
				return parent, ok
			}
			if s, isStr := e.Index.(*actionlint.StringNode); isStr {
				return parent.child(s.Value), true
			}
			return parent.child("*"), true
		default:
			base = e
			return nil, false
		}
	}
	t, _ = step(e)
	return t, base
}

// untrustedTree is actionlint's BuiltinUntrustedInputs (pull request,
// issue, comment, review, commit and discussion text, github.head_ref)
// merged with untrustedRoots: committer names and e-mails, and the fields
// of workflow_run that a pull request's author controls.
var untrustedTree = buildTree(actionlint.BuiltinUntrustedInputs, untrustedRoots)

var untrustedRoots = actionlint.UntrustedInputSearchRoots{
	"github": actionlint.NewUntrustedInputMap("github",
		actionlint.NewUntrustedInputMap("event",
			// Committer names and e-mails are as free-form as the
			// author's that actionlint lists.
			actionlint.NewUntrustedInputMap("head_commit",
				actionlint.NewUntrustedInputMap("committer",
					actionlint.NewUntrustedInputMap("email"),
					actionlint.NewUntrustedInputMap("name"),
				),
			),
			actionlint.NewUntrustedInputMap("commits",
				actionlint.NewUntrustedInputMap("*",
					actionlint.NewUntrustedInputMap("committer",
						actionlint.NewUntrustedInputMap("email"),
						actionlint.NewUntrustedInputMap("name"),
					),
				),
			),
			actionlint.NewUntrustedInputMap("workflow_run",
				actionlint.NewUntrustedInputMap("head_branch"),
				actionlint.NewUntrustedInputMap("display_title"),
				actionlint.NewUntrustedInputMap("head_commit",
					actionlint.NewUntrustedInputMap("message"),
					actionlint.NewUntrustedInputMap("author",
						actionlint.NewUntrustedInputMap("email"),
						actionlint.NewUntrustedInputMap("name"),
					),
					actionlint.NewUntrustedInputMap("committer",
						actionlint.NewUntrustedInputMap("email"),
						actionlint.NewUntrustedInputMap("name"),
					),
				),
				actionlint.NewUntrustedInputMap("head_repository",
					actionlint.NewUntrustedInputMap("description"),
					actionlint.NewUntrustedInputMap("owner",
						actionlint.NewUntrustedInputMap("email"),
					),
				),
				actionlint.NewUntrustedInputMap("pull_requests",
					actionlint.NewUntrustedInputMap("*",
						actionlint.NewUntrustedInputMap("head",
							actionlint.NewUntrustedInputMap("ref"),
						),
					),
				),
			),
			actionlint.NewUntrustedInputMap("pull_request",
				actionlint.NewUntrustedInputMap("head",
					actionlint.NewUntrustedInputMap("repo",
						actionlint.NewUntrustedInputMap("description"),
					),
				),
			),
		),
	),
}

// buildTree merges search roots into one tree under an unnamed root.
func buildTree(rootSets ...actionlint.UntrustedInputSearchRoots) *inputNode {
	top := &inputNode{children: map[string]*inputNode{}}
	var merge func(dst *inputNode, m *actionlint.UntrustedInputMap)
	merge = func(dst *inputNode, m *actionlint.UntrustedInputMap) {
		c := dst.children[m.Name]
		if c == nil {
			path := m.Name
			if dst.path != "" {
				path = dst.path + "." + m.Name
			}
			c = &inputNode{path: path}
			if dst.children == nil {
				dst.children = map[string]*inputNode{}
			}
			dst.children[m.Name] = c
		}
		for _, k := range m.Children {
			merge(c, k)
		}
	}
	for _, roots := range rootSets {
		for _, r := range roots {
			merge(top, r)
		}
	}
	return top
}
