package advisory

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseRecord feeds arbitrary bytes to the OSV record parser: it must
// never panic, and any record it accepts must survive the index format and
// be usable for lookups.
func FuzzParseRecord(f *testing.F) {
	seeds, _ := filepath.Glob("data/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"MAL-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"2.0.post1"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := writeIndex(&buf, &index{records: []*Record{r}}); err != nil {
			t.Fatalf("writeIndex of an accepted record: %v", err)
		}
		idx, err := readIndex(&buf)
		if err != nil {
			t.Fatalf("index of an accepted record does not read back: %v", err)
		}
		got := idx.records[0]
		if got.ID != r.ID || !cmp.Equal(got.Affected, stripAffected(r.Affected), cmpopts.EquateEmpty()) ||
			!cmp.Equal(got.Aliases, r.Aliases, cmpopts.EquateEmpty()) || !cmp.Equal(got.IOCs, r.IOCs, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip changed the record:\n%s", cmp.Diff(r, got))
		}
		db := newDB([]*Record{r}, Status{})
		for _, a := range r.Affected {
			db.Lookup(a.Package.Ecosystem, a.Package.Name, "1.0.0")
			for _, v := range a.Versions {
				if r.Withdrawn.IsZero() && len(db.Lookup(a.Package.Ecosystem, a.Package.Name, v)) == 0 {
					t.Fatalf("listed version %q of %s does not match", v, a.Package.Name)
				}
			}
		}
	})
}

func stripAffected(as []Affected) []Affected {
	out := make([]Affected, len(as))
	for i, a := range as {
		out[i] = Affected{Package: Package{Ecosystem: a.Package.Ecosystem, Name: a.Package.Name}, Versions: a.Versions, Ranges: stripRanges(a.Ranges)}
	}
	return out
}

func stripRanges(rs []Range) []Range {
	if rs == nil {
		return nil
	}
	out := make([]Range, len(rs))
	for i, r := range rs {
		out[i] = Range{Type: r.Type, Events: r.Events}
	}
	return out
}

// FuzzReadIndex feeds arbitrary bytes (gzip'd, and raw) to the index
// reader: it must never panic, and what it accepts must index cleanly.
func FuzzReadIndex(f *testing.F) {
	var buf bytes.Buffer
	if err := writeIndex(&buf, &index{records: Embedded().records}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes(), false)
	f.Add([]byte(indexMagic+"\nupdated\t2026-01-01T00:00:00Z\n.\nR\tMAL-1\t2026-01-01T00:00:00Z\t\ts\nL\tGHSA-1\nA\tnpm\tx\nV\t1\t2\nG\tSEMVER\ti:0\tf:1.5\nE\t1\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			var b bytes.Buffer
			zw := newGzip(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		idx, err := readIndex(bytes.NewReader(data))
		if err != nil {
			return
		}
		db := newDB(mergeRecords(idx.records), Status{})
		for _, r := range idx.records {
			for _, a := range r.Affected {
				db.Lookup(a.Package.Ecosystem, a.Package.Name, "1.0.0")
			}
		}
	})
}
