package advisory

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReadIndexLinear feeds readIndex (and the indexing Open does after
// it) adversarial indexes of 1, 2, 4 and
// 8 MiB (as one planted in a database directory could be): many records
// with long alias, versions and range lines. Time and allocated bytes
// must grow at most about linearly.
func TestReadIndexLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("resource test")
	}
	gen := func(size int) []byte {
		var text strings.Builder
		text.WriteString(indexMagic + "\nupdated\t2026-01-01T00:00:00Z\n.\n")
		n := 0
		for text.Len() < size {
			fmt.Fprintf(&text, "R\tMAL-%d\t2026-01-01T00:00:00Z\t\tsummary\nL", n)
			for i := range 20 {
				fmt.Fprintf(&text, "\tGHSA-%d-%d", n, i)
			}
			fmt.Fprintf(&text, "\nA\tnpm\tpkg-%d\nV", n)
			for i := range 50 {
				fmt.Fprintf(&text, "\t%d.%d.%d", n, i, i)
			}
			text.WriteString("\nG\tSEMVER")
			for i := range 20 {
				fmt.Fprintf(&text, "\ti:%d.0.0\tf:%d.0.1", i, i)
			}
			text.WriteString("\n")
			n++
		}
		fmt.Fprintf(&text, "E\t%d\n", n)
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zw.Write([]byte(text.String()))
		zw.Close()
		return b.Bytes()
	}
	type cost struct {
		d     time.Duration
		alloc uint64
		raw   int
	}
	var first cost
	for _, n := range []int{1, 2, 4, 8} {
		data := gen(n << 20)
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		idx, err := readIndex(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%d MiB: %v", n, err)
		}
		recs, _ := overlay(Embedded().records, idx.records) // what Open does next
		newDB(recs, Status{})
		d := time.Since(start)
		runtime.ReadMemStats(&m1)
		c := cost{d, m1.TotalAlloc - m0.TotalAlloc, n}
		t.Logf("%d MiB of index text: %d records, %v, %.1f MiB allocated", n, len(idx.records), d.Round(time.Millisecond), float64(c.alloc)/(1<<20))
		if n == 1 {
			first = c
			continue
		}
		scale := float64(n)
		if limit := uint64(2*scale*float64(first.alloc)) + 8<<20; c.alloc > limit {
			t.Errorf("%d MiB: %d bytes allocated, over %d", n, c.alloc, limit)
		}
		if limit := time.Duration(3*scale*float64(first.d)) + 500*time.Millisecond; c.d > limit {
			t.Errorf("%d MiB: took %v, over %v", n, c.d, limit)
		}
	}
}
