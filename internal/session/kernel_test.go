package session

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/sandbox"
)

type sliceSink struct{ events []event.Event }

func (s *sliceSink) Emit(e event.Event) { s.events = append(s.events, e) }

func TestKernelAggregator(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sink := &sliceSink{}
	a := newKernelAggregator(sink, func() time.Time { return t0 })
	vsock := sandbox.KernelEvent{Time: t0, What: "socket(AF_VSOCK)", Refused: true, Errno: "EAFNOSUPPORT", PID: 7, Cmdline: "node x.js"}
	for range 5 {
		a.add(vsock)
	}
	a.add(sandbox.KernelEvent{Time: t0, What: "socket(AF_INET, IPPROTO_MPTCP)", Refused: true, Fallback: true, Errno: "EPROTONOSUPPORT", PID: 8})
	a.add(sandbox.KernelEvent{Time: t0, What: "kill(0, SIGKILL)", PID: 9})
	a.add(sandbox.KernelEvent{Time: t0, What: "command stopped by SIGSTOP for 5s", Refused: true})
	a.flush()
	want := []event.Event{
		{Time: t0, Kind: event.KindProcess, Verdict: event.VerdictBlock, Proto: "syscall", Reason: "socket(AF_VSOCK) refused (EAFNOSUPPORT)", PID: 7, Cmdline: "node x.js"},
		{Time: t0, Kind: event.KindProcess, Verdict: event.VerdictAllow, Proto: "syscall", Reason: "socket(AF_INET, IPPROTO_MPTCP) refused (EPROTONOSUPPORT): downgraded, the client falls back to plain TCP", PID: 8},
		{Time: t0, Kind: event.KindProcess, Verdict: event.VerdictAllow, Proto: "syscall", Reason: "kill(0, SIGKILL): reaches only the build's own processes", PID: 9},
		{Time: t0, Kind: event.KindProcess, Verdict: event.VerdictBlock, Reason: "command stopped by SIGSTOP for 5s"},
		{Time: t0, Kind: event.KindProcess, Verdict: event.VerdictBlock, Proto: "syscall", Reason: "socket(AF_VSOCK) refused (EAFNOSUPPORT) (repeated)", Count: 4},
	}
	if diff := cmp.Diff(want, sink.events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestKernelAggregatorIsBounded: a build making ever new kinds of refused
// calls costs at most maxKernelKeys events and one counter.
func TestKernelAggregatorIsBounded(t *testing.T) {
	sink := &sliceSink{}
	a := newKernelAggregator(sink, time.Now)
	for i := range 10 * maxKernelKeys {
		a.add(sandbox.KernelEvent{What: "i386 syscall " + string(rune('a'+i%26)) + string(rune(i)), Refused: true, Errno: "ENOSYS"})
	}
	a.flush()
	if len(sink.events) != maxKernelKeys+1 {
		t.Fatalf("%d events, want %d", len(sink.events), maxKernelKeys+1)
	}
	if last := sink.events[len(sink.events)-1]; last.Count != 9*maxKernelKeys {
		t.Errorf("overflow counted %d, want %d", last.Count, 9*maxKernelKeys)
	}
}
