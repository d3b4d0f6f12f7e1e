package ciconfig

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Action is an action metadata file (action.yml / action.yaml).
type Action struct {
	*Source
	Name *String
	Runs *Runs
}

// Runs is the runs: section of an action.
type Runs struct {
	// Pos is the position of the runs: key.
	Pos Pos
	// Using is composite, docker, node20, ...
	Using *String
	// Steps are the steps of a composite action.
	Steps []*Step
	// Image is the image of a Docker action ("Dockerfile" or docker://…).
	Image *String
}

// IsComposite reports whether the action runs steps.
func (a *Action) IsComposite() bool {
	return a.Runs != nil && a.Runs.Using != nil && strings.EqualFold(a.Runs.Using.Value, "composite")
}

// ParseAction parses an action metadata file. Keys the checks do not need
// (inputs, outputs, branding, ...) are skipped without validation. It
// returns a *ParseError when the bytes are not YAML, or when runs: or its
// steps have the wrong shape; with a shape error the partial Action comes
// back too.
func ParseAction(src []byte) (*Action, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, yamlError(err)
	}
	if err := CheckAliases(&doc); err != nil {
		return nil, err
	}
	a := &Action{Source: NewSource(src)}
	if len(doc.Content) == 0 {
		return a, &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: "action metadata is empty"}
	}
	p := &nodeParser{}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return a, &ParseError{Pos: npos(root), Msg: "action metadata must be a mapping"}
	}
	for k, v := range p.pairs(root) {
		switch k.Value {
		case "name":
			a.Name = p.scalar(v)
		case "runs":
			a.Runs = p.runs(k, v)
		}
	}
	if p.err != nil {
		return a, p.err
	}
	return a, nil
}

// nodeParser converts yaml.v3 nodes, remembering the first shape error.
type nodeParser struct {
	err *ParseError
}

func (p *nodeParser) fail(n *yaml.Node, format string, args ...any) {
	if p.err == nil {
		p.err = &ParseError{Pos: npos(n), Msg: fmt.Sprintf(format, args...)}
	}
}

func npos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// resolve follows aliases (bounded, so alias loops cannot hang).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pairs iterates over a mapping's entries, aliases resolved and merge keys
// (<<) expanded.
func (p *nodeParser) pairs(m *yaml.Node) func(yield func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		p.walkPairs(m, 0, yield)
	}
}

func (p *nodeParser) walkPairs(m *yaml.Node, depth int, yield func(k, v *yaml.Node) bool) bool {
	if depth > 20 {
		return true
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, mm := range merged {
				if mm = resolve(mm); mm != nil && mm.Kind == yaml.MappingNode {
					if !p.walkPairs(mm, depth+1, yield) {
						return false
					}
				}
			}
			continue
		}
		if !yield(k, v) {
			return false
		}
	}
	return true
}

func (p *nodeParser) scalar(n *yaml.Node) *String {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, "expected a scalar value, got a %s", kindName(n.Kind))
		return nil
	}
	return &String{Value: n.Value, Pos: npos(n), Quoted: n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "node"
}

func (p *nodeParser) runs(k, v *yaml.Node) *Runs {
	r := &Runs{Pos: npos(k)}
	if v.Kind != yaml.MappingNode {
		p.fail(v, "runs must be a mapping, got a %s", kindName(v.Kind))
		return r
	}
	for kk, vv := range p.pairs(v) {
		switch kk.Value {
		case "using":
			r.Using = p.scalar(vv)
		case "image":
			r.Image = p.scalar(vv)
		case "steps":
			if vv.Kind != yaml.SequenceNode {
				p.fail(vv, "runs.steps must be a sequence, got a %s", kindName(vv.Kind))
				continue
			}
			for _, s := range vv.Content {
				if s = resolve(s); s != nil {
					r.Steps = append(r.Steps, p.step(s))
				}
			}
		}
	}
	return r
}

func (p *nodeParser) step(n *yaml.Node) *Step {
	s := &Step{Pos: npos(n)}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "a step must be a mapping, got a %s", kindName(n.Kind))
		return s
	}
	for k, v := range p.pairs(n) {
		switch k.Value {
		case "id":
			s.ID = p.scalar(v)
		case "name":
			s.Name = p.scalar(v)
		case "if":
			s.If = p.scalar(v)
		case "uses":
			s.Uses = p.scalar(v)
		case "run":
			s.Run = p.scalar(v)
		case "shell":
			s.Shell = p.scalar(v)
		case "with":
			s.With = p.mapping("with", v)
		case "env":
			if v.Kind == yaml.ScalarNode && strings.Contains(v.Value, "${{") {
				s.EnvExpr = p.scalar(v)
			} else {
				s.Env = p.mapping("env", v)
			}
		}
	}
	return s
}

func (p *nodeParser) mapping(what string, n *yaml.Node) []Pair {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${{") {
			return nil // a whole-mapping expression
		}
		p.fail(n, "%s must be a mapping, got a %s", what, kindName(n.Kind))
		return nil
	}
	var out []Pair
	for k, v := range p.pairs(n) {
		pr := Pair{Name: String{Value: k.Value, Pos: npos(k)}}
		if v.Kind == yaml.ScalarNode {
			pr.Value = p.scalar(v)
		}
		out = append(out, pr)
	}
	return out
}

// yamlError converts a YAML error into a *ParseError with its position.
// The same YAML library (v4) as actionlint's workflow parser is used, so
// workflows and actions report syntax errors alike.
func yamlError(err error) *ParseError {
	var pe *yaml.ParserError
	if errors.As(err, &pe) {
		return &ParseError{Pos: fixPos(pe.Line, pe.Column), Msg: "could not parse as YAML: " + pe.Message}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		e := te.Errors[0]
		return &ParseError{Pos: fixPos(e.Line, e.Column), Msg: "could not parse as YAML: " + e.Err.Error()}
	}
	return &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: "could not parse as YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// fixPos turns a possibly partial YAML position into a usable one: an error
// at the end of the input may come without a column.
func fixPos(line, col int) Pos {
	return Pos{Line: max(line, 1), Column: max(col, 1)}
}
