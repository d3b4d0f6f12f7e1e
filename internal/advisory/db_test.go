package advisory

import (
	"bytes"
	stdcmp "cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIndexRoundTrip(t *testing.T) {
	recs := testDB(t).records
	recs[0].Summary = "tabs\tand\nnewlines are flattened"
	recs[1].IOCs = IOCs{Domains: []string{"c2.example"}, IPs: []string{"192.0.2.1"}, URLs: []string{"http://c2.example:8000/x"}}
	idx := &index{updatedAt: fixedNow, source: "https://registry.example/all.zip", records: mergeRecords(recs)}
	var buf bytes.Buffer
	if err := writeIndex(&buf, idx); err != nil {
		t.Fatal(err)
	}
	got, err := readIndex(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range idx.records {
		r.Summary = sanitize(r.Summary, maxSummaryLen)
	}
	if diff := cmp.Diff(idx.records, got.records); diff != "" {
		t.Errorf("records mismatch (-want +got):\n%s", diff)
	}
	if !got.updatedAt.Equal(fixedNow) || got.source != idx.source {
		t.Errorf("header = %v %q, want %v %q", got.updatedAt, got.source, fixedNow, idx.source)
	}
}

func TestReadIndexRejectsDamage(t *testing.T) {
	idx := &index{updatedAt: fixedNow, records: mergeRecords(testDB(t).records)}
	var buf bytes.Buffer
	if err := writeIndex(&buf, idx); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	plain := func(s string) []byte {
		var b bytes.Buffer
		zw := newGzip(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	tests := map[string][]byte{
		"empty":            nil,
		"not_gzip":         []byte("hello"),
		"truncated_gzip":   full[:len(full)/2],
		"wrong_magic":      plain("something else\n.\nE\t0\n"),
		"no_end_marker":    plain(indexMagic + "\n.\nR\tMAL-1\t2026-01-01T00:00:00Z\t\ts\nA\tnpm\tx\nV\t1\n"),
		"wrong_count":      plain(indexMagic + "\n.\nR\tMAL-1\t2026-01-01T00:00:00Z\t\ts\nA\tnpm\tx\nV\t1\nE\t2\n"),
		"record_no_aff":    plain(indexMagic + "\n.\nR\tMAL-1\t2026-01-01T00:00:00Z\t\ts\nE\t1\n"),
		"bad_time":         plain(indexMagic + "\n.\nR\tMAL-1\tyesterday\t\ts\nA\tnpm\tx\nE\t1\n"),
		"versions_first":   plain(indexMagic + "\n.\nV\t1\nE\t0\n"),
		"bad_event":        plain(indexMagic + "\n.\nR\tMAL-1\t2026-01-01T00:00:00Z\t\ts\nA\tnpm\tx\nG\tSEMVER\tz:1\nE\t1\n"),
		"trailing_garbage": plain(indexMagic + "\n.\nE\t0\nR\n"),
		"unknown_kind":     plain(indexMagic + "\n.\nQ\tx\nE\t0\n"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := readIndex(bytes.NewReader(data)); !errors.Is(err, ErrCorruptIndex) {
				t.Errorf("readIndex error = %v, want ErrCorruptIndex", err)
			}
		})
	}
}

func TestOpenMissingIndexIsEmbeddedOnly(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := db.Status()
	if !st.EmbeddedOnly || st.IndexPath != filepath.Join(dir, IndexFile) || st.Records != Embedded().Len() {
		t.Errorf("Status = %+v, want embedded only with %d records", st, Embedded().Len())
	}
}

func TestOpenCorruptIndex(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrCorruptIndex) {
		t.Errorf("Open error = %v, want ErrCorruptIndex", err)
	}
}

func TestStatus(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	writeTree(t, src, corpus(t))
	if _, err := Update(context.Background(), UpdateOptions{Dir: dir, From: src, Now: func() time.Time { return fixedNow }}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	emb := Embedded().Status()
	got := db.Status()
	perEco := map[string]int{}
	for _, e := range emb.Ecosystems {
		perEco[e.Ecosystem] = e.Records
	}
	perEco["npm"] += 3
	perEco["PyPI"] += 1
	want := Status{
		IndexPath:       filepath.Join(dir, IndexFile),
		UpdatedAt:       fixedNow,
		Source:          src,
		Records:         emb.Records + 5 - 1,
		Withdrawn:       1,
		EmbeddedRecords: emb.Records,
		Ecosystems: []EcosystemCount{
			{"GitHub Actions", perEco["GitHub Actions"]}, {"PyPI", perEco["PyPI"]}, {"npm", perEco["npm"]},
		},
		Newest: emb.Newest,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status mismatch (-want +got):\n%s", diff)
	}
	if emb.Newest.IsZero() || !emb.EmbeddedOnly {
		t.Errorf("embedded status = %+v", emb)
	}
}

// BenchmarkLookup looks up 50,000 packages (a large lockfile) in a DB of
// 20,000 records over 20,000 names. "misses" names no record (the common
// case); "hits_1pct" makes 1 in 100 packages a name a record lists with a
// versions list and a SEMVER range that must be evaluated.
func BenchmarkLookup(b *testing.B) {
	var recs []*Record
	for i := range 20000 {
		recs = append(recs, mkRec(fmt.Sprintf("MAL-2026-%d", i), nil,
			aff("npm", fmt.Sprintf("evil-%d", i), []string{"1.0.0", "1.0.1"}, rng("SEMVER", intro("2.0.0"), fixed("2.1.0")))))
	}
	db := newDB(recs, Status{})
	for _, bc := range []struct {
		name     string
		every    int
		wantHits int
	}{{"misses", 0, 0}, {"hits_1pct", 100, 500}} {
		b.Run(bc.name, func(b *testing.B) {
			names := make([]string, 50000)
			for i := range names {
				if bc.every > 0 && i%bc.every == 0 {
					names[i] = fmt.Sprintf("evil-%d", i%20000)
				} else {
					names[i] = fmt.Sprintf("good-package-%d", i)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				hits := 0
				for _, n := range names {
					hits += len(db.Lookup("npm", n, "2.0.5"))
				}
				if hits != bc.wantHits {
					b.Fatalf("hits = %d, want %d", hits, bc.wantHits)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/lookup")
		})
	}
}

// TestLookupConcurrent exercises the documented concurrency safety; run
// with -race.
func TestLookupConcurrent(t *testing.T) {
	db := Embedded()
	done := make(chan int)
	for g := range 8 {
		go func() {
			n := 0
			for i := range 200 {
				n += len(db.Lookup("npm", "axios", []string{"1.14.1", "0.30.4", "1.0.0"}[(g+i)%3]))
				n += len(db.Lookup("GitHub Actions", "tj-actions/changed-files", "v45"))
			}
			done <- n
		}()
	}
	for range 8 {
		if n := <-done; n == 0 {
			t.Error("concurrent lookups found nothing")
		}
	}
}

func TestIOCs(t *testing.T) {
	want := []IOC{
		{"domain", "sfrclak.com", "MAL-2026-2306"},
		{"domain", "sfrclak.com", "MAL-2026-2307"},
		{"ip", "142.11.206.73", "MAL-2026-2307"},
		{"url", "http://sfrclak.com:8000/6202033", "MAL-2026-2307"},
		{"url", "https://models.litellm.cloud/", "MAL-2026-2144"},
	}
	got := Embedded().IOCs()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("Embedded().IOCs() lacks %+v", w)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b IOC) int {
		return stdcmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value), strings.Compare(a.ID, b.ID))
	}) {
		t.Error("IOCs not sorted")
	}
	// Indicators survive an update and the index; withdrawn records' do not.
	src, dir := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string][]byte{
		"MAL-2026-7001.json": osvJSON(t, "MAL-2026-7001", "npm", "x", []string{"1"}, map[string]any{"database_specific": map[string]any{"iocs": map[string]any{"domains": []any{"evil.example", 7, "has space.example"}}}}),
		"MAL-2026-7002.json": osvJSON(t, "MAL-2026-7002", "npm", "y", []string{"1"}, map[string]any{"withdrawn": "2026-04-02T00:00:00Z", "database_specific": map[string]any{"iocs": map[string]any{"ips": []string{"198.51.100.7"}}}}),
	})
	if _, err := Update(context.Background(), UpdateOptions{Dir: dir, From: src}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got = db.IOCs()
	if !slices.Contains(got, IOC{"domain", "evil.example", "MAL-2026-7001"}) {
		t.Errorf("indexed IOC missing: %+v", got)
	}
	for _, i := range got {
		if i.ID == "MAL-2026-7002" || i.Value == "has space.example" {
			t.Errorf("unexpected IOC %+v", i)
		}
	}
}
