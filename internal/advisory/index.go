package advisory

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The local index is a gzip'd text file holding only what Lookup and
// Status need. After the magic line come header lines (key TAB value), a
// line ".", then one block per record:
//
//	R <id> <modified> <withdrawn or empty> <summary>
//	L <alias>...                  (optional)
//	I <d|i|u>:<indicator>...      (optional: domains, IPs, URLs)
//	A <ecosystem> <name>          (one per affected package)
//	V <version>...                (optional, after its A)
//	G <type> <i|f|l|m>:<version>...  (one per range, after its A)
//
// fields separated by TAB, and a final "E <record count>" line so a
// truncated file is detected even if the gzip stream were intact. Every
// stored string is free of control characters (ParseRecord guarantees it
// for identifiers; summaries are sanitised when written).
const indexMagic = "buildwall-advisory-index\t1"

// ErrCorruptIndex is returned (wrapped) when a local index cannot be read.
var ErrCorruptIndex = errors.New("corrupt advisory index")

const (
	maxIndexBytes = 1 << 30 // decompressed bound, against a planted gzip bomb (a 500k-record index is ~70 MB)
	maxIndexRatio = 128     // decompressed bytes per compressed byte, likewise
	maxIndexLine  = 1 << 20
	maxSummaryLen = 400
)

type index struct {
	updatedAt time.Time
	source    string
	records   []*Record
}

func writeIndex(w io.Writer, idx *index) error {
	_, err := writeIndexCounted(w, idx)
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeIndexCounted writes idx to w and returns the uncompressed size.
func writeIndexCounted(w io.Writer, idx *index) (int64, error) {
	zw := gzip.NewWriter(w)
	cw := &countingWriter{w: zw}
	bw := bufio.NewWriterSize(cw, 64<<10)
	fmt.Fprintf(bw, "%s\nupdated\t%s\nsource\t%s\ncount\t%d\n.\n", indexMagic,
		idx.updatedAt.UTC().Format(time.RFC3339Nano), sanitize(idx.source, maxIdentLen), len(idx.records))
	for _, r := range idx.records {
		withdrawn := ""
		if !r.Withdrawn.IsZero() {
			withdrawn = r.Withdrawn.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(bw, "R\t%s\t%s\t%s\t%s\n", r.ID, r.Modified.UTC().Format(time.RFC3339Nano), withdrawn, sanitize(r.Summary, maxSummaryLen))
		if len(r.Aliases) > 0 {
			fmt.Fprintf(bw, "L\t%s\n", strings.Join(r.Aliases, "\t"))
		}
		if !r.IOCs.empty() {
			bw.WriteString("I")
			for _, l := range []struct {
				tag  string
				vals []string
			}{{"d:", r.IOCs.Domains}, {"i:", r.IOCs.IPs}, {"u:", r.IOCs.URLs}} {
				for _, v := range l.vals {
					bw.WriteString("\t" + l.tag + v)
				}
			}
			bw.WriteByte('\n')
		}
		for _, a := range r.Affected {
			fmt.Fprintf(bw, "A\t%s\t%s\n", a.Package.Ecosystem, a.Package.Name)
			if len(a.Versions) > 0 {
				fmt.Fprintf(bw, "V\t%s\n", strings.Join(a.Versions, "\t"))
			}
			for _, g := range a.Ranges {
				bw.WriteString("G\t")
				bw.WriteString(g.Type)
				for _, e := range g.Events {
					k, v := e.kind()
					bw.WriteByte('\t')
					bw.WriteByte("?iflm"[k])
					bw.WriteByte(':')
					bw.WriteString(v)
				}
				bw.WriteByte('\n')
			}
		}
	}
	fmt.Fprintf(bw, "E\t%d\n", len(idx.records))
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write index: %w", err)
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("write index: %w", err)
	}
	return cw.n, nil
}

const maxIdentLen = maxStringLen

// sanitize replaces control characters (tabs and newlines included) with
// spaces and bounds the length, so a summary fits on one index line.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// indexLimit is the most an index file of size bytes may inflate to.
func indexLimit(size int64) int64 {
	return min(maxIndexBytes, maxIndexRatio*size+1<<20)
}

// maxIndexFile bounds the index file itself.
const maxIndexFile = 1 << 30

// readIndexFile reads the index at path. Only a regular file is opened (a
// FIFO or device planted in a database directory would block or never
// end), at most maxIndexFile bytes.
func readIndexFile(path string) (*index, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open advisory index: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read advisory index %s: %w: not a regular file", path, ErrCorruptIndex)
	}
	if fi.Size() > maxIndexFile {
		return nil, fmt.Errorf("read advisory index %s: %w: %d bytes, limit %d", path, ErrCorruptIndex, fi.Size(), maxIndexFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open advisory index: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + bytes.MinRead) // read in one go, as os.ReadFile does
	if _, err := b.ReadFrom(io.LimitReader(f, maxIndexFile+1)); err != nil {
		return nil, fmt.Errorf("read advisory index %s: %w", path, err)
	}
	data := b.Bytes()
	if int64(len(data)) > maxIndexFile {
		return nil, fmt.Errorf("read advisory index %s: %w: over %d bytes", path, ErrCorruptIndex, maxIndexFile)
	}
	idx, err := readIndex(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read advisory index %s: %w", path, err)
	}
	return idx, nil
}

// readIndex decodes an index written by writeIndex. Any deviation from the
// format is an error wrapping ErrCorruptIndex. The decompressed text is
// kept as one string that every record's fields point into, and records
// are allocated in one slab: Open of a large index is dominated by
// decompression, not by allocation.
func readIndex(r io.Reader) (*index, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptIndex, err)
	}
	// A gzip stream ends with its uncompressed size mod 2^32: use it as a
	// capacity hint so the text is read without repeated growing.
	var buf bytes.Buffer
	if br, ok := r.(*bytes.Reader); ok && br.Size() >= 4 {
		var tail [4]byte
		if _, err := br.ReadAt(tail[:], br.Size()-4); err == nil {
			// The hint is only trusted within a plausible compression
			// ratio: a damaged file must not make us allocate gigabytes.
			if n := int64(binary.LittleEndian.Uint32(tail[:])); n < maxIndexBytes && n <= 32*br.Size() {
				buf.Grow(int(n) + 1)
			}
		}
	}
	// An index compresses about 5 to 20 times; one planted in a database
	// directory a pull request can write must not inflate to gigabytes.
	limit := int64(maxIndexBytes)
	if br, ok := r.(*bytes.Reader); ok {
		limit = indexLimit(br.Size())
	}
	_, err = buf.ReadFrom(io.LimitReader(zr, limit+1))
	raw := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptIndex, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes uncompressed", ErrCorruptIndex, limit)
	}
	// The text is never written again, so the parsed strings may share it
	// instead of a 30 MB copy.
	p := &indexParser{}
	if len(raw) > 0 {
		p.rest = unsafe.String(&raw[0], len(raw))
	}
	return p.parse()
}

type indexParser struct {
	rest   string
	line   int
	fields []string // reused by split

	// Slabs that records' slices are carved from, so that Open allocates a
	// few large blocks instead of several small slices per record.
	strs   []string
	affs   []Affected
	ranges []Range
	events []Event
}

// carve returns a slice of n elements from *slab with its capacity capped
// at n, so that an append to it reallocates instead of overwriting the
// next carved slice. The slab is replaced by a fresh one when full.
func carve[T any](slab *[]T, n int) []T {
	if len(*slab)+n > cap(*slab) {
		*slab = make([]T, 0, max(n, 4096))
	}
	l := len(*slab)
	*slab = (*slab)[:l+n]
	return (*slab)[l : l+n : l+n]
}

// carveStrings carves a copy of vals (which alias p.fields) from the string slab,
// or appends them to dst when dst already has elements.
func (p *indexParser) carveStrings(dst, vals []string) []string {
	if len(dst) > 0 {
		return append(dst, vals...)
	}
	out := carve(&p.strs, len(vals))
	copy(out, vals)
	return out
}

func (p *indexParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrCorruptIndex, p.line, fmt.Sprintf(format, args...))
}

func (p *indexParser) next() (string, bool) {
	if p.rest == "" {
		return "", false
	}
	i := strings.IndexByte(p.rest, '\n')
	if i < 0 {
		i = len(p.rest) // last line without newline: still a line
	}
	l := p.rest[:i]
	p.rest = p.rest[min(i+1, len(p.rest)):]
	p.line++
	if len(l) > maxIndexLine {
		return "", false
	}
	return l, true
}

// split cuts line at tabs into p.fields, which the next call reuses.
func (p *indexParser) split(line string) []string {
	p.fields = p.fields[:0]
	for {
		i := strings.IndexByte(line, '\t')
		if i < 0 {
			p.fields = append(p.fields, line)
			return p.fields
		}
		p.fields = append(p.fields, line[:i])
		line = line[i+1:]
	}
}

func (p *indexParser) parse() (*index, error) {
	if l, ok := p.next(); !ok || l != indexMagic {
		return nil, p.fail("not a buildwall advisory index")
	}
	idx := &index{}
	var slab []Record
	for {
		l, ok := p.next()
		if !ok {
			return nil, p.fail("unexpected end of header")
		}
		if l == "." {
			break
		}
		k, v, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, p.fail("malformed header line")
		}
		switch k {
		case "updated":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, p.fail("bad updated time: %v", err)
			}
			idx.updatedAt = t
		case "source":
			idx.source = v
		case "count":
			// A hint for allocation only; the end marker is what is checked.
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= len(p.rest)/8 {
				slab = make([]Record, 0, n)
				idx.records = make([]*Record, 0, n)
			}
		} // unknown header keys are ignored: room to grow
	}
	var rec *Record
	var aff *Affected
	finish := func() error {
		if rec == nil {
			return nil
		}
		if err := rec.validate(); err != nil {
			return p.fail("%v", err)
		}
		idx.records = append(idx.records, rec)
		rec, aff = nil, nil
		return nil
	}
	for {
		l, ok := p.next()
		if !ok {
			return nil, p.fail("missing end marker (truncated index)")
		}
		f := p.split(l)
		switch f[0] {
		case "R":
			if err := finish(); err != nil {
				return nil, err
			}
			if len(f) != 5 {
				return nil, p.fail("record line has %d fields, want 5", len(f))
			}
			if len(slab) == cap(slab) {
				slab = make([]Record, 0, 256)
			}
			slab = append(slab, Record{ID: f[1], Summary: f[4]})
			rec = &slab[len(slab)-1]
			var err error
			if rec.Modified, err = time.Parse(time.RFC3339Nano, f[2]); err != nil {
				return nil, p.fail("bad modified time: %v", err)
			}
			if f[3] != "" {
				if rec.Withdrawn, err = time.Parse(time.RFC3339Nano, f[3]); err != nil {
					return nil, p.fail("bad withdrawn time: %v", err)
				}
			}
		case "L":
			if rec == nil || len(rec.Affected) > 0 {
				return nil, p.fail("alias line out of place")
			}
			rec.Aliases = p.carveStrings(rec.Aliases, f[1:])
		case "I":
			if rec == nil || len(rec.Affected) > 0 {
				return nil, p.fail("indicator line out of place")
			}
			for _, v := range f[1:] {
				if len(v) < 3 || v[1] != ':' {
					return nil, p.fail("malformed indicator %q", v)
				}
				switch v[0] {
				case 'd':
					rec.IOCs.Domains = append(rec.IOCs.Domains, v[2:])
				case 'i':
					rec.IOCs.IPs = append(rec.IOCs.IPs, v[2:])
				case 'u':
					rec.IOCs.URLs = append(rec.IOCs.URLs, v[2:])
				default:
					return nil, p.fail("unknown indicator kind %q", v)
				}
			}
		case "A":
			if rec == nil || len(f) != 3 {
				return nil, p.fail("malformed affected line")
			}
			a := Affected{Package: Package{Ecosystem: f[1], Name: f[2]}}
			if rec.Affected == nil {
				rec.Affected = carve(&p.affs, 1)
				rec.Affected[0] = a
			} else {
				rec.Affected = append(rec.Affected, a)
			}
			aff = &rec.Affected[len(rec.Affected)-1]
		case "V":
			if aff == nil {
				return nil, p.fail("versions line outside an affected package")
			}
			aff.Versions = p.carveStrings(aff.Versions, f[1:])
		case "G":
			if aff == nil || len(f) < 2 {
				return nil, p.fail("malformed range line")
			}
			g := Range{Type: f[1], Events: carve(&p.events, len(f)-2)[:0]}
			for _, ev := range f[2:] {
				if len(ev) < 3 || ev[1] != ':' {
					return nil, p.fail("malformed range event %q", ev)
				}
				v := ev[2:]
				switch ev[0] {
				case 'i':
					g.Events = append(g.Events, Event{Introduced: v})
				case 'f':
					g.Events = append(g.Events, Event{Fixed: v})
				case 'l':
					g.Events = append(g.Events, Event{LastAffected: v})
				case 'm':
					g.Events = append(g.Events, Event{Limit: v})
				default:
					return nil, p.fail("unknown range event %q", ev)
				}
			}
			if aff.Ranges == nil {
				aff.Ranges = carve(&p.ranges, 1)
				aff.Ranges[0] = g
			} else {
				aff.Ranges = append(aff.Ranges, g)
			}
		case "E":
			if err := finish(); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(strings.Join(f[1:], "\t"))
			if err != nil || n != len(idx.records) {
				return nil, p.fail("end marker says %q records, read %d", strings.Join(f[1:], "\t"), len(idx.records))
			}
			if p.rest != "" {
				return nil, p.fail("data after end marker")
			}
			return idx, nil
		default:
			return nil, p.fail("unknown line kind %q", f[0])
		}
	}
}

// writeIndexFile replaces path atomically: the index is written to a
// temporary file in the same directory, synced, renamed over path, and the
// directory is synced. An interruption at any point leaves the old index.
func writeIndexFile(path string, idx *index) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".index-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary index: %w", err)
	}
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if !closed {
			_ = tmp.Close() // the write error is the one to report
		}
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}()
	out := &countingWriter{w: tmp}
	bw := bufio.NewWriterSize(out, 256<<10)
	raw, err := writeIndexCounted(bw, idx)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write temporary index: %w", err)
	}
	// Open refuses an index that inflates more than this (a planted gzip
	// bomb); never write one it would refuse.
	if raw > indexLimit(out.n) {
		return fmt.Errorf("write index: %w: %d bytes compress to %d, over %d:1", ErrTooLarge, raw, out.n, maxIndexRatio)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary index: %w", err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary index: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("set index permissions: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace index: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		// Best effort: some file systems do not support syncing a directory.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func newGzip(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }
