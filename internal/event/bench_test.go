package event

import (
	"io"
	"strconv"
	"testing"
)

// BenchmarkRecorderEmit measures the hot path of every interceptor
// decision: Emit of a connect event with a stream writer behind it, for
// distinct events (no aggregation) and for repeats of one event.
func BenchmarkRecorderEmit(b *testing.B) {
	cmd := "node /work/node_modules/.bin/some-tool --flag value --another-flag"
	b.Run("distinct", func(b *testing.B) {
		r := NewRecorder(io.Discard, nil)
		b.ReportAllocs()
		for i := range b.N {
			r.Emit(Event{Kind: KindConnect, Verdict: VerdictAllow, Proto: "tcp", Name: "h" + strconv.Itoa(i) + ".example", IP: "198.18.0.7", Port: 443, Rule: "*.example", PID: 4242, Cmdline: cmd})
		}
		b.StopTimer()
		r.Close()
	})
	b.Run("repeated", func(b *testing.B) {
		r := NewRecorder(io.Discard, nil)
		b.ReportAllocs()
		for range b.N {
			r.Emit(Event{Kind: KindConnect, Verdict: VerdictAllow, Proto: "tcp", Name: "registry.example", IP: "198.18.0.7", Port: 443, Rule: "registry.example", PID: 4242, Cmdline: cmd})
		}
		b.StopTimer()
		r.Close()
	})
}
