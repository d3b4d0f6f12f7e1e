package npm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile/npm"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResource checks that parsing package-lock.json takes time and memory
// at most linear in its size on inputs built to be expensive.
func TestResource(t *testing.T) {
	const head = `{"name":"x","lockfileVersion":3,"packages":{"":{"name":"x"},`
	for _, g := range []testutil.Growth{
		{Name: "nested_arrays", Gen: func(n int) []byte {
			return []byte(head + `"node_modules/a":{"version":"1.0.0","x":` + testutil.Nested(n, "[", "", "]") + "}}}")
		}},
		{Name: "nested_objects", Gen: func(n int) []byte {
			return []byte(head + `"node_modules/a":{"version":"1.0.0","x":` + testutil.Nested(n, `{"a":`, "1", "}") + "}}}")
		}},
		{Name: "nested_v1_dependencies", Gen: func(n int) []byte {
			return []byte(`{"lockfileVersion":1,"dependencies":` + testutil.Nested(n, `{"a":{"version":"1.0.0","dependencies":`, "{}", "}}") + "}")
		}},
		{Name: "deep_install_path", Gen: func(n int) []byte {
			return []byte(head + `"` + strings.TrimSuffix(strings.Repeat("node_modules/a/", n/15), "/") + `":{"version":"1.0.0"}}}`)
		}},
		{Name: "nested_install_paths", Gen: func(n int) []byte {
			return testutil.Fill(n, head, func(i int) string {
				return `"node_modules/a` + strings.Repeat("/node_modules/a", i%200) + `":{"version":"1.0.0","resolved":"https://registry.example/a/-/a-1.0.0.tgz"},`
			}, `"node_modules/z":{"version":"1"}}}`)
		}},
		{Name: "many_packages", Gen: func(n int) []byte {
			return testutil.Fill(n, head, func(i int) string {
				return fmt.Sprintf(`"node_modules/p%d":{"version":"1.0.%d","resolved":"https://registry.example/p%d/-/p%d-1.0.%d.tgz","integrity":"sha512-AAAA","dependencies":{"p%d":"^1.0.0"}},`, i, i, i, i, i, i+1)
			}, `"node_modules/z":{"version":"1"}}}`)
		}},
		{Name: "many_keys_one_object", Gen: func(n int) []byte {
			return testutil.Fill(n, head+`"node_modules/a":{"version":"1.0.0","dependencies":{`, func(i int) string {
				return fmt.Sprintf(`"d%d":"^%d",`, i, i)
			}, `"z":"1"}}}}`)
		}},
		{Name: "duplicate_keys", Gen: func(n int) []byte {
			return testutil.Fill(n, head, testutil.Repeat(`"node_modules/a":{"version":"1.0.0"},`), `"node_modules/z":{"version":"1"}}}`)
		}},
		{Name: "long_escaped_string", Gen: func(n int) []byte {
			return testutil.Fill(n, head+`"node_modules/a":{"version":"1.0.0","resolved":"`, testutil.Repeat(`\u0041\"\\`), `"}}}`)
		}},
		{Name: "unterminated", Gen: func(n int) []byte { return []byte(head + `"node_modules/a":{"version":"` + strings.Repeat("a", n)) }},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { npm.Parser{}.Parse("package-lock.json", data) }
			testutil.AssertLinear(t, g)
		})
	}
}
