package session

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/sandbox"
)

// maxKernelKeys bounds the distinct kernel events kept for aggregation;
// the rest are added up under one key.
const maxKernelKeys = 256

// kernelAggregator turns the sandbox's kernel events (refused syscalls,
// observed group kills, a stopped build killed) into process events: the
// first of each kind is reported at once, with the process that made it;
// repeats are added up and reported at the end (Count), so a build that
// loops on a refused syscall costs one event, not one per call.
type kernelAggregator struct {
	sink event.Sink
	now  func() time.Time

	mu    sync.Mutex
	seen  map[string]int // reason → repeats not yet reported
	order []string
}

func newKernelAggregator(sink event.Sink, now func() time.Time) *kernelAggregator {
	return &kernelAggregator{sink: sink, now: now, seen: map[string]int{}}
}

// kernelEvent is the event for k, without time and count.
func kernelEvent(k sandbox.KernelEvent) event.Event {
	e := event.Event{Kind: event.KindProcess, Verdict: event.VerdictBlock, Proto: "syscall", PID: k.PID, Cmdline: k.Cmdline}
	switch {
	case k.Errno == "" && !k.Refused:
		e.Verdict = event.VerdictAllow
		e.Reason = k.What + ": reaches only the build's own processes"
	case k.Errno == "":
		e.Proto = ""
		e.Reason = k.What
	case k.Fallback:
		// A client that tries MPTCP falls back to TCP, which the
		// sandbox proxies: not an attempt to leave, nothing to fail on.
		e.Verdict = event.VerdictAllow
		e.Reason = fmt.Sprintf("%s refused (%s): downgraded, the client falls back to plain TCP", k.What, k.Errno)
	default:
		e.Reason = fmt.Sprintf("%s refused (%s)", k.What, k.Errno)
	}
	return e
}

func (a *kernelAggregator) add(k sandbox.KernelEvent) {
	e := kernelEvent(k)
	key := string(e.Verdict) + "\x00" + e.Reason
	a.mu.Lock()
	n, ok := a.seen[key]
	switch {
	case ok:
		a.seen[key] = n + 1
		a.mu.Unlock()
		return
	case len(a.seen) >= maxKernelKeys:
		key = string(e.Verdict) + "\x00more kernel events of other kinds"
		a.seen[key]++
		if a.seen[key] == 1 {
			a.order = append(a.order, key)
		}
		a.mu.Unlock()
		return
	}
	a.seen[key] = 0
	a.order = append(a.order, key)
	a.mu.Unlock()
	e.Time = k.Time
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	a.sink.Emit(e)
}

// flush reports the repeats; call once the sandbox is closed.
func (a *kernelAggregator) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]string, 0, len(a.order))
	for _, k := range a.order {
		if a.seen[k] > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	t := a.now()
	for _, k := range keys {
		verdict, reason := splitKey(k)
		a.sink.Emit(event.Event{Time: t, Kind: event.KindProcess, Verdict: verdict, Proto: "syscall", Reason: reason + " (repeated)", Count: a.seen[k]})
		a.seen[k] = 0
	}
}

func splitKey(k string) (event.Verdict, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == 0 {
			return event.Verdict(k[:i]), k[i+1:]
		}
	}
	return event.VerdictBlock, k
}
