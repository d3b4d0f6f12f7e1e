package testutil

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Growth is one family of adversarial inputs for AssertLinear: Gen makes
// an input of about n bytes (deep nesting, one long line, many findings on
// one line, many keys, alias bombs, ...), Run does the work under test on
// it (parse, or parse and check).
type Growth struct {
	Name string
	Gen  func(n int) []byte
	Run  func(data []byte)
}

// Bounds of AssertLinear. Machines are noisy, so times are the process's
// CPU time (wall time where that is not available), the minimum of a few
// runs, and the allowed ratio is three times the size ratio;
// allocation counts are deterministic and get twice the size ratio plus a
// fixed allowance for the first MB's fixed costs.
const (
	linearRuns      = 2
	timeSlack       = 3
	allocSlack      = 2
	allocAllowance  = 4 << 20
	tinyTime        = 100 * time.Millisecond // below this, work is too small to matter
	maxRunTime      = 30 * time.Second       // one run beyond this is a failure, not a wait
	maxAllocPerByte = 128                    // whatever the ratio, 128 bytes allocated per input byte at most
)

// LinearSizes are the input sizes AssertLinear measures: 1, 2, 4 and 8 MB.
var LinearSizes = []int{1 << 20, 2 << 20, 4 << 20, 8 << 20}

// probeSizes are measured first, with the same bounds.
var probeSizes = []int{128 << 10, 256 << 10, 512 << 10, 1 << 20}

// AssertLinear checks that the time and the heap allocation of g.Run grow
// at most linearly with the input size over LinearSizes: for each size s,
// time(s) <= 3·(s/1MB)·time(1MB) (unless time(s) is under 100 ms) and
// allocated(s) <= 2·(s/1MB)·allocated(1MB) + 4 MB, and allocated(s) <= 128·s.
// The sizes 128 KB to 1 MB are measured first with the same bounds, so
// that a quadratic family fails fast.
// A run that takes longer than 30 s fails the test at once. A time ratio
// that fails is measured once more before it counts, to ride out a
// neighbour's burst of load. It is skipped with -short.
func AssertLinear(t *testing.T, g Growth) {
	t.Helper()
	if testing.Short() {
		t.Skip("resource test: skipped with -short")
	}
	// Small sizes first: a quadratic family shows there in well under a
	// second, before a large run could take minutes (a run cannot be
	// stopped from outside).
	if p := measureGrowth(t, g, probeSizes); len(checkGrowth(p, false)) > 0 {
		p2 := measureGrowth(t, g, probeSizes)
		for i := range p.times {
			p.times[i] = min(p.times[i], p2.times[i])
		}
		if failed := checkGrowth(p, false); len(failed) > 0 {
			t.Fatalf("%s: on small inputs already: %s (%v)", g.Name, failed[0], p)
		}
	}
	m := measureGrowth(t, g, LinearSizes)
	if len(checkGrowth(m, false)) > 0 {
		m2 := measureGrowth(t, g, LinearSizes)
		for i := range m.times {
			m.times[i] = min(m.times[i], m2.times[i])
		}
	}
	for _, f := range checkGrowth(m, true) {
		t.Errorf("%s: %s", g.Name, f)
	}
	t.Logf("%s: %v", g.Name, m)
}

type growthMeasure struct {
	sizes  []int
	times  []time.Duration
	allocs []uint64
}

func (m growthMeasure) String() string {
	s := ""
	for i, n := range m.sizes {
		s += fmt.Sprintf("%d KB: %v %d KB alloc; ", n>>10, m.times[i].Round(time.Microsecond), m.allocs[i]>>10)
	}
	return s
}

func measureGrowth(t *testing.T, g Growth, sizes []int) growthMeasure {
	t.Helper()
	m := growthMeasure{sizes: sizes}
	for _, n := range sizes {
		data := g.Gen(n)
		best := time.Duration(-1)
		var alloc uint64
		for range linearRuns {
			d, a := timeRun(t, g, data)
			if best < 0 || d < best {
				best = d
			}
			alloc = a // the same on every run
		}
		m.times = append(m.times, best)
		m.allocs = append(m.allocs, alloc)
	}
	return m
}

// timeRun runs g.Run(data) once and returns its time and the bytes it
// allocated; it fails the test when the run exceeds maxRunTime.
func timeRun(t *testing.T, g Growth, data []byte) (time.Duration, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan time.Duration, 1)
	go func() {
		start, cpu := time.Now(), cpuTime()
		g.Run(data)
		if cpuTimeWorks {
			done <- cpuTime() - cpu
			return
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		runtime.ReadMemStats(&after)
		return d, after.TotalAlloc - before.TotalAlloc
	case <-time.After(maxRunTime):
		t.Fatalf("%s: one run on %d bytes took more than %v", g.Name, len(data), maxRunTime)
		return 0, 0
	}
}

// checkGrowth returns what breaks the bounds; with final false it checks
// times only (allocation does not change when measured again).
func checkGrowth(m growthMeasure, final bool) []string {
	var out []string
	base := m.sizes[0]
	for i, n := range m.sizes[1:] {
		i++
		ratio := n / base
		if m.times[i] > tinyTime && m.times[i] > time.Duration(timeSlack*ratio)*m.times[0] {
			out = append(out, fmt.Sprintf("time grows faster than linearly: %v at %d KB, %v at %d KB (allowed %d×)",
				m.times[i], n>>10, m.times[0], base>>10, timeSlack*ratio))
		}
		if !final {
			continue
		}
		if m.allocs[i] > uint64(allocSlack*ratio)*m.allocs[0]+allocAllowance {
			out = append(out, fmt.Sprintf("allocation grows faster than linearly: %d KB at %d KB, %d KB at %d KB",
				m.allocs[i]>>10, n>>10, m.allocs[0]>>10, base>>10))
		}
	}
	for i, n := range m.sizes {
		if final && m.allocs[i] > uint64(maxAllocPerByte*n) {
			out = append(out, fmt.Sprintf("allocates %d KB for %d KB of input (more than %d bytes per byte)", m.allocs[i]>>10, n>>10, maxAllocPerByte))
		}
	}
	return out
}
