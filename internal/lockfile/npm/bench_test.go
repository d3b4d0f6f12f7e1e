package npm

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
)

// BenchmarkParse measures Parse on generated lockfiles of three sizes, with
// plain encoding/json decoding of the same bytes (no positions) as a
// baseline in the same run.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{5000, 20000, 50000} {
		data := npmtest.GenerateLockfile(n)
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				lf, err := Parser{}.Parse("package-lock.json", data)
				if err != nil {
					b.Fatal(err)
				}
				if len(lf.Packages) != n {
					b.Fatalf("got %d packages, want %d", len(lf.Packages), n)
				}
			}
			report(b, n, len(data), processCPU()-cpu0)
		})
		b.Run(fmt.Sprintf("encoding_json/packages=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				var lock baselineLock
				if err := json.Unmarshal(data, &lock); err != nil {
					b.Fatal(err)
				}
				if len(lock.Packages) != n+1 {
					b.Fatalf("got %d packages, want %d", len(lock.Packages), n+1)
				}
			}
			report(b, n, len(data), processCPU()-cpu0)
		})
	}
}

// report adds packages/s (wall clock) and, where CPU time is measured, the
// CPU milliseconds per parse and the throughput per CPU second, which stay
// meaningful on a machine shared with other work.
func report(b *testing.B, n, size int, cpu time.Duration) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/s, "packages/s")
	}
	if cpu > 0 {
		perOp := cpu.Seconds() / float64(b.N)
		b.ReportMetric(perOp*1e3, "cpu-ms/op")
		b.ReportMetric(float64(size)/1e6/perOp, "MB/cpu-s")
	}
}

// baselineLock is what a straightforward encoding/json parser decodes:
// the same fields, without positions.
type baselineLock struct {
	LockfileVersion int                        `json:"lockfileVersion"`
	Packages        map[string]baselinePackage `json:"packages"`
}

type baselinePackage struct {
	Name             string            `json:"name"`
	Version          string            `json:"version"`
	Resolved         string            `json:"resolved"`
	Integrity        string            `json:"integrity"`
	Link             bool              `json:"link"`
	Dev              bool              `json:"dev"`
	Optional         bool              `json:"optional"`
	DevOptional      bool              `json:"devOptional"`
	HasInstallScript bool              `json:"hasInstallScript"`
	Dependencies     map[string]string `json:"dependencies"`
}
