package ciconfig

import "strings"

// job is parseJob followed by the conversion of job() in workflow.go.
func (c *wconv) job(k, v *ynode) *Job {
	j := &Job{ID: *c.string(k)}
	if k.value == "" {
		c.fail = true
	}
	var stepsOnly, callOnly, hasSteps, inherit bool
	var uses *String
	var with, secrets []Pair
	m := c.mapping(v, false, true)
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		switch k.value {
		case "name":
			j.Name = c.str(v, true)
		case "needs":
			if v.kind == yamlScalar {
				c.str(v, false)
			} else {
				c.strSeq(v, false, false)
			}
		case "runs-on":
			j.RunsOn = c.runsOn(v)
			stepsOnly = true
		case "permissions":
			j.Permissions = c.perms(k, v)
		case "environment":
			c.environment(v)
			stepsOnly = true
		case "concurrency":
			c.concurrency(v)
		case "outputs":
			j.Outputs = c.pairs(v)
			stepsOnly = true
		case "env":
			j.Env, j.EnvExpr = c.env(v)
			stepsOnly = true
		case "defaults":
			c.defaults(v)
			stepsOnly = true
		case "if":
			j.If = c.str(v, false)
		case "steps":
			j.Steps = c.steps(v)
			hasSteps, stepsOnly = true, true
		case "timeout-minutes":
			c.number(v, true)
			stepsOnly = true
		case "strategy":
			j.Matrix, j.MatrixExpr = c.strategy(v)
		case "continue-on-error":
			c.boolean(v)
			stepsOnly = true
		case "container":
			j.Container = c.container(v)
			stepsOnly = true
		case "services":
			j.Services = c.services(v)
		case "uses":
			uses = c.str(v, false)
			callOnly = true
		case "with":
			with = c.pairs(v)
			callOnly = true
		case "secrets":
			if v.kind == yamlScalar {
				if v.value != "inherit" {
					c.fail = true
				}
				inherit = true
			} else {
				secrets = c.pairs(v)
			}
			callOnly = true
		default:
			c.fail = true // snapshot and unknown keys
		}
	}
	if uses != nil {
		if stepsOnly {
			c.fail = true
		}
		j.Uses, j.With, j.Secrets = uses, with, secrets
		if inherit {
			p := findKey(c.src, j.ID.Pos, "secrets")
			j.SecretsInherit = &p
		}
	} else if !hasSteps || j.RunsOn == nil || callOnly {
		c.fail = true
	}
	return j
}

func (c *wconv) runsOn(v *ynode) *RunsOn {
	if e := c.mayExpr(v); e != nil {
		return &RunsOn{Expr: e}
	}
	if v.kind != yamlMap {
		return &RunsOn{Labels: c.strOrSeq(v, false, false)}
	}
	r := &RunsOn{}
	c.keys(v, false, func(k, v *ynode) bool {
		switch k.value {
		case "labels":
			if e := c.mayExpr(v); e != nil {
				r.Expr = e
			} else {
				r.Labels = c.strOrSeq(v, false, false)
			}
		case "group":
			r.Group = c.str(v, false)
		default:
			return false
		}
		return true
	})
	return r
}

// container is parseContainer; it returns the image.
func (c *wconv) container(v *ynode) *String {
	if v.kind == yamlScalar {
		return c.str(v, false)
	}
	var image *String
	c.keys(v, false, func(k, v *ynode) bool {
		switch k.value {
		case "image":
			image = c.str(v, false)
		case "credentials":
			if c.mayExpr(v) != nil {
				break
			}
			var user, pass bool
			c.keys(v, false, func(k, v *ynode) bool {
				switch k.value {
				case "username":
					user = true
				case "password":
					pass = true
				default:
					return false
				}
				c.str(v, false)
				return true
			})
			if !user || !pass {
				c.fail = true
			}
		case "env":
			c.env(v)
		case "ports", "volumes":
			c.strSeq(v, true, false)
		case "options":
			c.str(v, true)
		default:
			return false
		}
		return true
	})
	if image == nil {
		c.fail = true
	}
	return image
}

func (c *wconv) services(v *ynode) []Service {
	if c.mayExpr(v) != nil {
		return nil
	}
	m := c.mapping(v, false, false)
	var out []Service
	for i := 0; i < len(m) && !c.fail; i += 2 {
		out = append(out, Service{Name: *c.string(m[i]), Image: c.container(m[i+1])})
	}
	return out
}

func (c *wconv) steps(v *ynode) []*Step {
	if v.kind != yamlSeq || len(v.content) == 0 {
		c.fail = true
		return nil
	}
	out := make([]*Step, 0, len(v.content))
	for _, n := range v.content {
		if c.fail {
			return nil
		}
		out = append(out, c.step(n))
	}
	return out
}

// step is parseStep with parseStepExecAction / parseStepExecRun.
func (c *wconv) step(n *ynode) *Step {
	s := &Step{Pos: ypos(n)}
	m := c.mapping(n, false, true)
	var uses, run, docker, workdir bool
	var with *ynode
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		switch k.value {
		case "id":
			s.ID = c.str(v, false)
		case "if":
			s.If = c.str(v, false)
		case "name":
			s.Name = c.str(v, true)
		case "env":
			s.Env, s.EnvExpr = c.env(v)
		case "continue-on-error":
			c.boolean(v)
		case "timeout-minutes":
			c.number(v, true)
		case "uses":
			uses = true
			docker = strings.HasPrefix(v.value, "docker://")
			s.Uses = c.str(v, false)
		case "with":
			with = v
		case "run":
			run = true
			s.Run = c.str(v, false)
		case "shell":
			s.Shell = c.str(v, false)
		case "working-directory":
			workdir = true
			c.str(v, false)
		default:
			c.fail = true
		}
	}
	switch {
	case uses == run, // neither, or both
		uses && (s.Shell != nil || workdir),
		run && with != nil:
		c.fail = true
	case with != nil:
		s.With = c.with(with, docker)
	}
	return s
}

// with reads a step's with:, keeping entrypoint and args of Docker actions
// the way workflow.go's step() rebuilds them from actionlint.
func (c *wconv) with(v *ynode, docker bool) []Pair {
	m := c.mapping(v, false, false)
	var out []Pair
	for i := 0; i < len(m) && !c.fail; i += 2 {
		k, v := m[i], m[i+1]
		if docker {
			switch strings.ToLower(k.value) {
			case "entrypoint":
				if val := c.str(v, false); val != nil {
					out = append(out, Pair{Name: String{Value: "entrypoint", Pos: val.Pos}, Value: val})
				}
				continue
			case "args":
				if val := c.str(v, true); val != nil {
					out = append(out, Pair{Name: String{Value: "args", Pos: val.Pos}, Value: val})
				}
				continue
			}
		}
		out = append(out, Pair{Name: *c.string(k), Value: c.str(v, true)})
	}
	return sortPairs(out)
}
