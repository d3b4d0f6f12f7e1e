package advisory

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readAllEntries returns name -> content of the archive's entries as
// zipReader sees them.
func readAllEntries(b []byte, maxEntries int64) (map[string]string, error) {
	z, err := openZip(bytes.NewReader(b), int64(len(b)), maxEntries)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	err = z.each(func(e *zipEntry) error {
		rc, err := z.open(e)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		out[e.name] = string(data)
		return err
	})
	return out, err
}

func TestZipReaderAgreesWithArchiveZip(t *testing.T) {
	files := map[string][]byte{
		"a.json":            []byte(`{"x":1}`),
		"dir/":              nil,
		"dir/b.json":        bytes.Repeat([]byte("abc"), 10000),
		"empty.json":        {},
		"unicode-é/c.json":  []byte("é"),
		"stored/plain.json": []byte("stored bytes"),
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"a.json", "dir/", "dir/b.json", "empty.json", "unicode-é/c.json", "stored/plain.json"} {
		method := zip.Deflate
		if strings.HasPrefix(name, "stored/") {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
	}
	zw.SetComment("a comment at the end")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAllEntries(buf.Bytes(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if got[name] != string(want) {
			t.Errorf("%s = %d bytes, want %d", name, len(got[name]), len(want))
		}
	}
	if len(got) != len(files) {
		t.Errorf("%d entries, want %d", len(got), len(files))
	}
}

// TestZipReaderZip64 reads an archive with more entries than a 16-bit
// count holds (archive/zip then writes zip64 end records), as a full OSV
// export has.
func TestZipReaderZip64(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	const n = 1<<16 + 10
	for i := range n {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create("last.json")
	w.Write([]byte("ok"))
	zw.Close()
	got, err := readAllEntries(buf.Bytes(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 || got["last.json"] != "ok" {
		t.Errorf("%d entries, last.json = %q", len(got), got["last.json"])
	}
	if _, err := readAllEntries(buf.Bytes(), n); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxEntries: error = %v, want ErrTooLarge", err)
	}
}

// endRecord returns the offset of the end of central directory record.
func endRecord(t *testing.T, b []byte) int {
	t.Helper()
	i := bytes.LastIndex(b, []byte("PK\x05\x06"))
	if i < 0 {
		t.Fatal("no end record")
	}
	return i
}

func TestZipReaderRejectsLies(t *testing.T) {
	good := zipBytes(t, map[string][]byte{"a.json": []byte(`{"a":1}`), "b.json": []byte(`{"b":2}`), "c.json": []byte(`{"c":3}`)})
	payload := bytes.Repeat([]byte("A"), 1000)
	deflated := func(p []byte) []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		fw.Write(p)
		fw.Close()
		return b.Bytes()
	}(payload)
	raw := func(h *zip.FileHeader, data []byte) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name    string
		archive func() []byte
		wantErr error
		wantMsg string
	}{
		{"fewer_entries_declared", func() []byte {
			b := bytes.Clone(good)
			e := endRecord(t, b)
			binary.LittleEndian.PutUint16(b[e+8:], 2)
			binary.LittleEndian.PutUint16(b[e+10:], 2)
			return b
		}, ErrCorruptArchive, "more than the 2 entries declared"},
		{"more_entries_declared_than_fit", func() []byte {
			b := bytes.Clone(good)
			e := endRecord(t, b)
			binary.LittleEndian.PutUint16(b[e+8:], 60000)
			binary.LittleEndian.PutUint16(b[e+10:], 60000)
			return b
		}, ErrCorruptArchive, "entries declared in a"},
		{"directory_outside_archive", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[endRecord(t, b)+16:], 1<<30)
			return b
		}, ErrCorruptArchive, "outside the archive"},
		{"size_smaller_than_stream", func() []byte {
			return raw(&zip.FileHeader{Name: "x.json", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(payload[:10]), CompressedSize64: uint64(len(deflated)), UncompressedSize64: 10}, deflated)
		}, ErrCorruptArchive, "longer than declared"},
		{"size_larger_than_stream", func() []byte {
			return raw(&zip.FileHeader{Name: "x.json", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(payload), CompressedSize64: uint64(len(deflated)), UncompressedSize64: 2000}, deflated)
		}, ErrCorruptArchive, "shorter than declared"},
		{"crc_mismatch", func() []byte {
			return raw(&zip.FileHeader{Name: "x.json", Method: zip.Deflate, CRC32: 12345, CompressedSize64: uint64(len(deflated)), UncompressedSize64: uint64(len(payload))}, deflated)
		}, ErrCorruptArchive, "checksum mismatch"},
		{"unknown_method", func() []byte {
			return raw(&zip.FileHeader{Name: "x.json", Method: 99, CompressedSize64: 4, UncompressedSize64: 4}, []byte("abcd"))
		}, ErrCorruptArchive, "compression method 99"},
		{"no_end_record", func() []byte { return good[:endRecord(t, good)] }, ErrCorruptArchive, "no end of central directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAllEntries(tt.archive(), 100_000)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Errorf("error = %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

// TestUpdateBoundsHostileArchives: the limits hold in Update, and the old
// index stays.
func TestUpdateBoundsHostileArchives(t *testing.T) {
	rec := func(i int) []byte {
		return osvJSON(t, fmt.Sprintf("MAL-2026-%d", 10000+i), "npm", fmt.Sprintf("pkg-%d", i), []string{"1.0.0"}, nil)
	}
	many := map[string][]byte{}
	for i := range 200 {
		many[fmt.Sprintf("r/%d.json", i)] = rec(i)
	}
	// A record just under the per-record limit made of tiny versions:
	// about 1000:1 when deflated.
	versions := `{"id":"MAL-2026-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"versions":[` +
		strings.Repeat(`"1",`, 900_000) + `"1"]}]}`
	tests := []struct {
		name    string
		files   map[string][]byte
		store   bool // entries stored, not deflated
		opts    UpdateOptions
		wantErr error
		wantMsg string
	}{
		{"ratio_bomb", map[string][]byte{"bomb.json": []byte(versions)}, false, UpdateOptions{}, ErrTooLarge, "over 100:1 (a zip bomb?)"},
		{"stored_huge_record", map[string][]byte{"big.json": []byte(versions + strings.Repeat(" ", 1<<20))}, true, UpdateOptions{}, ErrTooLarge, "declares 4648702 bytes, limit 4194304"},
		{"too_many_entries", many, false, UpdateOptions{MaxEntries: 100}, ErrTooLarge, "200 entries, limit 100"},
		{"kept_records_over_budget", many, false, UpdateOptions{MaxKeptBytes: 10_000}, ErrTooLarge, "kept records would take over 10000 bytes"},
		{"deep_nesting_is_skipped", map[string][]byte{
			"deep.json": []byte(`{"id":"MAL-2026-2","modified":"2026-01-01T00:00:00Z","database_specific":{"iocs":{"domains":` +
				strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + `}},"affected":[{"package":{"ecosystem":"npm","name":"y"},"versions":["1"]}]}`),
		}, true, UpdateOptions{}, ErrNoRecords, "1 entries skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := seedIndex(t, dir)
			zp := filepath.Join(t.TempDir(), "all.zip")
			archive := zipBytes(t, tt.files)
			if tt.store {
				archive = storedZip(t, tt.files)
			}
			if err := os.WriteFile(zp, archive, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := tt.opts
			opts.Dir, opts.From = dir, zp
			_, err := Update(context.Background(), opts)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Fatalf("Update error = %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
			checkOldIndex(t, dir, old)
		})
	}
}

func storedZip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzZipReader: arbitrary bytes never panic the reader, and a read stays
// within the sizes the archive declares.
func FuzzZipReader(f *testing.F) {
	f.Add(zipBytes(f, map[string][]byte{"a.json": []byte(`{"a":1}`), "b/": nil}))
	f.Add(zipBytes(f, map[string][]byte{"x.json": bytes.Repeat([]byte("xy"), 3000)}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := openZip(bytes.NewReader(b), int64(len(b)), 1000)
		if err != nil {
			return
		}
		_ = z.each(func(e *zipEntry) error {
			if e.usize > 1<<20 {
				return nil
			}
			rc, err := z.open(e)
			if err != nil {
				return nil
			}
			defer rc.Close()
			n, _ := io.Copy(io.Discard, rc)
			if uint64(n) > e.usize {
				t.Fatalf("entry %q yielded %d bytes, declared %d", e.name, n, e.usize)
			}
			return nil
		})
	})
}
