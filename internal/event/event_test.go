package event

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Millisecond)
	}
}

func TestRecorderStreamsOneLinePerEmit(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, fixedClock())
	r.Emit(Event{Kind: KindDNS, Verdict: VerdictAllow, Name: "registry.example", QType: "A", IP: "198.18.0.1", Rule: "registry.example"})
	explicit := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Emit(Event{Time: explicit, Kind: KindConnect, Verdict: VerdictBlock, Proto: "tcp", IP: "203.0.113.9", Port: 8000, Reason: "not in policy", PID: 42, Cmdline: "node <x>&"})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-27T12:00:00.001Z","kind":"dns","verdict":"allow","name":"registry.example","qtype":"A","ip":"198.18.0.1","rule":"registry.example"}
{"time":"2020-01-02T03:04:05Z","kind":"connect","verdict":"block","proto":"tcp","ip":"203.0.113.9","port":8000,"reason":"not in policy","pid":42,"cmdline":"node <x>&"}
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("stream mismatch (-want +got):\n%s", diff)
	}
	back, err := ReadJSONLines(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Events(), back); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				r.Emit(Event{Kind: KindConnect, Verdict: VerdictAllow, Port: uint16(i*1000 + j)})
			}
		}()
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(r.Events()); got != 800 {
		t.Errorf("Events: %d, want 800", got)
	}
	back, err := ReadJSONLines(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 800 {
		t.Errorf("stream: %d events, want 800", len(back))
	}
	seen := map[uint16]bool{}
	for _, e := range back {
		if e.Time.IsZero() {
			t.Errorf("event without time: %+v", e)
		}
		seen[e.Port] = true
	}
	if len(seen) != 800 {
		t.Errorf("distinct events in stream: %d, want 800", len(seen))
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

type flushWriter struct {
	bytes.Buffer
	flushes int
}

func (f *flushWriter) Flush() error { f.flushes++; return nil }

func TestRecorderFlushesAndReportsErrors(t *testing.T) {
	fw := &flushWriter{}
	r := NewRecorder(fw, fixedClock())
	r.Emit(Event{Kind: KindDNS})
	r.Emit(Event{Kind: KindDNS})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// The two lines may share one write; each write is flushed.
	if got := strings.Count(fw.String(), "\n"); got != 2 {
		t.Errorf("lines written = %d, want 2", got)
	}
	if fw.flushes < 1 || fw.flushes > 2 {
		t.Errorf("flushes = %d, want 1 or 2", fw.flushes)
	}

	r = NewRecorder(failWriter{}, fixedClock())
	r.Emit(Event{Kind: KindDNS, Name: "a.example"})
	r.Emit(Event{Kind: KindDNS, Name: "b.example"})
	r.Emit(Event{Kind: KindDNS, Name: "c.example"})
	if err := r.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close error = %v, want disk full", err)
	}
	if got := len(r.Events()); got != 3 {
		t.Errorf("events kept in memory = %d, want 3", got)
	}
}

func TestRecorderAfterCloseKeepsInMemoryOnly(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, fixedClock())
	r.Close()
	r.Emit(Event{Kind: KindDNS})
	if buf.Len() != 0 {
		t.Errorf("wrote after Close: %q", buf.String())
	}
	if len(r.Events()) != 1 {
		t.Errorf("events = %d, want 1", len(r.Events()))
	}
}

func TestReadJSONLinesErrors(t *testing.T) {
	in := "{\"kind\":\"dns\",\"verdict\":\"allow\",\"time\":\"2026-01-01T00:00:00Z\"}\n\n{\"kind\":\"conn"
	got, err := ReadJSONLines(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v, want an error naming line 3", err)
	}
	if len(got) != 1 || got[0].Kind != KindDNS {
		t.Errorf("events before the bad line = %+v", got)
	}
}

// syncWriter signals every write so a test can wait for the writer
// goroutine without sleeping.
type syncWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan struct{}
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	n, err := w.buf.Write(p)
	w.mu.Unlock()
	w.writes <- struct{}{}
	return n, err
}

func TestRecorderWritesBeforeClose(t *testing.T) {
	w := &syncWriter{writes: make(chan struct{}, 16)}
	r := NewRecorder(w, fixedClock())
	defer r.Close()
	r.Emit(Event{Kind: KindDNS, Verdict: VerdictAllow, Name: "registry.example"})
	<-w.writes // the line is written without Close
	w.mu.Lock()
	got := w.buf.String()
	w.mu.Unlock()
	want := `{"time":"2026-11-27T12:00:00.001Z","kind":"dns","verdict":"allow","name":"registry.example"}` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream before Close mismatch (-want +got):\n%s", diff)
	}
}
