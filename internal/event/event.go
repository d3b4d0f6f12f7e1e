// Package event defines the closed set of things a `buildwall run` records —
// DNS queries, connections, dropped packets, processes — and the Recorder
// that keeps them in memory and streams them as JSON lines as they happen.
//
// Every interceptor decision becomes exactly one Event. The package imports
// only the standard library.
package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind says what an event describes.
type Kind string

// The kinds of events.
const (
	// KindDNS is one DNS query from the build.
	KindDNS Kind = "dns"
	// KindConnect is one TCP connection attempt from the build.
	KindConnect Kind = "connect"
	// KindPacket is one or more dropped packets (UDP, ICMP, IPv6, raw).
	KindPacket Kind = "packet"
	// KindProcess is a process-level observation (start, exit).
	KindProcess Kind = "process"
)

// Verdict is what happened to the thing an event describes.
type Verdict string

// The verdicts.
const (
	// VerdictAllow: the policy allows it and it was let through.
	VerdictAllow Verdict = "allow"
	// VerdictBlock: it was refused.
	VerdictBlock Verdict = "block"
	// VerdictAudit: block mode would refuse it; audit mode let it through.
	VerdictAudit Verdict = "audit"
)

// Event is one observation. Fields that do not apply are left zero and are
// omitted from JSON. The JSON field names are part of the buildwall.run/v1
// report schema.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Verdict Verdict   `json:"verdict"`
	// Proto is "tcp", "udp", "icmp", "icmpv6", "ipv6", ...
	Proto string `json:"proto,omitempty"`
	// Name is the DNS query name, or the name a connection is bound to.
	Name  string `json:"name,omitempty"`
	QType string `json:"qtype,omitempty"`
	// IP is the destination address; for DNS the answered address.
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
	SNI  string `json:"sni,omitempty"`
	// Host is the HTTP Host header.
	Host string `json:"host,omitempty"`
	// Rule is the policy entry that matched, as written in the policy.
	Rule string `json:"rule,omitempty"`
	// Reason says why something was blocked or flagged, e.g. "not in
	// policy", "sni mismatch", "dns tunnelling suspected: ...".
	Reason  string `json:"reason,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	// Count is the number of packets an aggregated packet event stands for.
	Count int `json:"count,omitempty"`
}

// Sink receives events. Implementations must be safe for concurrent use.
type Sink interface {
	Emit(Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// Recorder is a Sink that keeps every event in memory and, when given a
// writer, streams each one as a JSON line. Emit only encodes the line into
// a buffer; one writer goroutine writes (and, when w has a Flush() error
// method, flushes) whatever has accumulated streamDelay after it is woken,
// so the caller of Emit — a connection on its way to being relayed — never
// waits for a write syscall, and a line reaches w within milliseconds of
// its Emit (lines emitted meanwhile share one write). Close writes everything still
// buffered before it returns, so a finished build loses nothing and a
// killed one loses at most the lines of the last moments. It is safe for
// concurrent use.
type Recorder struct {
	now func() time.Time
	w   io.Writer

	mu      sync.Mutex
	events  []Event
	buf     bytes.Buffer // encoded lines not yet handed to the writer
	enc     *json.Encoder
	err     error // first write error; later writes are skipped
	closed  bool
	wake    chan struct{} // capacity 1: lines are waiting in buf
	quit    chan struct{} // closed by Close
	written chan struct{} // closed when the writer goroutine has finished
}

// NewRecorder returns a Recorder that streams JSON lines to w (nil: keep in
// memory only) and stamps events with now (nil: time.Now). The Recorder does
// not close w; with a non-nil w, Close must be called to write the last
// lines and stop the writer goroutine.
func NewRecorder(w io.Writer, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	r := &Recorder{now: now, w: w}
	if w != nil {
		r.enc = json.NewEncoder(&r.buf)
		r.enc.SetEscapeHTML(false)
		r.wake = make(chan struct{}, 1)
		r.quit = make(chan struct{})
		r.written = make(chan struct{})
		go r.writeLoop()
	}
	return r
}

// Emit records e, filling Time from the clock when it is zero. Events
// emitted after Close are kept in memory but not written.
func (r *Recorder) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.enc == nil || r.err != nil || r.closed {
		return
	}
	if err := r.enc.Encode(e); err != nil {
		r.err = fmt.Errorf("encode event: %w", err)
		return
	}
	select {
	case r.wake <- struct{}{}:
	default: // the writer is already due to run
	}
}

// streamDelay is how long the writer lets lines gather after the first
// one before it writes them. One write per moment instead of one per
// event keeps the writer's wake-up and system call off the path of the
// connections that follow (on the 2-core CI VM, ~13 µs of a sandboxed
// connection's set-up with a write per event); a line still reaches the
// file within a few milliseconds of its Emit.
const streamDelay = 5 * time.Millisecond

// writeLoop writes the buffered lines streamDelay after it is woken, and
// once more after Close, then closes r.written.
func (r *Recorder) writeLoop() {
	defer close(r.written)
	var out []byte
	t := time.NewTimer(streamDelay)
	t.Stop()
	for {
		select {
		case <-r.wake:
		case <-r.quit:
			r.writeBuffered(out)
			return
		}
		t.Reset(streamDelay)
		select {
		case <-t.C:
		case <-r.quit:
			r.writeBuffered(out)
			return
		}
		out = r.writeBuffered(out)
	}
}

// writeBuffered takes the buffered lines, writes and flushes them outside
// the lock, and returns out for reuse.
func (r *Recorder) writeBuffered(out []byte) []byte {
	r.mu.Lock()
	out = append(out[:0], r.buf.Bytes()...)
	r.buf.Reset()
	failed := r.err != nil
	r.mu.Unlock()
	if len(out) == 0 || failed {
		return out
	}
	var err error
	if _, werr := r.w.Write(out); werr != nil {
		err = fmt.Errorf("write event: %w", werr)
	} else if f, ok := r.w.(interface{ Flush() error }); ok {
		if ferr := f.Flush(); ferr != nil {
			err = fmt.Errorf("flush events: %w", ferr)
		}
	}
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.buf.Reset()
		r.mu.Unlock()
	}
	if cap(out) > 1<<20 {
		out = nil // do not keep a burst's buffer for the life of the run
	}
	return out
}

// Events returns a copy of the events recorded so far, in emit order.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Err returns the first error writing the stream seen so far, if any. A
// write error surfaces once the writer goroutine has tried the write; Close
// waits for that.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops streaming: it writes and flushes every line emitted before
// it, waits for the writer goroutine to finish and returns the first write
// error, if any. It does not close the underlying writer. Close is
// idempotent and safe to call concurrently.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		if r.quit != nil {
			close(r.quit)
		}
	}
	r.mu.Unlock()
	if r.written != nil {
		<-r.written
	}
	return r.Err()
}

// ReadJSONLines decodes a JSON-lines event stream as written by Recorder.
// Blank lines are skipped; a malformed line is an error naming its 1-based
// line number. A truncated final line (a build killed mid-write) is an error
// too; callers that want the events before it get them alongside the error.
func ReadJSONLines(rd io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var out []Event
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return out, fmt.Errorf("decode event on line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
