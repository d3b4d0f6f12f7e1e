package bun_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile/bun"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResource checks that parsing bun.lock (JSON with comments and
// trailing commas) takes time and memory at most linear in its size on
// inputs built to be expensive.
func TestResource(t *testing.T) {
	const head = "{\"lockfileVersion\":1,\"workspaces\":{\"\":{\"name\":\"x\"}},\"packages\":{\n"
	for _, g := range []testutil.Growth{
		{Name: "nested_arrays", Gen: func(n int) []byte {
			return []byte(head + `"a":` + testutil.Nested(n, "[", "", "]") + "}}")
		}},
		{Name: "nested_objects", Gen: func(n int) []byte {
			return []byte(head + `"a":["a@1.0.0","",` + testutil.Nested(n, `{"a":`, "1", "}") + "]}}")
		}},
		{Name: "many_packages", Gen: func(n int) []byte {
			return testutil.Fill(n, head, func(i int) string {
				return fmt.Sprintf("  \"p%d\": [\"p%d@1.0.%d\", \"\", { \"dependencies\": { \"p%d\": \"^1\" } }, \"sha512-AAAA\"], // c\n", i, i, i, i+1)
			}, "}}")
		}},
		{Name: "deep_package_paths", Gen: func(n int) []byte {
			return testutil.Fill(n, head, func(i int) string {
				return `"a` + strings.Repeat("/a", i%300) + `":["a@1.0.0","",{},"sha512-AAAA"],`
			}, "}}")
		}},
		{Name: "comments", Gen: func(n int) []byte {
			return testutil.Fill(n, head, testutil.Repeat("/* /* */ // x\n"), "}}")
		}},
		{Name: "unterminated_comment", Gen: func(n int) []byte { return []byte(head + "/*" + strings.Repeat("*", n)) }},
		{Name: "long_escaped_string", Gen: func(n int) []byte {
			return testutil.Fill(n, head+`"a":["a@1.0.0","`, testutil.Repeat(`\u0041\"\\`), `",{},""]}}`)
		}},
		{Name: "trailing_commas", Gen: func(n int) []byte {
			return []byte(head + `"a":["a@1.0.0","",{},"",` + strings.Repeat(",", n) + "]}}")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { bun.Parser{}.Parse("bun.lock", data) }
			testutil.AssertLinear(t, g)
		})
	}
}
