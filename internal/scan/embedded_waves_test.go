package scan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
)

// TestScanFindsEmbeddedWaves scans a lockfile that locks one version of
// each embedded npm wave (chalk/debug hijack, Nx s1ngularity, Shai-Hulud 1
// and 2) next to a clean neighbour version, with only the compiled-in
// database: every wave version is a malicious-package finding, no clean
// version is.
func TestScanFindsEmbeddedWaves(t *testing.T) {
	pkgs := [][2]string{
		{"chalk", "5.6.1"}, {"debug", "4.4.2"}, {"ansi-regex", "6.2.1"},
		{"nx", "21.5.0"}, {"@ctrl/tinycolor", "4.1.1"}, {"posthog-node", "5.13.3"},
		{"strip-ansi", "7.1.0"}, {"ansi-styles", "6.2.1"},
	}
	var b strings.Builder
	b.WriteString(`{"name":"app","version":"1.0.0","lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"}`)
	for i, p := range pkgs {
		base := p[0][strings.LastIndex(p[0], "/")+1:]
		fmt.Fprintf(&b, `,"node_modules/%s":{"version":"%s","resolved":"https://registry.example/%s/-/%s-%s.tgz","integrity":"sha512-%064d"}`, p[0], p[1], p[0], base, p[1], i)
	}
	b.WriteString("}}\n")
	dir := writeTree(t, map[string]string{"package-lock.json": b.String()})
	res := run(t, Options{Paths: []string{dir}, Advisories: advisory.Embedded()})
	var got []string
	for _, f := range res.Findings {
		if f.Rule == "malicious-package" {
			got = append(got, f.Message)
		}
	}
	for _, want := range []string{"chalk@5.6.1", "debug@4.4.2", "ansi-regex@6.2.1", "nx@21.5.0", "@ctrl/tinycolor@4.1.1", "posthog-node@5.13.3"} {
		if !slices.ContainsFunc(got, func(m string) bool { return strings.Contains(m, want) }) {
			t.Errorf("no malicious-package finding for %s; got %q", want, got)
		}
	}
	for _, clean := range []string{"strip-ansi@7.1.0", "ansi-styles@6.2.1"} {
		if slices.ContainsFunc(got, func(m string) bool { return strings.Contains(m, clean) }) {
			t.Errorf("clean %s reported malicious: %q", clean, got)
		}
	}
	if len(got) != 6 {
		t.Errorf("got %d malicious-package findings, want 6: %q", len(got), got)
	}
}
