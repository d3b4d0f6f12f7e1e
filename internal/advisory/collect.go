package advisory

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Compression bounds for zip entries: an entry may inflate to at most
// maxRatio times its compressed size plus ratioSlack bytes. OSV records
// compress 3 to 20 times; deflate reaches about 1000.
const (
	maxRatio   = 100
	ratioSlack = 4 << 10
)

// collector parses records one at a time and keeps the malicious ones,
// trimmed to what the index stores. Memory is bounded by the largest
// record (the read buffer and its parse) plus the kept records, whose
// estimated size is capped by MaxKeptBytes.
type collector struct {
	opts         *UpdateOptions
	records      []*Record
	buf          []byte // reused for every record
	total        int64  // uncompressed bytes read
	kept         int64  // estimated bytes of the kept records
	entries      int64
	skipped      int
	notMalicious int
	reasons      []string
}

func newCollector(o *UpdateOptions) *collector { return &collector{opts: o} }

// progressEvery is how many entries pass between "read N entries" lines.
const progressEvery = 50000

// add parses one record; data is not retained.
func (c *collector) add(name string, data []byte) error {
	c.entries++
	if c.entries%progressEvery == 0 {
		fmt.Fprintf(c.opts.Progress, "read %d entries\n", c.entries)
	}
	r, err := ParseRecord(data)
	if err != nil {
		c.skipped++
		if len(c.reasons) < maxSkipReasons {
			c.reasons = append(c.reasons, fmt.Sprintf("%q: %s", name, oneLine(err.Error())))
		}
		return nil
	}
	if !r.IsMalicious() {
		c.notMalicious++
		return nil
	}
	r.Details, r.References, r.DatabaseSpecific = "", nil, nil // not indexed
	if len(r.Summary) > maxSummaryLen {
		r.Summary = strings.ToValidUTF8(r.Summary[:maxSummaryLen], "")
	}
	for i := range r.Affected {
		r.Affected[i].DatabaseSpecific = nil
	}
	c.kept += r.cost()
	if c.kept > c.opts.MaxKeptBytes {
		return fmt.Errorf("records: %w: the kept records would take over %d bytes of memory", ErrTooLarge, c.opts.MaxKeptBytes)
	}
	c.records = append(c.records, r)
	return nil
}

// cost estimates the bytes a kept record takes: its strings and the
// headers of its slices and structs.
func (r *Record) cost() int64 {
	const str, rec, aff, rng, ev = 16, 200, 120, 48, 64
	n := int64(rec + len(r.ID) + len(r.Summary))
	strs := func(l []string) {
		for _, s := range l {
			n += int64(str + len(s))
		}
	}
	strs(r.Aliases)
	strs(r.IOCs.Domains)
	strs(r.IOCs.IPs)
	strs(r.IOCs.URLs)
	for _, a := range r.Affected {
		n += int64(aff + len(a.Package.Ecosystem) + len(a.Package.Name) + len(a.Package.Purl))
		strs(a.Versions)
		for _, g := range a.Ranges {
			n += int64(rng + len(g.Type) + len(g.Repo))
			for _, e := range g.Events {
				_, v := e.kind()
				n += int64(ev + len(v))
			}
		}
	}
	return n
}

// account checks an entry's size against the per-record and total limits
// before it is read.
func (c *collector) account(name string, n int64) error {
	if n > c.opts.MaxRecordBytes {
		return fmt.Errorf("record %q: %w: over %d bytes", name, ErrTooLarge, c.opts.MaxRecordBytes)
	}
	c.total += n
	if c.total > c.opts.MaxTotalBytes {
		return fmt.Errorf("records: %w: over %d bytes uncompressed in total", ErrTooLarge, c.opts.MaxTotalBytes)
	}
	return nil
}

func isRecordName(name string) bool {
	return strings.EqualFold(filepath.Ext(name), ".json")
}

func (c *collector) readDir(ctx context.Context, root string) error {
	var files int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !isRecordName(path) {
			return nil
		}
		if files++; files > c.opts.MaxEntries {
			return fmt.Errorf("%w: over %d record files", ErrTooLarge, c.opts.MaxEntries)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := c.account(path, fi.Size()); err != nil {
			return err
		}
		data, err := c.readFile(path)
		if err != nil {
			return err
		}
		return c.add(path, data)
	})
	if err != nil {
		return fmt.Errorf("read records from %s: %w", root, err)
	}
	return nil
}

// readFile reads a record file into c.buf, at most MaxRecordBytes.
func (c *collector) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := c.readAll(f, c.opts.MaxRecordBytes+1)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > c.opts.MaxRecordBytes {
		return nil, fmt.Errorf("record %q: %w: over %d bytes", path, ErrTooLarge, c.opts.MaxRecordBytes)
	}
	return data, nil
}

// readAll reads at most limit bytes of r into the reused buffer.
func (c *collector) readAll(r io.Reader, limit int64) ([]byte, error) {
	c.buf = c.buf[:0]
	lr := io.LimitReader(r, limit)
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := lr.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			return c.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readZip reads the *.json entries of a zip archive one at a time (see
// zipReader). Declared sizes are checked against the limits before an
// entry is inflated, and the inflated bytes against the declared size
// and CRC while reading.
func (c *collector) readZip(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open archive %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open archive %s: %w", path, err)
	}
	if fi.Size() > c.opts.MaxDownloadBytes {
		return fmt.Errorf("archive %s: %w: %d bytes, limit %d", path, ErrTooLarge, fi.Size(), c.opts.MaxDownloadBytes)
	}
	z, err := openZip(f, fi.Size(), c.opts.MaxEntries)
	if err != nil {
		return fmt.Errorf("open archive %s: %w", path, err)
	}
	err = z.each(func(e *zipEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.isDir() || !isRecordName(e.name) {
			return nil
		}
		if e.usize > uint64(c.opts.MaxRecordBytes) {
			return fmt.Errorf("record %q: %w: declares %d bytes, limit %d", e.name, ErrTooLarge, e.usize, c.opts.MaxRecordBytes)
		}
		if e.usize > maxRatio*e.csize+ratioSlack {
			return fmt.Errorf("record %q: %w: %d bytes compressed to %d, over %d:1 (a zip bomb?)", e.name, ErrTooLarge, e.usize, e.csize, maxRatio)
		}
		if err := c.account(e.name, int64(e.usize)); err != nil {
			return err
		}
		rc, err := z.open(e)
		if err != nil {
			return err
		}
		data, err := c.readAll(rc, int64(e.usize)+1)
		rc.Close()
		if err != nil {
			return err
		}
		return c.add(e.name, data)
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	return nil
}
