package ciconfig

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/testutil"
)

const anchored = `name: ci
on:
  pull_request_target:
    types: [opened]
  push:
    tags: ['v*']
    branches: [main]
permissions:
  contents: read
  id-token: write
jobs:
  build:
    runs-on: [self-hosted, linux]
    container: node:20
    services:
      db:
        image: postgres:16
    strategy:
      matrix:
        go: ['1.25', '1.26']
        include:
          - go: tip
    steps:
      - &co
        uses: actions/checkout@v4 # comment
        with:
          persist-credentials: false
      - name: test
        run: |
          go test ./...
        env:
          GOFLAGS: -mod=readonly
  again:
    permissions: write-all
    runs-on: ubuntu-latest
    steps:
      - *co
  call:
    uses: o/r/.github/workflows/x.yml@v1
    with:
      a: b
    secrets: inherit
`

func TestParseWorkflow(t *testing.T) {
	w, err := ParseWorkflow([]byte(anchored))
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		Pos       Pos
		Uses, Run string
		With, Env []string
	}
	type job struct {
		ID             string
		IDPos          Pos
		Labels         []string
		Container      string
		Services       []string
		Matrix         map[string][]string
		Steps          []step
		Uses           string
		Perms          string
		SecretsInherit *Pos
	}
	val := func(s *String) string {
		if s == nil {
			return ""
		}
		return s.Value
	}
	pairs := func(ps []Pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name.Value+"="+val(p.Value))
		}
		return out
	}
	var got []job
	for _, j := range w.Jobs {
		gj := job{ID: j.ID.Value, IDPos: j.ID.Pos, Container: val(j.Container), Uses: val(j.Uses), SecretsInherit: j.SecretsInherit}
		if j.RunsOn != nil {
			for _, l := range j.RunsOn.Labels {
				gj.Labels = append(gj.Labels, l.Value)
			}
		}
		for _, s := range j.Services {
			gj.Services = append(gj.Services, s.Name.Value+"="+val(s.Image))
		}
		for _, r := range j.Matrix {
			if gj.Matrix == nil {
				gj.Matrix = map[string][]string{}
			}
			for _, v := range r.Values {
				gj.Matrix[r.Name.Value] = append(gj.Matrix[r.Name.Value], v.Value)
			}
		}
		if j.Permissions != nil {
			gj.Perms = val(j.Permissions.All)
		}
		for _, s := range j.Steps {
			gj.Steps = append(gj.Steps, step{Pos: s.Pos, Uses: val(s.Uses), Run: val(s.Run), With: pairs(s.With), Env: pairs(s.Env)})
		}
		got = append(got, gj)
	}
	co := step{Pos: Pos{24, 9}, Uses: "actions/checkout@v4", With: []string{"persist-credentials=false"}}
	want := []job{
		{ID: "build", IDPos: Pos{12, 3}, Labels: []string{"self-hosted", "linux"}, Container: "node:20", Services: []string{"db=postgres:16"},
			Matrix: map[string][]string{"go": {"1.25", "1.26", "tip"}},
			Steps:  []step{co, {Pos: Pos{28, 9}, Run: "go test ./...\n", Env: []string{"GOFLAGS=-mod=readonly"}}}},
		{ID: "again", IDPos: Pos{33, 3}, Labels: []string{"ubuntu-latest"}, Perms: "write-all", Steps: []step{co}},
		{ID: "call", IDPos: Pos{38, 3}, Uses: "o/r/.github/workflows/x.yml@v1", SecretsInherit: &Pos{42, 5}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs mismatch (-want +got):\n%s", diff)
	}
	var events []string
	for _, e := range w.On {
		events = append(events, e.Name.Value)
	}
	if diff := cmp.Diff([]string{"pull_request_target", "push"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if push := w.Trigger("push"); push == nil || len(push.Tags) != 1 || push.Tags[0].Value != "v*" {
		t.Errorf("push tags = %+v", push)
	}
	if w.Permissions == nil || len(w.Permissions.Scopes) != 2 || w.Permissions.Scopes[1].Name.Value != "id-token" || w.Permissions.Pos != (Pos{8, 1}) {
		t.Errorf("permissions = %+v", w.Permissions)
	}
	uses := w.Jobs[0].Steps[0].Uses
	if c, ok := w.TrailingComment(uses); !ok || c != "comment" {
		t.Errorf("TrailingComment(uses) = %q, %v", c, ok)
	}
	if w.Jobs[0].Steps[0].Input("PERSIST-CREDENTIALS") == nil {
		t.Error("Input is not case-insensitive")
	}
}

func TestParseWorkflowErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		partial bool
		want    string
	}{
		{"yaml_syntax", "on: [push\n", false, "1:"},
		{"tab_indent", "on: push\njobs:\n\tx: 1\n", false, "3:"},
		{"empty", "x: |\n  # not a comment\n", true, "1:1:"},
		{"unknown_key", "on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n    steps:\n      - run: x\n", true, "5:5:"},
		{"not_mapping", "- a\n- b\n", true, "1:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWorkflow([]byte(tt.src))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Pos.Line < 1 || pe.Pos.Column < 1 {
				t.Errorf("error without a position: %v", pe)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			if (w != nil) != tt.partial {
				t.Errorf("workflow returned = %v, want %v", w != nil, tt.partial)
			}
		})
	}
}

func TestParseAction(t *testing.T) {
	src := `name: setup
inputs:
  x: {description: y}
defaults: &d
  shell: bash
runs:
  using: composite
  steps:
    - uses: actions/setup-go@v5
      with: {go-version: stable}
    - <<: *d
      run: echo hi
      env:
        A: b
`
	a, err := ParseAction([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !a.IsComposite() || a.Runs.Pos != (Pos{6, 1}) || len(a.Runs.Steps) != 2 {
		t.Fatalf("runs = %+v", a.Runs)
	}
	s0, s1 := a.Runs.Steps[0], a.Runs.Steps[1]
	if s0.Uses.Value != "actions/setup-go@v5" || s0.Uses.Pos != (Pos{9, 13}) || s0.Input("go-version").Value.Value != "stable" {
		t.Errorf("step 0 = %+v", s0)
	}
	if s1.Run.Value != "echo hi" || s1.Shell == nil || s1.Shell.Value != "bash" || len(s1.Env) != 1 || s1.Pos != (Pos{11, 7}) {
		t.Errorf("step 1 = %+v (shell %+v)", s1, s1.Shell)
	}
	docker, err := ParseAction([]byte("runs:\n  using: docker\n  image: 'docker://alpine:3'\n"))
	if err != nil || docker.IsComposite() || docker.Runs.Image.Value != "docker://alpine:3" || !docker.Runs.Image.Quoted {
		t.Errorf("docker action = %+v, %v", docker.Runs, err)
	}
}

func TestParseActionErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"yaml", "runs:\n  using: [x\n", "could not parse as YAML"},
		{"empty", "", "action metadata is empty"},
		{"scalar_root", "hello\n", "1:1: action metadata must be a mapping"},
		{"runs_scalar", "runs: x\n", "1:7: runs must be a mapping"},
		{"steps_mapping", "runs:\n  steps:\n    a: b\n", "3:5: runs.steps must be a sequence"},
		{"step_scalar", "runs:\n  steps:\n    - x\n", "3:7: a step must be a mapping"},
		{"with_list", "runs:\n  steps:\n    - uses: a/b@c\n      with: [1]\n", "4:13: with must be a mapping"},
		{"uses_list", "runs:\n  steps:\n    - uses: [a]\n", "3:13: expected a scalar value"},
		{"alias_to_parent", "runs: &r\n  steps: *r\n", "runs.steps must be a sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAction([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParseWorkflow checks that arbitrary bytes never panic the parser and
// that every position it hands out lies inside the file.
func FuzzParseWorkflow(f *testing.F) {
	testutil.AddFileSeeds(f, "../cicheck/testdata/*/*.yml")
	f.Add([]byte(anchored))
	f.Fuzz(func(t *testing.T, src []byte) {
		w, err := ParseWorkflow(src)
		if w == nil && err == nil {
			t.Fatal("nil workflow without an error")
		}
		if w == nil {
			return
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, j := range w.Jobs {
			checkPos(t, j.ID.Pos, lines)
			for _, s := range j.Steps {
				checkPos(t, s.Pos, lines)
				if s.Run != nil {
					for i := range len(s.Run.Value) {
						if p := w.Locate(s.Run, i); p.Line > lines {
							t.Fatalf("Locate out of the file: %v", p)
						}
					}
				}
				w.TrailingComment(s.Uses)
			}
		}
	})
}

// FuzzParseAction is FuzzParseWorkflow for action metadata.
func FuzzParseAction(f *testing.F) {
	testutil.AddFileSeeds(f, "../cicheck/testdata/*/action*.yml")
	f.Fuzz(func(t *testing.T, src []byte) {
		a, err := ParseAction(src)
		if a == nil && err == nil {
			t.Fatal("nil action without an error")
		}
		if a == nil || a.Runs == nil {
			return
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, s := range a.Runs.Steps {
			checkPos(t, s.Pos, lines)
		}
	})
}

func checkPos(t *testing.T, p Pos, lines int) {
	t.Helper()
	if p.Line < 0 || p.Line > lines || p.Column < 0 {
		t.Fatalf("position %v outside a %d-line file", p, lines)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "        l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	b.WriteString("    steps:\n      - run: echo\n")
	_, err := ParseWorkflow([]byte(b.String()))
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "aliases expand") || pe.Pos != (Pos{Line: 12, Column: 23}) {
		t.Errorf("workflow alias bomb: err = %v", err)
	}
	action := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		action += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%s, ", map[bool]string{true: "", false: fmt.Sprint(i - 1)}[i == 1]), 10), ", "))
	}
	action += "runs:\n  using: composite\n  steps: []\n"
	if _, err := ParseAction([]byte(action)); err == nil || !strings.Contains(err.Error(), "aliases expand") {
		t.Errorf("action alias bomb: err = %v", err)
	}
	// Modest anchor use is fine.
	if _, err := ParseWorkflow([]byte(anchored)); err != nil {
		t.Errorf("anchored workflow: %v", err)
	}
}

func TestMayHaveAnchors(t *testing.T) {
	for s, want := range map[string]bool{
		"a: &x 1\nb: *x\n":         true,
		"run: make && make test\n": false,
		"run: cmd &>/dev/null &\n": false,
		"run: 'a & b'\n":           false,
		"x: &anchor\n  y: 1\n":     true,
		"":                         false,
	} {
		if got := mayHaveAnchors([]byte(s)); got != want {
			t.Errorf("mayHaveAnchors(%q) = %v, want %v", s, got, want)
		}
	}
}
