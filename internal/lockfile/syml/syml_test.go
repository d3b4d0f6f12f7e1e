package syml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// lockfileFixtures are the berry and pnpm fixtures of the parsers that use
// this package: real lockfile shapes the fast path must accept.
var lockfileFixtures = []string{
	"../yarn/testdata/berry.lock",
	"../pnpm/testdata/v5.yaml",
	"../pnpm/testdata/v6.yaml",
	"../pnpm/testdata/v9.yaml",
	"../pnpm/testdata/v9_env.yaml",
}

// shape is the part of a node tree that lockfile readers depend on.
type shape struct {
	Kind         yaml.Kind
	Null         bool
	Value        string
	Line, Column int
	Content      []shape
}

// shapeOf flattens n. The position of a null scalar is left out: yaml.v3
// places an empty value at the next token, which callers never report.
func shapeOf(n *yaml.Node) shape {
	s := shape{Kind: n.Kind, Value: n.Value, Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		s.Null, s.Line, s.Column = true, 0, 0
	}
	for _, c := range n.Content {
		s.Content = append(s.Content, shapeOf(c))
	}
	return s
}

func shapesOf(docs []*yaml.Node) []shape {
	var out []shape
	for _, d := range docs {
		out = append(out, shapeOf(d))
	}
	return out
}

// checkSame fails t when the fast path accepts data but disagrees with
// yaml.v3, and reports whether the fast path accepted it.
func checkSame(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := fast(data)
	if !ok {
		return false
	}
	want, err := slowAll(data)
	if err != nil {
		t.Fatalf("fast path accepted input that yaml.v3 rejects (%v):\n%q", err, data)
	}
	if diff := cmp.Diff(shapesOf(want), shapesOf(got)); diff != "" {
		t.Fatalf("fast path disagrees with yaml.v3 (-yaml.v3 +fast) on %q:\n%s", data, diff)
	}
	return true
}

func TestFastMatchesYAMLv3(t *testing.T) {
	for _, path := range lockfileFixtures {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !checkSame(t, data) {
				t.Error("fast path rejected a lockfile written in the subset")
			}
		})
	}
}

func TestSubset(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantFast bool
	}{
		{"plain", "a: 1\nb: two words # comment\n", true},
		{"nested", "a:\n  b:\n    c: d\n  e: f\ng: h\n", true},
		{"null_values", "a:\nb: ~\nc: # nothing\n", true},
		{"quoted", "\"a@npm:^1, a@npm:^2\":\n  k: 'it''s'\n  u: \"\\u00e9\\t\\\"x\\\"\"\n", true},
		{"flow", "a: {integrity: sha512-AA==, tarball: https://cdn.example/a.tgz#x}\nb: [darwin, linux]\nc: {}\nd: {node: '>=8', x: [1, {y: z}]}\n", true},
		{"crlf", "a: 1\r\nb:\r\n  c: 2\r\n", true},
		{"comments_and_blanks", "# head\n\na: 1\n\n  # indented comment\nb: 2\n", true},
		{"colon_in_plain", "a: https://registry.example/a:b\n", true},
		{"hash_in_plain", "a: x#y\n", true},
		{"block_sequence", "a:\n  - 1\n  - 2\n", false},
		{"anchor", "a: &x 1\nb: *x\n", false},
		{"multiline_plain", "a: b\n  c\n", false},
		{"multiline_flow", "a: {b: 1,\n  c: 2}\n", false},
		{"block_scalar", "a: |\n  text\n", false},
		{"tab", "a:\t1\n", false},
		{"non_ascii", "a: \u00e9\n", false},
		{"document_marker", "---\na: 1\n", true},
		{"two_documents", "---\nlockfileVersion: '9.0'\nimporters:\n  .: {}\n---\nlockfileVersion: '9.0'\npackages:\n  a@1.0.0: {}\n", true},
		{"two_documents_no_leading_marker", "a: 1\n---\nb: 2\n", true},
		{"empty_document", "---\n---\na: 1\n", false},
		{"empty_last_document", "a: 1\n---\n", false},
		{"marker_with_comment", "--- # c\na: 1\n", false},
		{"document_end", "a: 1\n...\n", false},
		{"unknown_escape", "a: \"\\x41\"\n", false},
		{"surrogate_escape", "a: \"\\ud83d\"\n", false},
		{"bad_indent", "a:\n    b: 1\n  c: 2\n", false},
		{"flow_question", "a: {b: https://x.example/?q}\n", false},
		{"long_key", strings.Repeat("k", 1100) + ": v\n", false},
		{"scalar_root", "just text\n", false},
		{"empty", "", false},
		{"mapping_value_in_plain", "a: b: c\n", false},
		{"unterminated_quote", "a: \"b\n", false},
		{"trailing_text", "a: 'b' c\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkSame(t, []byte(tt.input)); got != tt.wantFast {
				t.Errorf("fast path accepted = %t, want %t", got, tt.wantFast)
			}
			// DecodeAll and Decode must give the yaml.v3 answer either way.
			gotAll, gotErr := DecodeAll([]byte(tt.input))
			wantAll, wantErr := slowAll([]byte(tt.input))
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("DecodeAll error = %v, yaml.v3 error = %v", gotErr, wantErr)
			}
			if diff := cmp.Diff(shapesOf(wantAll), shapesOf(gotAll)); diff != "" {
				t.Errorf("DecodeAll mismatch (-yaml.v3 +DecodeAll):\n%s", diff)
			}
			got, gotErr := Decode([]byte(tt.input))
			want, wantErr := slow([]byte(tt.input))
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("Decode error = %v, yaml.v3 error = %v", gotErr, wantErr)
			}
			if gotErr == nil {
				if diff := cmp.Diff(shapeOf(want), shapeOf(got)); diff != "" {
					t.Errorf("Decode mismatch (-yaml.v3 +Decode):\n%s", diff)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantLine int
	}{
		{"scanner_error", "a: 1\nb:\n  c: \"x\n", 3},
		{"parser_error_flow", "a: 1\nb: {c: d\n", 2},
		{"parser_error_block", "a:\n  b: 1\n c: 2\n", 3},
		{"first_line", "a: [\n", 2},
		{"too_deep", "a: " + strings.Repeat("[", 20000), 1},
		{"end_without_newline", "a: 1\nb: [", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.input))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode error = %v, want *Error", err)
			}
			if e.Line != tt.wantLine {
				t.Errorf("Decode error at line %d, want %d (%v)", e.Line, tt.wantLine, e)
			}
		})
	}
}

// FuzzDecode checks that Decode and DecodeAll never panic and that whenever
// the fast path accepts an input, yaml.v3 accepts it too and builds the same
// documents.
func FuzzDecode(f *testing.F) {
	for _, path := range lockfileFixtures {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, data)
		if _, err := Decode(data); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode error %v is %T, want *Error", err, err)
			}
		}
		if _, err := DecodeAll(data); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line > Lines(data) {
				t.Fatalf("DecodeAll error %v (%T) is not an *Error inside the input", err, err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("lockfileVersion: '9.0'\n\npackages:\n")
	for i := range 20000 {
		fmt.Fprintf(&sb, "\n  pkg-%d@1.0.%d:\n    resolution: {integrity: sha512-%086x==}\n    engines: {node: '>=8'}\n", i, i%9, i)
	}
	data := []byte(sb.String())
	for _, dec := range []struct {
		name string
		fn   func([]byte) (*yaml.Node, error)
	}{{"subset", Decode}, {"yaml.v3", slow}} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := dec.fn(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
