package ciconfig

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v4"
)

// GitLabCI is a parsed .gitlab-ci.yml. It uses the same YAML library (v4)
// and node helpers as the workflow and action parsers, so anchors, aliases
// and merge keys (<<) resolve alike; `!reference [job, key]` tags are
// tolerated and skipped (what they point at is checked where it is
// defined).
type GitLabCI struct {
	*Source
	// Default is the default: section as a pseudo-job named "default", or,
	// when there is none, the deprecated top-level image:, services:,
	// before_script: and after_script: (nil when there are neither). When
	// both exist, the top-level keys are the first of Jobs, named
	// "(top level)", so that neither hides the other's image.
	Default *GitLabJob
	// Jobs are the jobs in source order, hidden ones (.name) included: they
	// are templates whose scripts run in the jobs that extend them.
	Jobs []*GitLabJob
	// Includes are the entries of include:, in order.
	Includes []*GitLabInclude
	// Variables are the top-level variables: with a scalar value.
	Variables map[string]string
}

// GitLabJob is a job (or the defaults).
type GitLabJob struct {
	Name String
	// Image is the image name (image: NAME or image: {name: NAME}).
	Image *String
	// Services are the service images.
	Services []*String
	// Scripts are the lines of before_script:, script: and after_script:,
	// in that order; each is one YAML scalar (a block scalar may hold many
	// shell lines).
	Scripts []*String
	// Variables are the job's variables: with a scalar value.
	Variables map[string]string
}

// GitLab include kinds.
const (
	IncludeLocal     = "local"
	IncludeRemote    = "remote"
	IncludeProject   = "project"
	IncludeTemplate  = "template"
	IncludeComponent = "component"
)

// GitLabInclude is one include: entry.
type GitLabInclude struct {
	// Kind is one of the Include* constants ("" when the entry has none of
	// their keys).
	Kind string
	// Pos is the position of the kind's key (remote:, project:, ...), or of
	// the string for the short form (include: 'https://…').
	Pos Pos
	// Value is the value of the kind's key: the URL, project path, file,
	// template or component reference.
	Value *String
	// Ref is the project include's ref:, nil when absent.
	Ref *String
	// Integrity is the remote include's integrity:, nil when absent.
	Integrity *String
	// Files are the project include's file: entries.
	Files []*String
}

// gitlabKeywords are the top-level keys that are not jobs.
var gitlabKeywords = map[string]bool{
	"default": true, "include": true, "stages": true, "variables": true, "workflow": true,
	"image": true, "services": true, "before_script": true, "after_script": true,
	"cache": true, "spec": true,
}

// ParseGitLabCI parses a .gitlab-ci.yml. It returns a *ParseError when the
// bytes are not YAML, the document is not a mapping, or a key the rules
// read (image, services, scripts, include) has the wrong shape; with a
// shape error the partial tree comes back too. A file with a `spec:`
// header (CI/CD component) has two documents; the second is the
// configuration.
func ParseGitLabCI(src []byte) (*GitLabCI, error) {
	g := &GitLabCI{Source: NewSource(src)}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for len(docs) < 2 {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, yamlError(err)
		}
		// Refuse alias bombs before the walk below follows aliases: a few
		// hundred bytes of nested aliases expand to billions of nodes.
		if err := CheckAliases(&doc); err != nil {
			return g, err
		}
		docs = append(docs, &doc)
	}
	if len(docs) == 0 || len(docs[0].Content) == 0 {
		return g, &ParseError{Pos: Pos{Line: 1, Column: 1}, Msg: "the GitLab CI configuration is empty"}
	}
	root := resolve(docs[0].Content[0])
	if len(docs) == 2 && root.Kind == yaml.MappingNode && hasKey(root, "spec") && len(docs[1].Content) > 0 {
		root = resolve(docs[1].Content[0])
	}
	p := &nodeParser{}
	if root.Kind != yaml.MappingNode {
		return g, &ParseError{Pos: npos(root), Msg: "the GitLab CI configuration must be a mapping, got a " + kindName(root.Kind)}
	}
	def := &GitLabJob{Name: String{Value: "default", Pos: npos(root)}}
	hasDef := false
	var top *GitLabJob
	for k, v := range p.pairs(root) {
		switch k.Value {
		case "include":
			g.Includes = p.includes(v)
		case "default":
			if v.Kind == yaml.MappingNode {
				def.Name.Pos = npos(k)
				p.job(def, v)
				hasDef = true
			}
		case "variables":
			g.Variables = p.variables(v)
		case "image", "services", "before_script", "after_script":
			// The deprecated top-level keys are kept apart from default:
			// so that one never hides the other's image.
			if top == nil {
				top = &GitLabJob{Name: String{Value: "(top level)", Pos: npos(k)}}
			}
			p.jobKey(top, k, v)
		default:
			if gitlabKeywords[k.Value] || v.Kind != yaml.MappingNode {
				continue
			}
			j := &GitLabJob{Name: String{Value: k.Value, Pos: npos(k)}}
			p.job(j, v)
			g.Jobs = append(g.Jobs, j)
		}
	}
	if hasDef {
		g.Default = def
	}
	if top != nil {
		if g.Default == nil {
			top.Name.Value = "default"
			g.Default = top
		} else {
			g.Jobs = append([]*GitLabJob{top}, g.Jobs...)
		}
	}
	if p.err != nil {
		return g, p.err
	}
	return g, nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *nodeParser) job(j *GitLabJob, m *yaml.Node) {
	for k, v := range p.pairs(m) {
		p.jobKey(j, k, v)
	}
}

func (p *nodeParser) jobKey(j *GitLabJob, k, v *yaml.Node) {
	switch k.Value {
	case "image":
		j.Image = p.gitlabImage(v)
	case "services":
		if v.Kind != yaml.SequenceNode {
			p.fail(v, "services must be a sequence, got a %s", kindName(v.Kind))
			return
		}
		for _, s := range v.Content {
			if s = resolve(s); s != nil {
				if img := p.gitlabImage(s); img != nil {
					j.Services = append(j.Services, img)
				}
			}
		}
	case "before_script", "script", "after_script":
		p.scripts(j, v, 0)
	case "variables":
		j.Variables = p.variables(v)
	}
}

// gitlabImage reads NAME or {name: NAME}; nil for an !reference.
func (p *nodeParser) gitlabImage(n *yaml.Node) *String {
	switch {
	case n.Tag == "!reference":
		return nil
	case n.Kind == yaml.ScalarNode:
		return p.scalar(n)
	case n.Kind == yaml.MappingNode:
		for k, v := range p.pairs(n) {
			if k.Value == "name" {
				return p.scalar(v)
			}
		}
		p.fail(n, "an image mapping needs a name")
		return nil
	}
	p.fail(n, "an image must be a string or a mapping, got a %s", kindName(n.Kind))
	return nil
}

// scripts appends a script: value (string, or sequence of strings and
// nested sequences; !reference skipped).
func (p *nodeParser) scripts(j *GitLabJob, n *yaml.Node, depth int) {
	switch {
	case n.Tag == "!reference" || depth > 10:
	case n.Kind == yaml.ScalarNode:
		if s := p.scalar(n); s != nil {
			j.Scripts = append(j.Scripts, s)
		}
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			if c = resolve(c); c != nil {
				p.scripts(j, c, depth+1)
			}
		}
	default:
		p.fail(n, "a script must be a string or a sequence, got a %s", kindName(n.Kind))
	}
}

func (p *nodeParser) variables(n *yaml.Node) map[string]string {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	m := map[string]string{}
	for k, v := range p.pairs(n) {
		switch v.Kind {
		case yaml.ScalarNode:
			m[k.Value] = v.Value
		case yaml.MappingNode: // {value: …, description: …}
			for kk, vv := range p.pairs(v) {
				if kk.Value == "value" && vv.Kind == yaml.ScalarNode {
					m[k.Value] = vv.Value
				}
			}
		}
	}
	return m
}

// includes reads include: (a string, a mapping, or a sequence of both).
func (p *nodeParser) includes(n *yaml.Node) []*GitLabInclude {
	switch n.Kind {
	case yaml.ScalarNode:
		return []*GitLabInclude{p.include(n)}
	case yaml.MappingNode:
		return []*GitLabInclude{p.include(n)}
	case yaml.SequenceNode:
		var out []*GitLabInclude
		for _, c := range n.Content {
			if c = resolve(c); c != nil && c.Tag != "!reference" {
				out = append(out, p.include(c))
			}
		}
		return out
	}
	p.fail(n, "include must be a string, a mapping or a sequence, got a %s", kindName(n.Kind))
	return nil
}

func (p *nodeParser) include(n *yaml.Node) *GitLabInclude {
	inc := &GitLabInclude{Pos: npos(n)}
	switch n.Kind {
	case yaml.ScalarNode:
		inc.Value = p.scalar(n)
		inc.Kind = IncludeLocal
		if v := strings.ToLower(n.Value); strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
			inc.Kind = IncludeRemote
		}
		return inc
	case yaml.MappingNode:
	default:
		p.fail(n, "an include entry must be a string or a mapping, got a %s", kindName(n.Kind))
		return inc
	}
	for k, v := range p.pairs(n) {
		switch k.Value {
		case IncludeLocal, IncludeRemote, IncludeProject, IncludeTemplate, IncludeComponent:
			if inc.Kind == "" {
				inc.Kind, inc.Pos, inc.Value = k.Value, npos(k), p.scalar(v)
			}
		case "ref":
			inc.Ref = p.scalar(v)
		case "integrity":
			inc.Integrity = p.scalar(v)
		case "file":
			switch v.Kind {
			case yaml.ScalarNode:
				inc.Files = append(inc.Files, p.scalar(v))
			case yaml.SequenceNode:
				for _, f := range v.Content {
					if f = resolve(f); f != nil {
						if s := p.scalar(f); s != nil {
							inc.Files = append(inc.Files, s)
						}
					}
				}
			default:
				p.fail(v, "include file must be a string or a sequence, got a %s", kindName(v.Kind))
			}
		}
	}
	return inc
}
