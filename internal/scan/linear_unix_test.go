//go:build unix

package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// processCPU returns the user+system CPU time this process has used: on a
// shared machine it measures the work done, where wall-clock time also
// counts the time other processes held the CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestWalkLinear scans 25,000, 50,000 and 100,000 package.json files (the
// 100,000 took 43 s when each new manifest was compared with every earlier
// one) and checks that the CPU time grows linearly: 4x the files must cost
// less than 8x the CPU (quadratic growth gives 16x). No absolute time is
// asserted; each size is the best of two runs.
func TestWalkLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 files")
	}
	base := t.TempDir()
	// base/ab/a: 25,000; base/ab: 50,000; base: 100,000.
	quarters := []string{"ab/a", "ab/b", "c/c1", "c/c2"}
	for _, q := range quarters {
		for i := range 25 {
			for j := range 1000 {
				d := filepath.Join(base, q, fmt.Sprint(i), fmt.Sprint(j))
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, "package.json"), []byte(testManifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	cost := func(dir string, want int) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 2 {
			start := processCPU()
			res, err := runBounded(t, context.Background(), Options{Paths: []string{dir}})
			if err != nil {
				t.Fatal(err)
			}
			best = min(best, processCPU()-start)
			if len(res.Files) != want {
				t.Fatalf("%s: %d files scanned, want %d", dir, len(res.Files), want)
			}
		}
		return best
	}
	c1 := cost(filepath.Join(base, "ab", "a"), 25000)
	c2 := cost(filepath.Join(base, "ab"), 50000)
	c4 := cost(base, 100000)
	t.Logf("CPU: 25k %v, 50k %v (%.2fx), 100k %v (%.2fx)", c1, c2, float64(c2)/float64(c1), c4, float64(c4)/float64(c1))
	if c4 > 8*c1 {
		t.Errorf("100,000 manifests cost %.1fx the CPU of 25,000 (%v against %v), want under 8x (linear is 4x)", float64(c4)/float64(c1), c4, c1)
	}
}
