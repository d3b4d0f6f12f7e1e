package pnpm

import (
	"bytes"
	"fmt"
	"testing"
)

// genV9 returns a lockfile 9.0 with n packages, their snapshots and a root
// importer that depends on every tenth package.
func genV9(n int) []byte {
	var b bytes.Buffer
	b.WriteString("lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n\nimporters:\n\n  .:\n    dependencies:\n")
	for i := 0; i < n; i += 10 {
		fmt.Fprintf(&b, "      pkg-%d:\n        specifier: ^1.%d.0\n        version: 1.%d.3(react@18.2.0)\n", i, i%7, i%7)
	}
	b.WriteString("\npackages:\n")
	for i := range n {
		fmt.Fprintf(&b, "\n  pkg-%d@1.%d.3:\n    resolution: {integrity: sha512-%086x==}\n    engines: {node: '>=8'}\n", i, i%7, i)
	}
	b.WriteString("\nsnapshots:\n")
	for i := range n {
		fmt.Fprintf(&b, "\n  pkg-%d@1.%d.3(react@18.2.0):\n    dependencies:\n      pkg-%d: 1.%d.3\n", i, i%7, (i+1)%n, (i+1)%n%7)
		if i%50 == 0 {
			b.WriteString("    optional: true\n")
		}
	}
	return b.Bytes()
}

// BenchmarkParse parses generated lockfiles of 5,000 and 20,000 packages;
// ns/op should grow by about 4x between them (linear time).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{5000, 20000} {
		data := genV9(n)
		b.Run(fmt.Sprintf("v9/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				lf, err := Parser{}.Parse("pnpm-lock.yaml", data)
				if err != nil {
					b.Fatal(err)
				}
				if len(lf.Packages) != n {
					b.Fatalf("parsed %d packages, want %d", len(lf.Packages), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pkgs/s")
		})
	}
}
