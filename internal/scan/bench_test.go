package scan

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
)

// BenchmarkRun scans a generated repository (package.json plus a
// package-lock.json of n packages) end to end: walk, read, parse, every
// rule with the embedded malicious-package database, sort. Time per package
// should stay flat from 5,000 to 50,000 packages.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{5000, 20000, 50000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			lock, manifest := npmtest.Generate(n)
			if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "package.json"), manifest, 0o644); err != nil {
				b.Fatal(err)
			}
			db := advisory.Embedded()
			b.SetBytes(int64(len(lock) + len(manifest)))
			b.ResetTimer()
			var findings int
			for b.Loop() {
				res, err := Run(context.Background(), Options{
					Paths:      []string{dir},
					Advisories: db,
					Defaults:   lockcheck.StaticDefaults(npmtest.Registry),
				})
				if err != nil {
					b.Fatal(err)
				}
				findings = len(res.Findings)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packages/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/package")
			b.ReportMetric(float64(findings), "findings")
		})
	}
}
