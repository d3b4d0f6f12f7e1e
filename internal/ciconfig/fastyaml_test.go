package ciconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/buildwall/buildwall/internal/cicheck/citest"
)

// tnode is the part of a YAML node both readers must agree on.
type tnode struct {
	Kind      string
	Style     string
	Tag       string // only "!!null" and "!!bool" are compared
	Value     string
	Line, Col int
	Content   []tnode
}

func fromFast(n *ynode) tnode {
	t := tnode{Line: n.line, Col: n.col, Value: n.value}
	switch n.kind {
	case yamlScalar:
		t.Kind = "scalar"
	case yamlSeq:
		t.Kind = "seq"
	case yamlMap:
		t.Kind = "map"
	}
	t.Style = [...]string{"plain", "single", "double", "literal", "folded", "flow"}[n.style]
	if n.isNull() {
		t.Tag = "!!null"
	} else if n.isBool() {
		t.Tag = "!!bool"
	}
	for _, c := range n.content {
		t.Content = append(t.Content, fromFast(c))
	}
	return t
}

func fromYAML(n *yaml.Node) tnode {
	t := tnode{Line: n.Line, Col: n.Column, Value: n.Value}
	switch n.Kind {
	case yaml.ScalarNode:
		t.Kind = "scalar"
	case yaml.SequenceNode:
		t.Kind = "seq"
	case yaml.MappingNode:
		t.Kind = "map"
	default:
		t.Kind = "other"
	}
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		t.Style = "single"
	case n.Style&yaml.DoubleQuotedStyle != 0:
		t.Style = "double"
	case n.Style&yaml.LiteralStyle != 0:
		t.Style = "literal"
	case n.Style&yaml.FoldedStyle != 0:
		t.Style = "folded"
	case n.Style&yaml.FlowStyle != 0:
		t.Style = "flow"
	default:
		t.Style = "plain"
	}
	if n.Anchor != "" || n.Alias != nil {
		t.Kind = "anchored"
	}
	if n.Tag == "!!null" || n.Tag == "!!bool" {
		t.Tag = n.Tag
	}
	for _, c := range n.Content {
		t.Content = append(t.Content, fromYAML(c))
	}
	return t
}

// checkFastYAML fails t when the fast reader accepts src but reads it
// differently from yaml/v4. It returns whether the fast reader accepted it.
func checkFastYAML(t *testing.T, name string, src []byte) bool {
	t.Helper()
	fast, ok := parseFastYAML(src)
	if !ok {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Errorf("%s: fast reader accepted what yaml/v4 rejects: %v\n%s", name, err, src)
		return true
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		t.Errorf("%s: fast reader accepted a stream that is not one document", name)
		return true
	}
	want, got := fromYAML(doc.Content[0]), fromFast(fast)
	if reflect.DeepEqual(want, got) {
		return true // cmp.Diff is slow on large trees; it only explains
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: fast reader differs from yaml/v4 (-want +got):\n%s\n%s", name, diff, src)
	}
	return true
}

// fastYAMLCases are the subset edge cases; FuzzFastWorkflow seeds from them.
var fastYAMLCases = []struct {
	name   string
	src    string
	wantOK bool
}{
	{"plain_and_comments", "# head\na: b  # c\nc:   d e \n", true},
	{"document_start", "--- # doc\na: 1\n", true},
	{"crlf", "a: b\r\nc:\r\n  - x\r\n  - 'y'\r\n", true},
	{"empty_values", "a:\nb: # c\nc:\n  - \n  -\n", true},
	{"indentless_sequence", "a:\n- x\n- y: 1\n  z: 2\nb: c\n", true},
	{"nested_sequence_items", "a:\n  - b: 1\n    c:\n      - d\n  -\n    e: f\n", true},
	{"single_quoted", "a: 'it''s # not a comment'\n'b c': ''\n", true},
	{"double_quoted_escapes", `a: "tab\there \"q\" \\ \x41\u00e9\U0001F600 \N\_\L\P\0\a\b\e\f\r\v\ "` + "\n", true},
	{"double_quoted_slash_escape", "a: \"\\/\"\n", false},
	{"double_quoted_bad_escape", "a: \"\\q\"\n", false},
	{"double_quoted_surrogate", "a: \"\\ud800\"\n", false},
	{"multi_line_double_quoted", "a: \"one\n  two\"\n", false},
	{"literal_clip", "a: |\n  one\n   two\n\n  three\n\n\nb: c\n", true},
	{"literal_strip", "a: |-\n  one\n\n", true},
	{"literal_keep", "a: |+\n  one\n\n\nb: 1\n", true},
	{"literal_explicit_indent", "a: |2\n    two\n  one\n", true},
	{"literal_indent_then_chomp", "a:\n  b: |1-\n     x\n", true},
	{"literal_at_end_without_newline", "a: |\n  one\n  two", true},
	{"literal_with_tabs", "a: |\n  make:\n  \tgo build\n", true},
	{"literal_tab_indent", "a: |\n\tx\n", false},
	{"literal_comment_lines", "a: |\n  # not a comment\n  x\n# a comment\nb: 1\n", true},
	{"literal_in_sequence", "a:\n  - |\n    x\n  - run: |\n      y\n    name: n\n", true},
	{"literal_spaces_only_lines", "a: |\n  x\n    \n  y\n      \n", true},
	{"literal_deeper_blank_first", "a: |\n      \n  x\n", false},
	{"folded", "a: >\n  one\n  two\n\n  three\n    more\n  four\n", true},
	{"folded_keep", "a: >+\n  one\n  two\n\n", true},
	{"folded_strip", "a: >-\n  one\n\n  two\n", true},
	{"flow_sequence", "a: [x, 'y', \"z\", 18, [1, 2], {k: v}]\n", true},
	{"flow_mapping", "a: { os: ubuntu-latest, 'n': [1, 2] }  # c\n", true},
	{"flow_empty", "a: []\nb: {}\n", true},
	{"flow_trailing_comma", "a: [x, y,]\n", false},
	{"flow_multi_line", "a: [x,\n  y]\n", false},
	{"flow_colon", "a: [x:y]\n", false},
	{"flow_question_mark", "a: [0? ]\n", false},
	{"values_with_colons", "a: docker://alpine:3\nb: http://x.test/a#b\nc: a#b\n", true},
	{"mapping_in_value", "a: b: c\n", false},
	{"multi_line_plain", "a: one\n  two\nb: x\n", true},
	{"multi_line_plain_blank_lines", "a: one\n  two\n\n\n   three  \n\nb:\n  - x\n    y # c\n  - z\n", true},
	{"multi_line_plain_indicators", "a: one &&\n  !two ||\n  - three [x] {y} \"q\" 'r' |x >y *z @w\n", true},
	{"multi_line_plain_comment_then_more", "a: one\n  # c\n  two\n", false},
	{"multi_line_plain_mapping", "a: one\n  two: three\n", false},
	{"multi_line_plain_in_compact_mapping", "a:\n  - k: one\n      two\n    l: x\n", true},
	{"anchor", "a: &x 1\nb: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"complex_key", "? a\n: b\n", false},
	{"two_documents", "a: 1\n---\nb: 2\n", false},
	{"document_end", "a: 1\n...\n", false},
	{"directive", "%YAML 1.2\n---\na: 1\n", false},
	{"tab_indent", "a:\n\tb: 1\n", false},
	{"duplicate_key", "a: 1\na: 2\n", false},
	{"root_sequence", "- a\n", false},
	{"root_scalar", "a\n", false},
	{"empty", "# only\n", false},
	{"bad_indent", "a:\n    b: 1\n  c: 2\n", false},
	{"bom", "\ufeffa: 1\n", false},
	{"unicode", "naïve: \"é\" # ü\nx: ü: \n", false},
	{"unicode_values", "naïve: é ü\nx: [ä, 'ö']\n", true},
	{"null_and_bool_tags", "a: ~\nb: null\nc: true\nd: False\ne: yes\nf: 'true'\n", true},
	{"sequence_of_sequences", "a:\n  - - x\n", false},
	{"key_too_long", strings.Repeat("k", 1100) + ": v\n", false},
	{"large_mapping", manyKeys("k", 500, ""), true},
	{"large_mapping_duplicate", manyKeys("k", 500, "k7: again\n"), false},
	{"large_flow_mapping_duplicate", "a: {" + strings.TrimSuffix(strings.ReplaceAll(manyKeys("k", 100, "k3: v\n"), "\n", ", "), ", ") + "}\n", false},
}

func TestFastYAMLSubset(t *testing.T) {
	for _, tt := range fastYAMLCases {
		t.Run(tt.name, func(t *testing.T) {
			got := checkFastYAML(t, tt.name, []byte(tt.src))
			if got != tt.wantOK {
				t.Errorf("fast reader ok = %v, want %v", got, tt.wantOK)
			}
		})
	}
}

// manyKeys returns a mapping of n keys named prefix0, prefix1, ... followed
// by extra.
func manyKeys(prefix string, n int, extra string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(prefix + itoa(i) + ": v\n")
	}
	return b.String() + extra
}

// actionlintTestdata returns the test data directory of the actionlint
// module this package builds with, or "" when the go command cannot say.
func actionlintTestdata() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/rhysd/actionlint").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return ""
	}
	return filepath.Join(string(bytes.TrimSpace(out)), "testdata")
}

// workflowCorpus returns the workflow-like YAML files of the repository's
// test data and a slice of the benchmark's generated corpus.
func workflowCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, root := range []string{"testdata", "../cicheck/testdata", "../scan/testdata", "../../examples"} {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if ext := filepath.Ext(path); ext != ".yml" && ext != ".yaml" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err == nil {
				files[path] = b
			}
			return nil
		})
	}
	// actionlint's own test data: real-world workflows and many edge
	// cases, most of them errors.
	if dir := actionlintTestdata(); dir != "" {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				files[path] = b
			}
			return nil
		})
	}
	for i := range 300 {
		files["citest/workflow-"+itoa(i)] = citest.Workflow(i)
		if i%10 == 0 {
			files["citest/action-"+itoa(i)] = citest.Action(i)
		}
	}
	return files
}

func TestFastYAMLCorpus(t *testing.T) {
	files := workflowCorpus(t)
	fast := 0
	for name, src := range files {
		if checkFastYAML(t, name, src) {
			fast++
		}
	}
	t.Logf("fast reader took %d of %d files", fast, len(files))
	if fast < len(files)/2 {
		t.Errorf("fast reader took only %d of %d files", fast, len(files))
	}
}
