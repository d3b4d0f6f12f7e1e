package ciconfig

import (
	"slices"
	"strings"
)

// events is parseEvents followed by event() of workflow.go.
func (c *wconv) events(v *ynode) []Event {
	switch v.kind {
	case yamlScalar:
		return []Event{c.eventNoConfig(v)}
	case yamlSeq:
		if len(v.content) == 0 {
			c.fail = true
		}
		out := make([]Event, 0, len(v.content))
		for _, e := range v.content {
			out = append(out, c.eventNoConfig(e))
		}
		return out
	}
	m := c.mapping(v, false, true)
	out := make([]Event, 0, len(m)/2)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		named := Event{Name: String{Value: k.value, Pos: ypos(k)}}
		switch k.value {
		case "schedule":
			c.schedule(v)
		case "workflow_dispatch":
			named.Inputs = c.dispatch(v)
		case "repository_dispatch":
			c.keys(v, true, func(k, v *ynode) bool {
				if k.value != "types" {
					return false
				}
				named.Types = c.strOrSeq(v, false, false)
				return true
			})
		case "workflow_call":
			named.Inputs = c.workflowCall(v)
		case "image_version":
			c.keys(v, true, func(k, v *ynode) bool {
				switch k.value {
				case "names", "versions":
					c.strSeq(v, false, false)
					return true
				}
				return false
			})
		default:
			named = c.webhook(k, v)
		}
		out = append(out, named)
	}
	return out
}

// eventNoConfig is parseEventWithNoConfig.
func (c *wconv) eventNoConfig(n *ynode) Event {
	s := c.str(n, false)
	if s == nil {
		return Event{}
	}
	switch s.Value {
	case "schedule":
		c.fail = true
	case "repository_dispatch", "workflow_dispatch", "workflow_call", "image_version":
		return Event{Name: String{Value: s.Value, Pos: s.Pos}}
	}
	return Event{Name: *s}
}

func (c *wconv) webhook(k, v *ynode) Event {
	ev := Event{Name: *c.string(k)}
	c.keys(v, true, func(k, v *ynode) bool {
		switch k.value {
		case "types":
			ev.Types = c.strOrSeq(v, false, false)
		case "branches":
			ev.Branches = c.strOrSeq(v, false, false)
		case "tags":
			ev.Tags = c.strOrSeq(v, false, false)
		case "workflows":
			ev.Workflows = c.strOrSeq(v, false, false)
		case "branches-ignore", "tags-ignore", "paths", "paths-ignore":
			c.strOrSeq(v, false, false)
		default:
			return false
		}
		return true
	})
	return ev
}

func (c *wconv) schedule(v *ynode) {
	if v.kind != yamlSeq || len(v.content) == 0 {
		c.fail = true
		return
	}
	for _, e := range v.content {
		c.keys(e, false, func(k, v *ynode) bool {
			switch k.value {
			case "cron", "timezone":
				c.str(v, false)
				return true
			}
			return false
		})
	}
}

// inputs walks a case-insensitive mapping of named settings mappings.
func (c *wconv) inputs(v *ynode, check func(k, v *ynode) bool) {
	m := c.mapping(v, true, false)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		c.keys(m[i+1], true, check)
	}
}

func (c *wconv) dispatch(v *ynode) []Input {
	var out []Input
	c.keys(v, true, func(k, v *ynode) bool {
		if k.value != "inputs" {
			return false
		}
		m := c.mapping(v, true, false)
		for i := 0; i < len(m) && !c.fail; i += 2 {
			in := Input{Name: strings.ToLower(m[i].value), Type: "string"}
			c.keys(m[i+1], true, func(k, v *ynode) bool {
				switch k.value {
				case "description", "default":
					c.str(v, true)
				case "required":
					c.boolean(v)
				case "type":
					if s := c.str(v, false); s != nil && !slices.Contains([]string{"string", "number", "boolean", "choice", "environment"}, s.Value) {
						c.fail = true
					} else if s != nil {
						in.Type = s.Value
					}
				case "options":
					c.strSeq(v, false, false)
				default:
					return false
				}
				return true
			})
			out = append(out, in)
		}
		return true
	})
	return out
}

func (c *wconv) workflowCall(v *ynode) []Input {
	var out []Input
	c.keys(v, true, func(k, v *ynode) bool {
		switch k.value {
		case "inputs":
			m := c.mapping(v, true, false)
			for i := 0; i < len(m) && !c.fail; i += 2 {
				in := Input{Name: strings.ToLower(m[i].value)}
				typed := false
				c.keys(m[i+1], true, func(k, v *ynode) bool {
					switch k.value {
					case "description", "default":
						c.str(v, true)
					case "required":
						c.boolean(v)
					case "type":
						typed = true
						if s := c.str(v, false); s != nil && s.Value != "boolean" && s.Value != "number" && s.Value != "string" {
							c.fail = true
						} else if s != nil {
							in.Type = s.Value
						}
					default:
						return false
					}
					return true
				})
				if !typed {
					c.fail = true
				}
				out = append(out, in)
			}
		case "secrets":
			c.inputs(v, func(k, v *ynode) bool {
				switch k.value {
				case "description":
					c.str(v, true)
				case "required":
					c.boolean(v)
				default:
					return false
				}
				return true
			})
		case "outputs":
			m := c.mapping(v, true, false)
			for i := 0; i < len(m) && !c.fail; i += 2 {
				value := false
				c.keys(m[i+1], true, func(k, v *ynode) bool {
					switch k.value {
					case "description":
						c.str(v, true)
					case "value":
						value = true
						c.str(v, false)
					default:
						return false
					}
					return true
				})
				if !value {
					c.fail = true
				}
			}
		default:
			return false
		}
		return true
	})
	return out
}

// strategy is parseStrategy; it returns the converted matrix, or the
// expression that gives the whole matrix.
func (c *wconv) strategy(v *ynode) (rows []MatrixRow, expr *String) {
	c.keys(v, false, func(k, v *ynode) bool {
		switch k.value {
		case "matrix":
			rows = c.matrix(v)
			if v.kind == yamlScalar && !c.fail {
				expr = c.string(v)
			}
		case "fail-fast":
			c.boolean(v)
		case "max-parallel":
			c.number(v, false)
		default:
			return false
		}
		return true
	})
	return rows, expr
}

// matrix is parseMatrix followed by matrix() of workflow.go: rows first,
// then include: combinations in order, values sorted by position.
func (c *wconv) matrix(v *ynode) []MatrixRow {
	if v.kind == yamlScalar {
		c.expr(v)
		return nil
	}
	var rows []MatrixRow
	index := map[string]int{}
	add := func(name, v *ynode) {
		i, ok := index[name.value]
		if !ok {
			i = len(rows)
			index[name.value] = i
			rows = append(rows, MatrixRow{Name: String{Value: name.value, Pos: ypos(name), Quoted: name.quoted()}})
		}
		if v.kind == yamlScalar {
			rows[i].Values = append(rows[i].Values, String{Value: v.value, Pos: ypos(v)})
		}
	}
	var include *ynode
	m := c.mapping(v, false, false)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		switch strings.ToLower(k.value) {
		case "include":
			include = v
			c.combinations(v, nil)
		case "exclude":
			c.combinations(v, nil)
		default:
			if v.kind == yamlScalar {
				c.expr(v)
				continue
			}
			if v.kind != yamlSeq || len(v.content) == 0 {
				c.fail = true
				continue
			}
			for _, e := range v.content {
				c.raw(e, 0)
				add(k, e)
			}
		}
	}
	if include != nil {
		c.combinations(include, add)
	}
	slices.SortFunc(rows, func(a, b MatrixRow) int { return comparePos(a.Name.Pos, b.Name.Pos) })
	for i := range rows {
		slices.SortFunc(rows[i].Values, func(a, b String) int { return comparePos(a.Pos, b.Pos) })
	}
	return rows
}

// combinations is parseMatrixCombinations; add, when set, receives every
// assignment.
func (c *wconv) combinations(v *ynode, add func(name, v *ynode)) {
	if v.kind == yamlScalar {
		c.expr(v)
		return
	}
	if v.kind != yamlSeq || len(v.content) == 0 {
		c.fail = true
		return
	}
	for _, e := range v.content {
		if e.kind == yamlScalar {
			c.expr(e)
			continue
		}
		m := c.mapping(e, false, false)
		for i := 0; i < len(m) && !c.fail; i += 2 {
			c.raw(m[i+1], 0)
			if add != nil {
				add(m[i], m[i+1])
			}
		}
	}
}

// raw is parseRawYAMLValue's validation.
func (c *wconv) raw(v *ynode, depth int) {
	switch v.kind {
	case yamlSeq:
		for _, e := range v.content {
			c.raw(e, depth+1)
		}
	case yamlMap:
		m := c.mapping(v, true, false)
		for i := 0; i < len(m) && !c.fail; i += 2 {
			c.raw(m[i+1], depth+1)
		}
	}
}
