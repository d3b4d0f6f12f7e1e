package cicheck

import (
	"strings"

	"github.com/rhysd/actionlint"
)

// expr is one ${{ }} expression inside a string value.
type expr struct {
	// Start is the byte offset of "${{" in the value, End the offset just
	// past "}}".
	Start, End int
	// Node is the parsed expression; nil when it does not parse.
	Node actionlint.ExprNode
}

// expressions finds the ${{ }} expressions of s in order, parsed with
// actionlint's expression parser (so "}}" inside a string literal does not
// end an expression).
func expressions(s string) []expr {
	var out []expr
	for at := 0; ; {
		i := strings.Index(s[at:], "${{")
		if i < 0 {
			return out
		}
		start := at + i
		body := s[start+3:]
		if !mayBeUntrusted(body) {
			// Not worth parsing: no untrusted context can be in it.
			j := strings.Index(body, "}}")
			if j < 0 {
				out = append(out, expr{Start: start, End: len(s)})
				return out
			}
			out = append(out, expr{Start: start, End: start + 3 + j + 2})
			at = start + 3 + j + 2
			continue
		}
		lex := actionlint.NewExprLexer(body)
		node, err := actionlint.NewExprParser().Parse(lex)
		end := -1
		if err == nil {
			end = start + 3 + lex.Offset()
		} else {
			node = nil
			if j := strings.Index(body, "}}"); j >= 0 {
				end = start + 3 + j + 2
			}
		}
		if end < 0 || end > len(s) {
			out = append(out, expr{Start: start, End: len(s)})
			return out
		}
		out = append(out, expr{Start: start, End: end, Node: node})
		at = end
	}
}

// mayBeUntrusted is a cheap filter on the text after "${{": every
// untrusted input lives under github.event, github.head_ref or an index
// expression on github.
func mayBeUntrusted(body string) bool {
	if j := strings.Index(body, "}}"); j >= 0 {
		body = body[:j]
	}
	if strings.Contains(body, "head_ref") || strings.Contains(body, "github[") {
		return true
	}
	if !strings.Contains(body, "github.event") {
		return false
	}
	// Every untrusted github.event path ends in one of these names, or
	// reaches them through an index or a filter.
	for _, leaf := range untrustedLeaves {
		if strings.Contains(body, leaf) {
			return true
		}
	}
	return false
}

var untrustedLeaves = []string{"title", "body", "ref", "label", "branch", "name", "message", "email", "description", "[", "*"}

// untrustedRoots extends actionlint's BuiltinUntrustedInputs (pull request,
// issue, comment, review, commit and discussion text, github.head_ref) with
// the fields of workflow_run that a pull request's author controls.
var untrustedRoots = actionlint.UntrustedInputSearchRoots{
	"github": actionlint.NewUntrustedInputMap("github",
		actionlint.NewUntrustedInputMap("event",
			actionlint.NewUntrustedInputMap("workflow_run",
				actionlint.NewUntrustedInputMap("head_branch"),
				actionlint.NewUntrustedInputMap("display_title"),
				actionlint.NewUntrustedInputMap("head_commit",
					actionlint.NewUntrustedInputMap("message"),
					actionlint.NewUntrustedInputMap("author",
						actionlint.NewUntrustedInputMap("email"),
						actionlint.NewUntrustedInputMap("name"),
					),
				),
				actionlint.NewUntrustedInputMap("head_repository",
					actionlint.NewUntrustedInputMap("description"),
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

// untrustedInputs returns the attacker-controllable context paths that the
// expression n expands (e.g. "github.event.issue.title"), in the order
// actionlint reports them. Paths inside contains(), startsWith() and
// endsWith() do not count: those only yield a boolean.
func untrustedInputs(n actionlint.ExprNode) []string {
	if n == nil {
		return nil
	}
	var out []string
	for _, roots := range []actionlint.UntrustedInputSearchRoots{actionlint.BuiltinUntrustedInputs, untrustedRoots} {
		c := actionlint.NewUntrustedInputChecker(roots)
		actionlint.VisitExprNode(n, func(n, _ actionlint.ExprNode, entering bool) {
			if entering {
				c.OnVisitNodeEnter(n)
			} else {
				c.OnVisitNodeLeave(n)
			}
		})
		c.OnVisitEnd()
		for _, e := range c.Errs() {
			out = append(out, quotedPaths(e.Message)...)
		}
	}
	return out
}

// quotedPaths extracts the "context.path" strings that actionlint's
// checker quotes in its message (before the first period-space that ends
// the sentence naming them).
func quotedPaths(msg string) []string {
	if i := strings.Index(msg, ". "); i >= 0 {
		msg = msg[:i]
	}
	var out []string
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(msg[i+1:], '"')
		if j < 0 {
			return out
		}
		out = append(out, msg[i+1:i+1+j])
		msg = msg[i+j+2:]
	}
}
