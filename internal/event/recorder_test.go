package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// stepClock advances by step on every call.
func stepClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(step); return t }
}

func TestRecorderClipsFields(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, fixedClock())
	huge := strings.Repeat("A", 1<<20)
	r.Emit(Event{Kind: KindConnect, Verdict: VerdictBlock, Cmdline: "node " + huge, SNI: huge, Name: "ok.example"})
	r.Emit(Event{Kind: KindConnect, Verdict: VerdictBlock, Cmdline: strings.Repeat("é", 200)}) // 400 bytes, cut mid-rune?
	r.Close()
	ev := r.Events()
	if len(ev[0].Cmdline) != MaxCmdline || len(ev[0].SNI) != MaxField || ev[0].Truncated != "cmdline,sni" || ev[0].Name != "ok.example" {
		t.Errorf("clipped event: cmdline %d bytes, sni %d bytes, truncated %q", len(ev[0].Cmdline), len(ev[0].SNI), ev[0].Truncated)
	}
	if c := ev[1].Cmdline; len(c) > MaxCmdline || !strings.HasPrefix(strings.Repeat("é", 200), c) || len(c)%2 != 0 {
		t.Errorf("multi-byte cmdline cut inside a rune: %d bytes", len(c))
	}
	if buf.Len() > 4096 {
		t.Errorf("stream of two clipped events is %d bytes", buf.Len())
	}
	if got := r.Stats().Truncated; got != 2 {
		t.Errorf("Stats.Truncated = %d, want 2", got)
	}
}

func TestRecorderAggregatesRepeats(t *testing.T) {
	var buf bytes.Buffer
	r := New(Options{W: &buf, Now: stepClock(time.Millisecond), AggregateWindow: time.Second})
	e := Event{Kind: KindConnect, Verdict: VerdictBlock, Proto: "tcp", IP: "203.0.113.9", Port: 443, Reason: "connection limit", PID: 7, Cmdline: "flood"}
	for range 2500 { // 2.5 s at 1 ms per event: the window passes twice
		r.Emit(e)
	}
	other := e
	other.Port = 80
	r.Emit(other)
	r.Close()
	back, err := ReadJSONLines(&buf)
	if err != nil {
		t.Fatal(err)
	}
	total, lines := 0, 0
	for _, x := range back {
		if x.Port == 443 {
			total += max(x.Count, 1)
			lines++
		}
	}
	if total != 2500 {
		t.Errorf("counts of the repeated event add up to %d, want 2500", total)
	}
	if lines > 6 {
		t.Errorf("%d lines for one repeated event, want a handful", lines)
	}
	if diff := cmp.Diff(back, r.Events()); diff != "" {
		t.Errorf("held events differ from the stream (-stream +held):\n%s", diff)
	}
	st := r.Stats()
	if st.Emitted.Events != 2501 || st.Emitted.Blocked != 2501 || st.Aggregated < 2490 {
		t.Errorf("stats %+v", st)
	}
}

func TestRecorderSweepsPendingRepeats(t *testing.T) {
	w := &syncWriter{writes: make(chan struct{}, 16)}
	r := New(Options{W: w, AggregateWindow: 20 * time.Millisecond})
	defer r.Close()
	e := Event{Kind: KindDNS, Verdict: VerdictBlock, Name: "x.example"}
	r.Emit(e)
	r.Emit(e)
	r.Emit(e)
	deadline := time.After(5 * time.Second)
	for {
		w.mu.Lock()
		got := w.buf.String()
		w.mu.Unlock()
		if strings.Contains(got, `"count":2`) {
			return
		}
		select {
		case <-w.writes:
		case <-deadline:
			t.Fatalf("pending repeats not written without Close; stream:\n%s", got)
		}
	}
}

func TestRecorderMemoryCapCounts(t *testing.T) {
	r := New(Options{MaxHeldBytes: 64 << 10, AggregateWindow: -1})
	for i := range 10000 {
		v := VerdictAllow
		if i%2 == 0 {
			v = VerdictBlock
		}
		r.Emit(Event{Kind: KindDNS, Verdict: v, Name: "n" + strconv.Itoa(i) + ".example"})
	}
	r.Close()
	st := r.Stats()
	held := len(r.Events())
	if held == 0 || held >= 10000 {
		t.Fatalf("held %d events", held)
	}
	if held+st.NotHeld.Events != 10000 || st.NotHeld.DNS != st.NotHeld.Events || st.NotHeld.Blocked+st.NotHeld.Allowed != st.NotHeld.Events {
		t.Errorf("held %d + not held %+v do not add up to 10000", held, st.NotHeld)
	}
}

func TestRecorderStreamCapEndsWithTruncationRecord(t *testing.T) {
	var buf bytes.Buffer
	const limit = 8 << 10
	r := New(Options{W: &buf, MaxStreamBytes: limit, AggregateWindow: -1})
	for i := range 1000 {
		r.Emit(Event{Kind: KindDNS, Verdict: VerdictAllow, Name: "n" + strconv.Itoa(i) + ".example"})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > limit {
		t.Errorf("stream is %d bytes, limit %d", buf.Len(), limit)
	}
	back, err := ReadJSONLines(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	last := back[len(back)-1]
	if last.Kind != KindTruncated || !strings.Contains(last.Reason, "limit") {
		t.Errorf("last line %+v, want a truncation record", last)
	}
	st := r.Stats()
	if !st.StreamTruncated || st.NotWritten+len(back)-1 != 1000 {
		t.Errorf("written %d, not written %d, truncated %v", len(back)-1, st.NotWritten, st.StreamTruncated)
	}
	sum := sha256.Sum256(buf.Bytes())
	if st.StreamSHA256 != hex.EncodeToString(sum[:]) || st.StreamBytes != int64(buf.Len()) {
		t.Errorf("stream hash %s (%d bytes), want %x (%d bytes)", st.StreamSHA256, st.StreamBytes, sum, buf.Len())
	}
	if len(r.Events()) != 1000 {
		t.Errorf("held %d events, want all 1000 (the memory cap is separate)", len(r.Events()))
	}
}

func TestRecorderIgnoresForgedTruncationRecords(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	r.Emit(Event{Kind: KindTruncated})
	r.Close()
	if buf.Len() != 0 || len(r.Events()) != 0 {
		t.Errorf("a truncation record emitted from outside was recorded: %q", buf.String())
	}
}

func TestRecorderMemoryCapKeepsRoomForRefusals(t *testing.T) {
	r := New(Options{MaxHeldBytes: 64 << 10, AggregateWindow: -1})
	for i := range 10000 {
		r.Emit(Event{Kind: KindConnect, Verdict: VerdictAllow, Name: "n" + strconv.Itoa(i) + ".example", Port: 443})
	}
	r.Emit(Event{Kind: KindConnect, Verdict: VerdictBlock, Name: "c2.attacker.example", Port: 443, Reason: "not in policy"})
	r.Close()
	found := false
	for _, e := range r.Events() {
		found = found || e.Name == "c2.attacker.example"
	}
	if !found || r.Stats().NotHeld.Blocked != 0 {
		t.Errorf("a refusal after a flood of allowed events was not held (not held: %+v)", r.Stats().NotHeld)
	}
}

func TestRecorderAggregatesAfterManyDistinctEvents(t *testing.T) {
	r := New(Options{Now: stepClock(time.Millisecond), AggregateWindow: time.Second})
	for i := range 3 * maxAggKeys { // 12 s of distinct events fill the table
		r.Emit(Event{Kind: KindDNS, Verdict: VerdictBlock, Name: "n" + strconv.Itoa(i) + ".example"})
	}
	for range 1000 {
		r.Emit(Event{Kind: KindConnect, Verdict: VerdictBlock, Port: 443, Reason: "connection limit: 3 connections open"})
	}
	r.Close()
	lines := 0
	for _, e := range r.Events() {
		if e.Port == 443 {
			lines++
		}
	}
	if lines > 4 {
		t.Errorf("%d lines for 1000 repeats after the table filled up, want them aggregated", lines)
	}
}
