package cicheck

import (
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResourceExpressions checks that splitting and analysing the ${{ }}
// expressions of one value is linear in its size on expensive inputs.
func TestResourceExpressions(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "nested", Gen: func(n int) []byte {
			return []byte("${{ " + testutil.Nested(n, "(", "github.event.issue.title", ")") + " }}")
		}},
		{Name: "nested_unclosed", Gen: func(n int) []byte { return []byte("${{ " + strings.Repeat("(", n)) }},
		{Name: "many_parsed", Gen: func(n int) []byte {
			return testutil.Fill(n, "", func(i int) string {
				return "${{ format('{0}', github.event.issue.title" + strings.Repeat(" ", i%64) + ") }} "
			}, "")
		}},
		{Name: "many_plain_paths", Gen: func(n int) []byte {
			return testutil.Fill(n, "", testutil.Repeat("${{ github.event.issue.title }}${{ matrix.os }}"), "")
		}},
		{Name: "string_literals", Gen: func(n int) []byte {
			return testutil.Fill(n, "${{ format('", testutil.Repeat("''}}"), "', github.event.issue.title) }}")
		}},
		{Name: "openers_only", Gen: func(n int) []byte { return testutil.Fill(n, "", testutil.Repeat("${{ '"), "") }},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(b []byte) {
				s := string(b)
				expressions(s)
				tooComplexExpressions(s)
			}
			testutil.AssertLinear(t, g)
		})
	}
}
