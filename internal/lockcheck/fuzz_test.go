package lockcheck

import (
	"strings"
	"testing"
)

// FuzzURLs checks the hand-written URL helpers that every rule uses on
// attacker-controlled lockfile strings: no panics, results are substrings
// of the input, and a registry never allows a URL on another host.
func FuzzURLs(f *testing.F) {
	for _, s := range []string{
		"https://registry.example/lodash/-/lodash-4.17.21.tgz",
		"https://u:p@registry.example:8443/@s/n/-/n-1.0.0.tgz?x#y",
		"https://r.example/@s%2fn/-/n-1.0.0.tgz",
		"git+ssh://git@git.example/o/r.git#abc",
		"lodash@npm:4.17.21",
		"http://[::1]:8080/a/-/a-1.tgz",
		"://", "/-/.tgz", "@",
	} {
		f.Add(s)
	}
	r := NewRegistries(nil, "https://registry.example/npm/")
	f.Fuzz(func(t *testing.T, s string) {
		scheme, host, path, ok := splitURL(s)
		if ok && (!strings.Contains(s, scheme) || !strings.Contains(s, host) || (path != "/" && !strings.Contains(s, path))) {
			t.Fatalf("splitURL(%q) = %q %q %q: not parts of the input", s, scheme, host, path)
		}
		if r.Allowed(s) && (!ok || !strings.EqualFold(strings.TrimSuffix(strings.ToLower(host), ":443"), "registry.example") && !strings.EqualFold(strings.TrimSuffix(strings.ToLower(host), ":80"), "registry.example")) {
			t.Fatalf("Allowed(%q) with host %q", s, host)
		}
		insecureScheme(s)
		strongIntegrity(s)
	})
}
