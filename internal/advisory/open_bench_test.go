package advisory

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkOpen reads a local index of 200,000 records (about the size of
// the whole ossf/malicious-packages npm set) and merges it with the
// embedded records: the fixed cost every scan with a local index pays.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	recs := make([]*Record, 0, 200000)
	for i := range 200000 {
		r := mkRec(fmt.Sprintf("MAL-2030-%d", i), nil, aff("npm", fmt.Sprintf("typosquat-package-%d", i), nil, rng("SEMVER", intro("0"))))
		if i%4 == 0 {
			r.Affected[0] = aff("npm", fmt.Sprintf("hijacked-%d", i), []string{"1.2.3", "1.2.4"})
			r.Aliases = []string{fmt.Sprintf("GHSA-xxxx-xxxx-%d", i)}
		}
		r.Summary = "Malicious code in " + r.Affected[0].Package.Name + " (npm)"
		recs = append(recs, r)
	}
	if err := writeIndexFile(filepath.Join(dir, IndexFile), &index{updatedAt: fixedNow, records: mergeRecords(recs)}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	runtime.GC() // the set-up's garbage is not Open's cost
	cpu0 := processCPU()
	for b.Loop() {
		db, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if db.Len() != 200000+Embedded().Len() {
			b.Fatalf("Len = %d", db.Len())
		}
	}
	// CPU time (user+sys, GC workers included) per Open: on a shared
	// machine it measures the work, where ns/op also counts waiting.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkLoadEmbedded parses and indexes the compiled-in records: the
// fixed cost of the first Embedded() call in every process.
func BenchmarkLoadEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		recs, err := loadEmbedded(embeddedFS)
		if err != nil {
			b.Fatal(err)
		}
		if db := newDB(recs, Status{EmbeddedOnly: true}); db.Len() != len(recs) {
			b.Fatalf("Len = %d, want %d", db.Len(), len(recs))
		}
	}
}
