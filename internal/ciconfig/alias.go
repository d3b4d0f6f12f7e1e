package ciconfig

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v4"
)

// MaxExpandedNodes bounds how many nodes a YAML document may have once its
// aliases are expanded. Parsers that walk expanded trees (actionlint's
// workflow parser expands matrix values, merge keys expand mappings) would
// otherwise take exponential time on an "alias bomb": nine levels of ten
// aliases each make a billion nodes out of a few hundred bytes. Real
// workflows stay far below the limit.
const MaxExpandedNodes = 200_000

// CheckAliases returns a *ParseError when the aliases of doc (a parsed
// YAML document) expand to more than MaxExpandedNodes nodes, positioned at
// the alias that crosses the limit. Recursive aliases are left to the
// parser that reports them.
func CheckAliases(doc *yaml.Node) error {
	memo := map[*yaml.Node]int{}
	var at *yaml.Node
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if n == nil {
			return 0
		}
		if depth > 1000 {
			return MaxExpandedNodes + 1
		}
		alias := n
		if n.Kind == yaml.AliasNode {
			n = n.Alias
			if n == nil {
				return 1
			}
		}
		if v, ok := memo[n]; ok {
			if v > MaxExpandedNodes && at == nil && alias.Kind == yaml.AliasNode {
				at = alias
			}
			return v
		}
		memo[n] = 1 // in progress: a recursive alias counts once
		total := 1
		for _, c := range n.Content {
			total += size(c, depth+1)
			if total > MaxExpandedNodes {
				if at == nil && c.Kind == yaml.AliasNode {
					at = c // the alias whose expansion crossed the limit
				}
				break
			}
		}
		memo[n] = total
		if total > MaxExpandedNodes && at == nil && alias.Kind == yaml.AliasNode {
			at = alias
		}
		return total
	}
	if size(doc, 0) <= MaxExpandedNodes {
		return nil
	}
	pe := &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: fmt.Sprintf("YAML aliases expand to more than %d nodes; refusing to expand them", MaxExpandedNodes)}
	if at != nil {
		pe.Pos = Pos{Line: max(at.Line, 1), Column: max(at.Column, 1)}
	}
	return pe
}

// mayHaveAnchors is a cheap test for "&name" anchors, so that only files
// that use them pay for CheckAliases.
func mayHaveAnchors(src []byte) bool {
	for i := bytes.IndexByte(src, '&'); i >= 0 && i+1 < len(src); {
		if c := src[i+1]; c != '&' && c != ' ' && c != '>' && c != '\n' && c != '\t' && c != '"' && c != '\'' && c != '\r' {
			return true
		}
		j := bytes.IndexByte(src[i+2:], '&')
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// checkWorkflowAliases parses src once more, only when it has anchors, to
// refuse alias bombs before actionlint walks the expanded tree.
func checkWorkflowAliases(src []byte) error {
	if !mayHaveAnchors(src) {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil // the workflow parser reports it with its own message
	}
	return CheckAliases(&doc)
}
