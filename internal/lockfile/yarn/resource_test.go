package yarn_test

import (
	"fmt"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile/yarn"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResource checks that parsing yarn.lock, classic and berry, takes
// time and memory at most linear in its size on inputs built to be
// expensive.
func TestResource(t *testing.T) {
	const classic = "# yarn lockfile v1\n\n"
	const berry = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"
	for _, g := range []testutil.Growth{
		{Name: "classic_many_entries", Gen: func(n int) []byte {
			return testutil.Fill(n, classic, func(i int) string {
				return fmt.Sprintf("p%d@^1.0.0, p%d@^1.0.1:\n  version \"1.0.%d\"\n  resolved \"https://registry.example/p%d/-/p%d-1.0.%d.tgz#abc\"\n  integrity sha512-AAAA\n  dependencies:\n    p%d \"^1\"\n\n", i, i, i, i, i, i, i+1)
			}, "")
		}},
		{Name: "classic_many_specs_one_entry", Gen: func(n int) []byte {
			return testutil.Fill(n, classic+"a@1", func(i int) string { return fmt.Sprintf(", a@^%d", i) }, ":\n  version \"1.0.0\"\n")
		}},
		{Name: "classic_deep_indent", Gen: func(n int) []byte {
			return []byte(classic + "a@1:\n" + testutil.DeepBlock(n, 2))
		}},
		{Name: "classic_long_quoted", Gen: func(n int) []byte {
			return testutil.Fill(n, classic+"a@1:\n  version \"", testutil.Repeat(`\"\\a`), "\"\n")
		}},
		{Name: "berry_many_entries", Gen: func(n int) []byte {
			return testutil.Fill(n, berry, func(i int) string {
				return fmt.Sprintf("\"p%d@npm:^1.0.0\":\n  version: 1.0.%d\n  resolution: \"p%d@npm:1.0.%d\"\n  dependencies:\n    p%d: \"npm:^1\"\n  checksum: 10c0/abcd\n  languageName: node\n  linkType: hard\n\n", i, i, i, i, i+1)
			}, "")
		}},
		{Name: "berry_flow_nested", Gen: func(n int) []byte {
			return []byte(berry + "\"a@npm:1\": " + testutil.Nested(n, "[", "", "]") + "\n")
		}},
		{Name: "berry_block_nested", Gen: func(n int) []byte {
			return []byte(berry + "\"a@npm:1\":\n" + testutil.DeepBlock(n, 2))
		}},
		{Name: "berry_alias_bomb", Gen: func(n int) []byte {
			return []byte(berry + "\"a@npm:1\":\n  version: 1.0.0\n" + testutil.AliasBomb(n, "  "))
		}},
		{Name: "berry_many_descriptors", Gen: func(n int) []byte {
			return testutil.Fill(n, berry+"\"a@npm:1", func(i int) string { return fmt.Sprintf(", a@npm:^%d", i) }, "\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { yarn.Parser{}.Parse("yarn.lock", data) }
			testutil.AssertLinear(t, g)
		})
	}
}
