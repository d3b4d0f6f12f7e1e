package scan

import (
	"context"
	"strconv"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/cicheck/citest"
)

// BenchmarkRunCI scans a generated CI monorepo (citest.Write: n workflows of
// about 6.5 kB, local actions, Dockerfiles, a .gitlab-ci.yml) end to end in
// process: walk, read, parse, every CI rule, sort. Time per workflow should
// stay flat from 500 to 2,000 workflows; bench/ciscan.sh times the binary.
func BenchmarkRunCI(b *testing.B) {
	for _, n := range []int{500, 1000, 2000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			size, err := citest.Write(dir, n)
			if err != nil {
				b.Fatal(err)
			}
			db := advisory.Embedded()
			b.SetBytes(size)
			b.ResetTimer()
			var findings int
			for b.Loop() {
				res, err := Run(context.Background(), Options{Paths: []string{dir}, Advisories: db})
				if err != nil {
					b.Fatal(err)
				}
				findings = len(res.Findings)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/workflow")
			b.ReportMetric(float64(findings), "findings")
		})
	}
}
