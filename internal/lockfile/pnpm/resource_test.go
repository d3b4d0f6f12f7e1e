package pnpm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile/pnpm"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestResource checks that parsing pnpm-lock.yaml takes time and memory at
// most linear in its size on inputs built to be expensive.
func TestResource(t *testing.T) {
	const head = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0\npackages:\n"
	for _, g := range []testutil.Growth{
		{Name: "many_packages", Gen: func(n int) []byte {
			return testutil.Fill(n, head, func(i int) string {
				return fmt.Sprintf("  p%d@1.0.%d:\n    resolution: {integrity: sha512-AAAA, tarball: https://registry.example/p%d.tgz}\n    dependencies:\n      p%d: 1.0.0\n", i, i, i, i+1)
			}, "")
		}},
		{Name: "many_snapshots", Gen: func(n int) []byte {
			return testutil.Fill(n, head+"  a@1.0.0:\n    resolution: {integrity: sha512-AAAA}\nsnapshots:\n", func(i int) string {
				return fmt.Sprintf("  a@1.0.0(p%d@1.0.0):\n    dependencies:\n      p%d: 1.0.0\n", i, i)
			}, "")
		}},
		{Name: "flow_nested", Gen: func(n int) []byte {
			return []byte(head + "  a@1.0.0: " + testutil.Nested(n, "[", "", "]") + "\n")
		}},
		{Name: "block_nested", Gen: func(n int) []byte {
			return []byte(head + "  a@1.0.0:\n" + testutil.DeepBlock(n, 4))
		}},
		{Name: "alias_bomb", Gen: func(n int) []byte {
			return []byte(head + "  a@1.0.0:\n    resolution: {integrity: sha512-AAAA}\n" + testutil.AliasBomb(n, "    "))
		}},
		{Name: "long_quoted_key", Gen: func(n int) []byte {
			return []byte(head + "  '" + strings.Repeat("a", n) + "@1.0.0':\n    resolution: {integrity: sha512-AAAA}\n")
		}},
		{Name: "long_escaped_scalar", Gen: func(n int) []byte {
			return testutil.Fill(n, head+"  a@1.0.0:\n    resolution: {integrity: \"", testutil.Repeat(`\u0041\"\\`), "\"}\n")
		}},
		{Name: "nested_peer_suffixes", Gen: func(n int) []byte {
			return []byte(head + "  a@1.0.0" + testutil.Nested(n-len(head), "(b@1.0.0", "", ")") + ":\n    resolution: {integrity: sha512-AAAA}\n")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { pnpm.Parser{}.Parse("pnpm-lock.yaml", data) }
			testutil.AssertLinear(t, g)
		})
	}
}
