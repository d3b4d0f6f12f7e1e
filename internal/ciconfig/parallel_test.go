package ciconfig

import (
	"fmt"
	"testing"
)

func TestParallelSteps(t *testing.T) {
	src := []byte(`on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: both
        parallel:
          - run: make lint
          - uses: ./test
      - parallel:
        - run: make docs
      - run: echo done
  b:
    runs-on: ubuntu-latest
    steps:
      - parallel: [{run: x}]
`)
	w, err := ParseWorkflow(src)
	if w == nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range w.Jobs[0].Steps {
		switch {
		case s.Run != nil:
			got = append(got, fmt.Sprintf("%s@%d:%d", s.Run.Value, s.Run.Pos.Line, s.Run.Pos.Column))
		case s.Uses != nil:
			got = append(got, fmt.Sprintf("%s@%d:%d", s.Uses.Value, s.Uses.Pos.Line, s.Uses.Pos.Column))
		default:
			got = append(got, "?")
		}
	}
	want := []string{"make lint@8:18", "./test@9:19", "make docs@11:16", "echo done@12:14"}
	if len(got) != len(want) {
		t.Fatalf("steps = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d = %s, want %s", i, got[i], want[i])
		}
	}
	// The flow form is not expanded: the step stays, and the file is
	// reported (a serious problem, not a minor one).
	pe, ok := err.(*ParseError)
	if !ok || pe.Minor || pe.Pos.Line != 16 {
		t.Errorf("err = %#v, want a serious problem at line 16", err)
	}
}

// TestLenientWorkflows: valid workflows that actionlint rejects parse
// without a problem, or with a minor one for an unknown key.
func TestLenientWorkflows(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		minor     bool
	}{
		{"empty_file", "", false},
		{"commented_out", "# on: push\n#jobs:\n---\n", false},
		{"secrets_empty", "on: push\njobs:\n  a:\n    uses: ./.github/workflows/x.yml\n    secrets: {}\n", false},
		{"with_expression", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: ./a\n        with: ${{ fromJSON(vars.A) }}\n", false},
		{"concurrency_queue", "on: push\nconcurrency:\n  group: g\n  queue: max\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWorkflow([]byte(tt.src))
			if w == nil {
				t.Fatalf("no workflow: %v", err)
			}
			pe, _ := err.(*ParseError)
			switch {
			case tt.minor && (pe == nil || !pe.Minor):
				t.Errorf("err = %v, want a minor problem", err)
			case !tt.minor && err != nil:
				t.Errorf("err = %v, want none", err)
			}
		})
	}
}
