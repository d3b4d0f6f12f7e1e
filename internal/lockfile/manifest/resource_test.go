package manifest_test

import (
	"fmt"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile/manifest"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResource checks that parsing package.json takes time and memory at
// most linear in its size on inputs built to be expensive.
func TestResource(t *testing.T) {
	const head = `{"name":"x","version":"1.0.0",`
	for _, g := range []testutil.Growth{
		{Name: "nested_arrays", Gen: func(n int) []byte { return []byte(head + `"x":` + testutil.Nested(n, "[", "", "]") + "}") }},
		{Name: "nested_objects", Gen: func(n int) []byte {
			return []byte(head + `"x":` + testutil.Nested(n, `{"a":`, "1", "}") + "}")
		}},
		{Name: "many_dependencies", Gen: func(n int) []byte {
			return testutil.Fill(n, head+`"dependencies":{`, func(i int) string { return fmt.Sprintf(`"d%d":"^%d.0.0",`, i, i) }, `"z":"1"}}`)
		}},
		{Name: "duplicate_dependency_objects", Gen: func(n int) []byte {
			return testutil.Fill(n, head, testutil.Repeat(`"dependencies":{"a":"1","b":"2"},`), `"z":1}`)
		}},
		{Name: "long_escaped_string", Gen: func(n int) []byte {
			return testutil.Fill(n, head+`"description":"`, testutil.Repeat(`\u0041\"\\`), `"}`)
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { manifest.Parse("package.json", data) }
			testutil.AssertLinear(t, g)
		})
	}
}
