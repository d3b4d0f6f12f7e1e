package ciconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/testutil"
)

func TestParseGitLabCI(t *testing.T) {
	src := `variables:
  IMG: node:22
  DESCRIBED:
    value: x
    description: y
.tmpl: &tmpl
  image:
    name: python:3
  before_script:
    - echo tmpl
default:
  image: ruby:3
  after_script: echo bye
services:
  - postgres:16
build:
  <<: *tmpl
  services:
    - name: redis:7
      alias: cache
  script:
    - make
    - - nested
      - !reference [.tmpl, before_script]
    - |
      multi
      line
stages: [build]
`
	g, err := ParseGitLabCI([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	type jobView struct {
		Name     string
		Image    string
		ImagePos Pos
		Services []string
		Scripts  []string
	}
	view := func(j *GitLabJob) jobView {
		v := jobView{Name: j.Name.Value}
		if j.Image != nil {
			v.Image, v.ImagePos = j.Image.Value, j.Image.Pos
		}
		for _, s := range j.Services {
			v.Services = append(v.Services, s.Value)
		}
		for _, s := range j.Scripts {
			v.Scripts = append(v.Scripts, s.Value)
		}
		return v
	}
	var got []jobView
	got = append(got, view(g.Default))
	for _, j := range g.Jobs {
		got = append(got, view(j))
	}
	want := []jobView{
		{Name: "default", Image: "ruby:3", ImagePos: Pos{12, 10}, Scripts: []string{"echo bye"}},
		// The deprecated top-level keys stay apart from default: (neither hides the other).
		{Name: "(top level)", Services: []string{"postgres:16"}},
		{Name: ".tmpl", Image: "python:3", ImagePos: Pos{8, 11}, Scripts: []string{"echo tmpl"}},
		{Name: "build", Image: "python:3", ImagePos: Pos{8, 11}, Services: []string{"redis:7"}, Scripts: []string{"echo tmpl", "make", "nested", "multi\nline\n"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"IMG": "node:22", "DESCRIBED": "x"}, g.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

func TestParseGitLabCIIncludes(t *testing.T) {
	type incView struct {
		Kind, Value    string
		Pos            Pos
		Ref, Integrity string
		Files          []string
	}
	view := func(g *GitLabCI) []incView {
		var out []incView
		for _, i := range g.Includes {
			v := incView{Kind: i.Kind, Pos: i.Pos}
			if i.Value != nil {
				v.Value = i.Value.Value
			}
			if i.Ref != nil {
				v.Ref = i.Ref.Value
			}
			if i.Integrity != nil {
				v.Integrity = i.Integrity.Value
			}
			for _, f := range i.Files {
				v.Files = append(v.Files, f.Value)
			}
			out = append(out, v)
		}
		return out
	}
	tests := []struct {
		name, src string
		want      []incView
	}{
		{"string remote", "include: https://ci.example/a.yml\n", []incView{{Kind: IncludeRemote, Value: "https://ci.example/a.yml", Pos: Pos{1, 10}}}},
		{"string local", "include: 'ci/a.yml'\n", []incView{{Kind: IncludeLocal, Value: "ci/a.yml", Pos: Pos{1, 10}}}},
		{"mapping", "include:\n  project: g/p\n  ref: v1\n  file: [a.yml, b.yml]\n", []incView{{Kind: IncludeProject, Value: "g/p", Pos: Pos{2, 3}, Ref: "v1", Files: []string{"a.yml", "b.yml"}}}},
		{"list", "include:\n  - remote: https://x.example/r.yml\n    integrity: sha256-abc\n  - component: h/c@1.0\n  - template: T.yml\n", []incView{
			{Kind: IncludeRemote, Value: "https://x.example/r.yml", Pos: Pos{2, 5}, Integrity: "sha256-abc"},
			{Kind: IncludeComponent, Value: "h/c@1.0", Pos: Pos{4, 5}},
			{Kind: IncludeTemplate, Value: "T.yml", Pos: Pos{5, 5}},
		}},
		{"component spec header", "spec:\n  inputs:\n    a:\n---\ninclude:\n  - local: x.yml\n", []incView{{Kind: IncludeLocal, Value: "x.yml", Pos: Pos{6, 5}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGitLabCI([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, view(g)); diff != "" {
				t.Errorf("includes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGitLabCIErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"yaml", "a: [b\n", "could not parse as YAML"},
		{"empty", "", "configuration is empty"},
		{"scalar root", "hello\n", "1:1: the GitLab CI configuration must be a mapping"},
		{"image list", "j:\n  image: [a]\n  script: x\n", "2:10: an image must be a string or a mapping"},
		{"image without name", "j:\n  image: {entrypoint: x}\n", "2:10: an image mapping needs a name"},
		{"services scalar", "j:\n  services: redis\n", "2:13: services must be a sequence"},
		{"script mapping", "j:\n  script: {a: b}\n", "2:11: a script must be a string or a sequence"},
		{"include number list item", "include:\n  - [a]\n", "2:5: an include entry must be a string or a mapping"},
		{"include file mapping", "include:\n  project: p\n  file: {a: b}\n", "3:9: include file must be a string or a sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGitLabCI([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParseGitLabCI checks that arbitrary bytes never panic the parser and
// that every position it hands out lies inside the file.
func FuzzParseGitLabCI(f *testing.F) {
	testutil.AddFileSeeds(f, "../cicheck/testdata/*/*.gitlab-ci.yml")
	f.Add([]byte("a: &a\n  script: *a\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ParseGitLabCI(src)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok || pe.Pos.Line < 1 || pe.Pos.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
		}
		if g == nil {
			return
		}
		lines := strings.Count(string(src), "\n") + 1
		jobs := g.Jobs
		if g.Default != nil {
			jobs = append(jobs, g.Default)
		}
		for _, j := range jobs {
			checkPos(t, j.Name.Pos, lines)
			for _, s := range j.Scripts {
				checkPos(t, s.Pos, lines)
				for i := range len(s.Value) {
					if p := g.Locate(s, i); p.Line > lines {
						t.Fatalf("Locate out of the file: %v", p)
					}
				}
			}
		}
		for _, inc := range g.Includes {
			checkPos(t, inc.Pos, lines)
		}
	})
}
