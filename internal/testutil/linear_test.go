package testutil

import (
	"strings"
	"testing"
	"time"
)

func TestCheckGrowth(t *testing.T) {
	ms := func(d ...int) []time.Duration {
		out := make([]time.Duration, len(d))
		for i, v := range d {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	mb := func(d ...uint64) []uint64 {
		out := make([]uint64, len(d))
		for i, v := range d {
			out[i] = v << 20
		}
		return out
	}
	for _, c := range []struct {
		name   string
		times  []time.Duration
		allocs []uint64
		want   string // a substring of the first failure; "" for none
	}{
		{"linear", ms(100, 200, 400, 800), mb(10, 20, 40, 80), ""},
		{"noisy_but_linear", ms(100, 500, 1100, 2300), mb(10, 20, 40, 80), ""},
		{"tiny_times", ms(1, 10, 40, 99), mb(1, 2, 4, 8), ""},
		{"quadratic_time", ms(100, 400, 1600, 6400), mb(10, 20, 40, 80), "time grows faster than linearly"},
		{"quadratic_alloc", ms(100, 200, 400, 800), mb(10, 40, 160, 640), "allocation grows faster than linearly"},
		{"alloc_per_byte", ms(100, 200, 400, 800), mb(200, 400, 800, 1600), "bytes per byte"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := checkGrowth(growthMeasure{sizes: LinearSizes, times: c.times, allocs: c.allocs}, true)
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("failures %q, want none", got)
			case c.want != "" && (len(got) == 0 || !strings.Contains(got[0], c.want)):
				t.Errorf("failures %q, want one about %q", got, c.want)
			}
		})
	}
}

func TestAssertLinearMeasures(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 15 MB of work")
	}
	var sizes []int
	AssertLinear(t, Growth{
		Name: "copy",
		Gen:  func(n int) []byte { return make([]byte, n) },
		Run: func(b []byte) {
			sizes = append(sizes, len(b))
			_ = append([]byte(nil), b...)
		},
	})
	if len(sizes) < len(LinearSizes) || sizes[len(sizes)-1] != 8<<20 {
		t.Errorf("runs on sizes %v, want up to 8 MB", sizes)
	}
}
