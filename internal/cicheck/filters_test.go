package cicheck

import (
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// The cheap pre-filters must never hide a real match.

func TestMayPublishCoversPublishCommands(t *testing.T) {
	for _, c := range publishCommands {
		if !mayPublish("set -e\n" + c + " --flag\n") {
			t.Errorf("mayPublish misses %q", c)
		}
	}
}

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
		if len(es) != 1 || len(untrustedInputs(es[0].Node)) == 0 {
			t.Errorf("%s is not reported as untrusted", p)
		}
	}
}
