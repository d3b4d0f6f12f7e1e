package event

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Defaults for the bounds in Options.
const (
	// DefaultMaxHeldBytes bounds the memory the events held for the
	// report take (estimated: the Event struct and its strings).
	DefaultMaxHeldBytes = 16 << 20
	// DefaultMaxStreamBytes bounds the events file.
	DefaultMaxStreamBytes = 256 << 20
	// DefaultAggregateWindow is how long repeats of an identical event are
	// added up before they are written as one line with a count.
	DefaultAggregateWindow = time.Second
	// maxAggKeys bounds the distinct events the aggregation remembers;
	// past it, new events are written as they come.
	maxAggKeys = 4096
	// truncatedReserve is kept free at the end of the stream for the
	// truncation record.
	truncatedReserve = 512
	// internedCmdlines bounds the command lines shared between events.
	internedCmdlines = 64
	// chunkLen is how many held events share one allocation.
	chunkLen = 1024
)

// Options configures a Recorder. The zero value is valid: no stream, the
// system clock and the default bounds.
type Options struct {
	// W receives every event as a JSON line (nil: keep in memory only).
	// The Recorder does not close W.
	W io.Writer
	// Now stamps events (nil: time.Now).
	Now func() time.Time
	// MaxHeldBytes bounds the memory of the events kept for Events
	// (estimated); past it, events are streamed and counted (Stats) but
	// not kept. Allowed events are kept only up to three quarters of it,
	// so the last quarter is for what was refused or flagged. 0:
	// DefaultMaxHeldBytes; negative: no bound.
	MaxHeldBytes int64
	// MaxStreamBytes bounds what is written to W; the last line written
	// is then a KindTruncated record, and later events are counted
	// (Stats.NotWritten). 0: DefaultMaxStreamBytes; negative: no bound.
	MaxStreamBytes int64
	// AggregateWindow: repeats of an identical event (every field but
	// Time and Count equal) within the window after its first
	// occurrence are added up into one event with Count set. 0:
	// DefaultAggregateWindow; negative: no aggregation.
	AggregateWindow time.Duration
}

// Tally counts events by kind and verdict, each weighted by its Count.
type Tally struct {
	Events  int `json:"events"`
	DNS     int `json:"dns"`
	Connect int `json:"connect"`
	Packet  int `json:"packet"`
	Allowed int `json:"allowed"`
	Blocked int `json:"blocked"`
	Audited int `json:"audited"`
}

// Add counts e (e.Count times when it is above one).
func (t *Tally) Add(e Event) {
	n := max(e.Count, 1)
	t.Events += n
	switch e.Kind {
	case KindDNS:
		t.DNS += n
	case KindConnect:
		t.Connect += n
	case KindPacket:
		t.Packet += n
	}
	switch e.Verdict {
	case VerdictAllow:
		t.Allowed += n
	case VerdictBlock:
		t.Blocked += n
	case VerdictAudit:
		t.Audited += n
	}
}

// Stats says what the Recorder did to stay within its bounds. Nothing it
// leaves out goes uncounted.
type Stats struct {
	// Emitted counts every occurrence emitted (an event with Count n
	// counts n).
	Emitted Tally
	// Aggregated counts occurrences folded into the Count of an event
	// written later, instead of a line of their own.
	Aggregated int
	// NotHeld counts the events left out of Events (MaxHeldBytes).
	NotHeld Tally
	// NotWritten counts the events not written to the stream after it
	// reached MaxStreamBytes (or failed).
	NotWritten int
	// StreamTruncated is set once the stream reached MaxStreamBytes.
	StreamTruncated bool
	// StreamBytes and StreamSHA256 describe exactly the bytes written to
	// the stream (hex SHA-256; empty without a stream).
	StreamBytes  int64
	StreamSHA256 string
	// Truncated counts events with a field cut to its limit.
	Truncated int
}

// Recorder is a Sink that keeps events in memory for the report and, when
// given a writer, streams each one as a JSON line. Emit only encodes the
// line into a buffer; one writer goroutine writes (and, when w has a
// Flush() error method, flushes) whatever has accumulated streamDelay
// after it is woken, so the caller of Emit — a connection on its way to
// being relayed — never waits for a write syscall, and a line reaches w
// within milliseconds of its Emit (lines emitted meanwhile share one
// write). Close writes everything still buffered before it returns, so a
// finished build loses nothing and a killed one loses at most the lines of
// the last moments.
//
// Every resource is bounded (Options): field lengths (MaxCmdline,
// MaxField), repeats (aggregated into counts), the memory held for the
// report and the size of the stream; what a bound leaves out is counted in
// Stats. It is safe for concurrent use.
type Recorder struct {
	now    func() time.Time
	w      io.Writer
	window time.Duration

	mu        sync.Mutex
	events    [][]Event // held events in chunks of chunkLen: growing never copies
	nheld     int
	held      int64 // estimated bytes of events
	maxHeld   int64
	buf       bytes.Buffer // encoded lines not yet handed to the writer
	line      bytes.Buffer // one encoded line, before the size check
	enc       *json.Encoder
	queued    int64 // bytes accepted into the stream so far
	maxStream int64
	err       error // first write error; later writes are skipped
	closed    bool
	stats     Stats
	agg       map[Event]*aggState
	pruned    time.Time // when a full agg was last pruned
	sweeping  bool      // a sweep of agg is scheduled
	interned  map[string]string
	wake      chan struct{} // capacity 1: lines are waiting in buf
	quit      chan struct{} // closed by Close
	written   chan struct{} // closed when the writer goroutine has finished

	// hash covers the bytes written to w; owned by the writer goroutine
	// until written is closed.
	hash     hash.Hash
	streamed int64
}

// aggState is the aggregation of one distinct event.
type aggState struct {
	first   time.Time // of the event written at once
	pending int       // occurrences since, not written yet
	last    time.Time // of the latest pending occurrence
}

// NewRecorder returns a Recorder with the default bounds that streams JSON
// lines to w (nil: keep in memory only) and stamps events with now (nil:
// time.Now). With a non-nil w, Close must be called to write the last
// lines and stop the writer goroutine.
func NewRecorder(w io.Writer, now func() time.Time) *Recorder {
	return New(Options{W: w, Now: now})
}

// New returns a Recorder configured by o; see NewRecorder.
func New(o Options) *Recorder {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Recorder{now: o.Now, w: o.W, window: o.AggregateWindow, maxHeld: o.MaxHeldBytes, maxStream: o.MaxStreamBytes}
	if r.window == 0 {
		r.window = DefaultAggregateWindow
	}
	if r.maxHeld == 0 {
		r.maxHeld = DefaultMaxHeldBytes
	}
	if r.maxStream == 0 {
		r.maxStream = DefaultMaxStreamBytes
	}
	if r.window > 0 {
		r.agg = map[Event]*aggState{}
	}
	r.interned = map[string]string{}
	if o.W != nil {
		r.enc = json.NewEncoder(&r.line)
		r.enc.SetEscapeHTML(false)
		r.hash = sha256.New()
		r.wake = make(chan struct{}, 1)
		r.quit = make(chan struct{})
		r.written = make(chan struct{})
		go r.writeLoop()
	}
	return r
}

// Emit records e, filling Time from the clock when it is zero and cutting
// fields to their limits. A repeat of an event seen within the aggregation
// window is only counted; it is written (and held) as one event with
// Count set when the window has passed, at the next repeat or at Close.
// Events emitted after Close are kept in memory but not written.
func (r *Recorder) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if e.Kind == KindTruncated {
		return // only the Recorder writes those
	}
	clip(&e)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Emitted.Add(e)
	if e.Truncated != "" {
		r.stats.Truncated++
	}
	if r.agg != nil && !r.closed {
		k := e
		k.Time, k.Count = time.Time{}, 0
		if st, ok := r.agg[k]; ok {
			if e.Time.Sub(st.first) < r.window {
				st.pending += max(e.Count, 1)
				st.last = e.Time
				r.stats.Aggregated += max(e.Count, 1)
				r.scheduleSweep()
				return
			}
			r.flushAgg(k, st)
			st.first = e.Time
		} else {
			if len(r.agg) >= maxAggKeys && e.Time.Sub(r.pruned) >= r.window {
				// Full of events seen once long ago: forget those (at
				// most once a window, so a full map of fresh events
				// costs no scan per event).
				r.pruneAgg(e.Time)
				r.pruned = e.Time
			}
			if len(r.agg) < maxAggKeys {
				r.agg[k] = &aggState{first: e.Time}
			}
		}
	}
	r.record(e)
}

// record holds e (within the memory bound) and queues its line; r.mu is
// held.
func (r *Recorder) record(e Event) {
	if c, ok := r.interned[e.Cmdline]; ok {
		e.Cmdline = c // share the bytes of a command line seen before
	} else if e.Cmdline != "" && len(r.interned) < internedCmdlines {
		r.interned[e.Cmdline] = e.Cmdline
	}
	size := int64(unsafe.Sizeof(e)) + int64(len(e.Name)+len(e.IP)+len(e.SNI)+len(e.Host)+len(e.Reason)+len(e.Truncated))
	if _, shared := r.interned[e.Cmdline]; !shared {
		size += int64(len(e.Cmdline))
	}
	limit := r.maxHeld
	if e.Verdict == VerdictAllow {
		// Allowed traffic may fill three quarters: a flood of it cannot
		// crowd what was refused or flagged out of the report.
		limit -= limit / 4
	}
	if r.maxHeld < 0 || r.held+size <= limit {
		r.held += size
		if len(r.events) == 0 || len(r.events[len(r.events)-1]) == chunkLen {
			r.events = append(r.events, make([]Event, 0, chunkLen))
		}
		last := &r.events[len(r.events)-1]
		*last = append(*last, e)
		r.nheld++
	} else {
		r.stats.NotHeld.Add(e)
	}
	r.stream(e)
}

// stream encodes e into the buffer for the writer; r.mu is held.
func (r *Recorder) stream(e Event) {
	if r.enc == nil || r.closed {
		return
	}
	if r.err != nil || r.stats.StreamTruncated {
		r.stats.NotWritten++
		return
	}
	r.line.Reset()
	if err := r.enc.Encode(e); err != nil {
		r.err = fmt.Errorf("encode event: %w", err)
		r.stats.NotWritten++
		return
	}
	if r.maxStream > 0 && r.queued+int64(r.line.Len()) > r.maxStream-truncatedReserve {
		r.stats.StreamTruncated = true
		r.stats.NotWritten++
		r.line.Reset()
		r.enc.Encode(Event{
			Time: e.Time, Kind: KindTruncated,
			Reason: fmt.Sprintf("events file reached its limit of %d bytes: later events are not written; the run report counts them", r.maxStream),
		})
	}
	r.queued += int64(r.line.Len())
	r.buf.Write(r.line.Bytes())
	select {
	case r.wake <- struct{}{}:
	default: // the writer is already due to run
	}
}

// flushAgg writes st's pending repeats of k as one event; r.mu is held.
func (r *Recorder) flushAgg(k Event, st *aggState) {
	if st.pending == 0 {
		return
	}
	e := k
	e.Time, e.Count = st.last, st.pending
	st.pending = 0
	r.record(e)
}

// scheduleSweep makes sure pending repeats are written about one window
// after they were counted, also when no further event comes; r.mu is
// held.
func (r *Recorder) scheduleSweep() {
	if r.sweeping {
		return
	}
	r.sweeping = true
	time.AfterFunc(r.window, r.sweep)
}

// sweep writes the repeats whose window has passed and forgets events
// not seen within a window.
func (r *Recorder) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweeping = false
	if r.closed {
		return
	}
	if r.pruneAgg(r.now()) {
		r.scheduleSweep()
	}
}

// pruneAgg writes the repeats whose window has passed and forgets the
// events first seen more than a window before now; it reports whether
// repeats are still pending. r.mu is held.
func (r *Recorder) pruneAgg(now time.Time) (pending bool) {
	var due []Event
	for k, st := range r.agg {
		if now.Sub(st.first) < r.window {
			pending = pending || st.pending > 0
			continue
		}
		due = append(due, k)
	}
	for _, k := range r.sortedAgg(due) {
		r.flushAgg(k, r.agg[k])
		delete(r.agg, k)
	}
	return pending
}

// sortedAgg orders keys of r.agg by when their latest repeat happened
// (then by content), so the lines they become are deterministic; r.mu is
// held.
func (r *Recorder) sortedAgg(keys []Event) []Event {
	slices.SortFunc(keys, func(a, b Event) int {
		if c := r.agg[a].last.Compare(r.agg[b].last); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name),
			strings.Compare(a.IP, b.IP), cmp.Compare(a.Port, b.Port), cmp.Compare(a.PID, b.PID),
			strings.Compare(a.Cmdline, b.Cmdline), strings.Compare(a.Reason, b.Reason), strings.Compare(a.SNI, b.SNI),
			strings.Compare(a.Host, b.Host), strings.Compare(a.QType, b.QType), strings.Compare(string(a.Verdict), string(b.Verdict)))
	})
	return keys
}

// clip cuts the fields of e that come from the build to their limits and
// names them in e.Truncated.
func clip(e *Event) {
	var cut []byte
	mark := func(name string) {
		if len(cut) > 0 {
			cut = append(cut, ',')
		}
		cut = append(cut, name...)
	}
	if len(e.Cmdline) > MaxCmdline {
		e.Cmdline = cutString(e.Cmdline, MaxCmdline)
		mark("cmdline")
	}
	for _, f := range []struct {
		name string
		s    *string
	}{{"name", &e.Name}, {"sni", &e.SNI}, {"host", &e.Host}, {"reason", &e.Reason}} {
		if len(*f.s) > MaxField {
			*f.s = cutString(*f.s, MaxField)
			mark(f.name)
		}
	}
	if len(cut) > 0 {
		if e.Truncated != "" {
			cut = append(append([]byte(e.Truncated), ','), cut...)
		}
		e.Truncated = string(cut)
	}
}

// MaxCmdline bounds Event.Cmdline in bytes; MaxField bounds Name, SNI,
// Host and Reason. Longer values are cut (at a UTF-8 boundary) and named
// in Event.Truncated.
const (
	MaxCmdline = 256
	MaxField   = 512
)

// cutString returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence; it copies, so the rest of s can be freed.
func cutString(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return string([]byte(s[:n]))
}

// ClipCmdline returns the part of a command line an event keeps and
// whether it was cut, for readers that want to read no more than that
// (MaxCmdline+1 bytes tell whether there is more).
func ClipCmdline(s string) (string, bool) {
	if len(s) <= MaxCmdline {
		return s, false
	}
	return cutString(s, MaxCmdline), true
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
	n, werr := r.w.Write(out)
	r.hash.Write(out[:max(n, 0)])
	r.streamed += int64(max(n, 0))
	if werr != nil {
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

// Events returns a copy of the events held so far, in the order they were
// recorded (a line with a Count comes when its repeats were added up);
// before Close, repeats still being added up come last, one event each.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, r.nheld)
	for _, c := range r.events {
		out = append(out, c...)
	}
	var keys []Event
	for k, st := range r.agg {
		if st.pending > 0 {
			keys = append(keys, k)
		}
	}
	for _, k := range r.sortedAgg(keys) {
		e := k
		e.Time, e.Count = r.agg[k].last, r.agg[k].pending
		out = append(out, e)
	}
	return out
}

// TakeEvents returns the events held, like Events, and lets the Recorder
// forget them: it copies one chunk at a time, so the events are in memory
// about once, not twice. Call it after Close; later calls return none.
func (r *Recorder) TakeEvents() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, r.nheld)
	for i, c := range r.events {
		out = append(out, c...)
		r.events[i] = nil
	}
	r.events, r.nheld, r.held = nil, 0, 0
	return out
}

// Stats returns the counts of what the bounds left out. StreamBytes and
// StreamSHA256 are final once Close has returned.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	s := r.stats
	r.mu.Unlock()
	if r.written != nil {
		select {
		case <-r.written:
			s.StreamBytes = r.streamed
			s.StreamSHA256 = hex.EncodeToString(r.hash.Sum(nil))
		default:
		}
	}
	return s
}

// Err returns the first error writing the stream seen so far, if any. A
// write error surfaces once the writer goroutine has tried the write; Close
// waits for that.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops streaming: it writes the pending repeats, writes and
// flushes every line emitted before it, waits for the writer goroutine to
// finish and returns the first write error, if any. It does not close the
// underlying writer. Close is idempotent and safe to call concurrently.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if !r.closed {
		keys := make([]Event, 0, len(r.agg))
		for k, st := range r.agg {
			if st.pending > 0 {
				keys = append(keys, k)
			}
		}
		for _, k := range r.sortedAgg(keys) {
			r.flushAgg(k, r.agg[k])
		}
		r.agg = nil
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
