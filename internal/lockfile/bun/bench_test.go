package bun

import (
	"bytes"
	"fmt"
	"testing"
)

// genLock returns a bun.lock with n registry packages and a root workspace
// that depends on every tenth one.
func genLock(n int) []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {\n    \"\": {\n      \"name\": \"app\",\n      \"dependencies\": {\n")
	for i := 0; i < n; i += 10 {
		fmt.Fprintf(&b, "        \"pkg-%d\": \"^1.%d.0\",\n", i, i%7)
	}
	b.WriteString("      },\n    },\n  },\n  \"packages\": {\n")
	for i := range n {
		fmt.Fprintf(&b, "    \"pkg-%d\": [\"pkg-%d@1.%d.3\", \"\", { \"dependencies\": { \"pkg-%d\": \"^1.0.0\" } }, \"sha512-%086x==\"],\n\n", i, i, i%7, (i+1)%n, i)
	}
	b.WriteString("  }\n}\n")
	return b.Bytes()
}

// BenchmarkParse parses generated lockfiles of 5,000 and 20,000 packages;
// ns/op should grow by about 4x between them (linear time).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{5000, 20000} {
		data := genLock(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				lf, err := Parser{}.Parse("bun.lock", data)
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
