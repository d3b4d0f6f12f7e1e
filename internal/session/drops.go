package session

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/sandbox"
)

// dropWindow is how long repeated drops to one destination are added up
// before they are reported again.
const dropWindow = time.Second

// dropAggregator turns the sandbox's rejected packets into packet events:
// the first packet to a destination is reported at once (a killed build
// loses nothing seen), repeats (retransmissions, floods) are added up and
// reported at most once per dropWindow and at the end, so the counts of all
// events for a destination add up to the packets dropped.
type dropAggregator struct {
	sink event.Sink
	now  func() time.Time
	// listening reports whether the runner (host network namespace)
	// listens on a loopback TCP port; nil: read /proc/self/net/tcp{,6}.
	listening func(port uint16) bool

	mu    sync.Mutex
	flows map[dropFlow]*dropState
}

type dropFlow struct {
	proto   string
	dst     netip.AddrPort
	refused bool // a connection to the runner's loopback, see sandbox.Drop
}

type dropState struct {
	pending  int
	last     time.Time
	pid      int
	cmdline  string
	reported bool
}

func newDropAggregator(sink event.Sink, now func() time.Time) *dropAggregator {
	return &dropAggregator{sink: sink, now: now, flows: map[dropFlow]*dropState{}}
}

func (a *dropAggregator) runnerListens(dst netip.AddrPort) bool {
	if a.listening != nil {
		return a.listening(dst.Port())
	}
	return hostListens(dst.Port())
}

func (a *dropAggregator) add(d sandbox.Drop) {
	refused := d.Refused
	if refused && !a.runnerListens(d.Dst) {
		// A closed port on the sandbox's own loopback that the runner
		// does not serve either: the build's own business (e.g. waiting
		// for its test server to start), not an attempt to leave.
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := dropFlow{d.Proto, d.Dst, refused}
	st := a.flows[k]
	if st == nil {
		st = &dropState{}
		a.flows[k] = st
	}
	st.pending++
	if st.pid == 0 && d.PID != 0 {
		st.pid, st.cmdline = d.PID, d.Cmdline
	}
	if t := a.now(); !st.reported || t.Sub(st.last) >= dropWindow {
		a.emit(k, st, t)
	}
}

// flush reports what is still pending; call once the sandbox is closed.
func (a *dropAggregator) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]dropFlow, 0, len(a.flows))
	for k, st := range a.flows {
		if st.pending > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].proto != keys[j].proto {
			return keys[i].proto < keys[j].proto
		}
		return keys[i].dst.String() < keys[j].dst.String()
	})
	t := a.now()
	for _, k := range keys {
		a.emit(k, a.flows[k], t)
	}
}

func (a *dropAggregator) emit(k dropFlow, st *dropState, t time.Time) {
	e := event.Event{
		Time: t, Kind: event.KindPacket, Verdict: event.VerdictBlock,
		Proto: k.proto, Reason: policy.ReasonProto,
		PID: st.pid, Cmdline: st.cmdline, Count: st.pending,
	}
	switch {
	case k.refused:
		e.Reason = policy.ReasonLoopback + " (the runner serves this port; the sandbox has its own loopback)"
	case k.dst.Addr().Is6() && k.proto == "tcp":
		e.Reason = "ipv6 is not proxied"
	}
	if k.dst.IsValid() {
		e.IP = k.dst.Addr().String()
		e.Port = k.dst.Port()
	}
	a.sink.Emit(e)
	st.pending, st.last, st.reported = 0, t, true
}

// hostListens reports whether a TCP socket in our (the host's) network
// namespace listens on port on a loopback or wildcard address.
func hostListens(port uint16) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" || !strings.HasSuffix(f[1], want) {
				continue
			}
			addr := strings.TrimSuffix(f[1], want)
			switch addr {
			case "0100007F", "00000000", "00000000000000000000000000000000", "00000000000000000000000001000000":
				return true
			}
		}
	}
	return false
}
