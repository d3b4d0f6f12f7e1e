package cicheck

import (
	"testing"

	"github.com/buildwall/buildwall/internal/ciconfig"

	"github.com/google/go-cmp/cmp"
)

func TestZizmorIgnores(t *testing.T) {
	tests := []struct {
		name, line string
		want       []InlineIgnore
	}{
		{"single", `      run: echo "${{ inputs.x }}" # zizmor: ignore[template-injection] input is a fixed list`,
			[]InlineIgnore{{Rule: "template-injection", Reason: "input is a fixed list", Source: "zizmor: ignore[template-injection]"}}},
		{"several_mapped", `  - uses: actions/checkout@v4 # zizmor: ignore[unpinned-uses, artipacked]`,
			[]InlineIgnore{
				{Rule: "unpinned-action", Source: "zizmor: ignore[unpinned-uses]"},
				{Rule: "credential-persistence", Source: "zizmor: ignore[artipacked]"},
			}},
		{"unmapped_skipped", `on: pull_request_target # zizmor: ignore[dangerous-triggers,impostor-commit] - labels only`,
			[]InlineIgnore{{Rule: "dangerous-trigger", Reason: "labels only", Source: "zizmor: ignore[dangerous-triggers]"}}},
		{"comment_line", `# zizmor: ignore[cache-poisoning]`,
			[]InlineIgnore{{Rule: "cache-in-release", Source: "zizmor: ignore[cache-poisoning]"}}},
		{"inside_double_quotes", `run: echo "# zizmor: ignore[template-injection]" ${{ github.event.issue.title }}`, nil},
		{"inside_single_quotes", `run: 'echo # zizmor: ignore[template-injection]'`, nil},
		{"not_after_space", `image: x#zizmor: ignore[unpinned-images]`, nil},
		{"unclosed", `# zizmor: ignore[template-injection`, nil},
		{"other_tool", `# noqa: ignore[template-injection]`, nil},
		{"no_comment", `run: make`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ZizmorIgnores(tt.line)); diff != "" {
				t.Errorf("ZizmorIgnores(%q) mismatch (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestSplitInlineIgnored(t *testing.T) {
	src := []byte(`on: pull_request_target # zizmor: ignore[dangerous-triggers] labels only
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.issue.title }}" # zizmor: ignore[unpinned-uses]
`)
	c := &Context{Path: "w.yml"}
	w, err := ciconfig.ParseWorkflow(src)
	if err != nil {
		t.Fatal(err)
	}
	fs := CheckWorkflow(c, w)
	kept, ignored := SplitInlineIgnored(src, fs)
	var gotIgnored []string
	for _, f := range ignored {
		gotIgnored = append(gotIgnored, f.Rule+" "+f.Ignore.Reason)
	}
	if diff := cmp.Diff([]string{"dangerous-trigger labels only"}, gotIgnored); diff != "" {
		t.Errorf("ignored mismatch (-want +got):\n%s", diff)
	}
	// The ignore names another rule: the injection on line 6 stays.
	found := false
	for _, f := range kept {
		if f.Rule == "template-injection" && f.Line == 6 {
			found = true
		}
	}
	if !found || len(kept)+len(ignored) != len(fs) {
		t.Errorf("kept %d of %d findings, template-injection on line 6 kept: %v", len(kept), len(fs), found)
	}
}
