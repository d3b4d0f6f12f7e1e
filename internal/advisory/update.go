package advisory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// UpdateOptions says where Update reads records from and where the index
// goes. Zero limits mean the defaults below.
type UpdateOptions struct {
	// Dir is the database directory; empty means DefaultDir().
	Dir string
	// From is a local .zip (an OSV ecosystem all.zip export), a local
	// directory tree of *.json OSV records, or an https URL of a zip.
	// Plain http and other schemes are refused (ErrInsecureSource).
	From string
	// SHA256 is the expected SHA-256 of the archive, 64 hex digits; empty
	// means use the checksum published beside it (From + ".sha256"), if
	// any. It cannot be used with a directory.
	SHA256 string
	// Client downloads URLs; nil means a client with connection and
	// response-header timeouts (the body may take as long as ctx allows).
	// Whatever the client, redirects to anything but https are refused.
	Client *http.Client
	// Progress receives human-readable progress; nil means quiet. When it
	// is a terminal the download shows a single updating line.
	Progress io.Writer
	// Now stamps the index; nil means time.Now.
	Now func() time.Time

	// MaxDownloadBytes bounds an archive, downloaded or local (default
	// 2 GiB).
	MaxDownloadBytes int64
	// MaxTotalBytes bounds the uncompressed size of all records read
	// (default 8 GiB). Besides, no zip entry may inflate to more than 100
	// times its compressed size plus 4 KiB: a zip bomb fails with
	// ErrTooLarge before it is inflated.
	MaxTotalBytes int64
	// MaxRecordBytes bounds one record (default 4 MiB).
	MaxRecordBytes int64
	// MaxEntries bounds the entries of an archive, or the *.json files of
	// a directory (default 5,000,000).
	MaxEntries int64
	// MaxKeptBytes bounds the memory the kept records take, as estimated
	// from their strings and lists (default 1 GiB).
	MaxKeptBytes int64
	// Attempts is how many times a download is tried (default 4); Backoff
	// is the first wait between attempts, doubling each time (default 1s).
	Attempts int
	Backoff  time.Duration
}

// UpdateResult reports what Update wrote.
type UpdateResult struct {
	// Path is the index file written.
	Path   string
	Source string
	// Records is the number of malicious-package records in the index
	// (withdrawn ones included; Withdrawn counts them).
	Records, Withdrawn int
	// NotMalicious counts valid OSV records left out because they describe
	// ordinary vulnerabilities, not malicious code.
	NotMalicious int
	// Skipped counts *.json entries that were not usable OSV records;
	// SkipReasons holds the first few reasons.
	Skipped     int
	SkipReasons []string
	// Ecosystems counts the indexed, not withdrawn records per ecosystem.
	Ecosystems []EcosystemCount
	// Downloaded is the archive size in bytes when From is a URL.
	Downloaded int64
	// SHA256 is the archive's SHA-256 (hex) when From is an archive;
	// ChecksumFrom says what it was verified against: "--sha256", or the
	// URL or path of the published checksum file; empty when it was not
	// verified (nothing published).
	SHA256, ChecksumFrom string
	// Conflicts are the records that try to withdraw, narrow or rename a
	// built-in record: Open keeps the built-in records in force.
	Conflicts []Conflict
}

// Errors Update may return (wrapped).
var (
	// ErrNoRecords: the source held no usable malicious-package record.
	ErrNoRecords = errors.New("no usable malicious-package records")
	// ErrTooLarge: a record, the archive or the records in total exceed a
	// size limit (a zip bomb, or the wrong file).
	ErrTooLarge = errors.New("too large")
	// ErrCorruptArchive: the zip cannot be opened or an entry fails to
	// decompress or its checksum does not match.
	ErrCorruptArchive = errors.New("corrupt archive")
	// ErrDownload: the URL could not be fetched completely after all
	// attempts.
	ErrDownload = errors.New("download failed")
	// ErrInsecureSource: From is a plain http URL (or another scheme
	// than https), or a redirect led to one.
	ErrInsecureSource = errors.New("insecure source")
	// ErrInvalidOptions: UpdateOptions that cannot work (a malformed
	// SHA256, SHA256 with a directory).
	ErrInvalidOptions = errors.New("invalid update options")
	// ErrChecksumMismatch: the archive's SHA-256 is not the expected one,
	// or the published checksum file is malformed.
	ErrChecksumMismatch = errors.New("checksum mismatch")
)

const (
	defaultMaxDownload = 2 << 30
	defaultMaxTotal    = 8 << 30
	defaultMaxRecord   = 4 << 20
	defaultMaxEntries  = 5_000_000
	defaultMaxKept     = 1 << 30
	defaultAttempts    = 4
	defaultBackoff     = time.Second
	maxSkipReasons     = 5
)

func (o *UpdateOptions) setDefaults() error {
	if o.Dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return err
		}
		o.Dir = d
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.MaxDownloadBytes <= 0 {
		o.MaxDownloadBytes = defaultMaxDownload
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = defaultMaxTotal
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = defaultMaxRecord
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MaxKeptBytes <= 0 {
		o.MaxKeptBytes = defaultMaxKept
	}
	if o.Attempts <= 0 {
		o.Attempts = defaultAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = defaultBackoff
	}
	if o.Client == nil {
		o.Client = defaultClient()
	}
	o.Client = httpsOnly(o.Client)
	return nil
}

// Update builds a new local index from opts.From and replaces the one in
// opts.Dir. Everything is read and verified before the old index is
// touched: an archive that does not open or whose entries fail their
// checksums, a truncated download, a size limit hit or a source without a
// single usable record is an error and leaves the old index as it was.
// Records that are not OSV are skipped and counted; valid records that are
// not malicious (ordinary vulnerabilities in a full OSV export) are left
// out and counted.
//
// Errors wrap ErrNoRecords, ErrTooLarge, ErrCorruptArchive, ErrDownload,
// or the underlying I/O or context error.
func Update(ctx context.Context, opts UpdateOptions) (UpdateResult, error) {
	if err := opts.setDefaults(); err != nil {
		return UpdateResult{}, err
	}
	if opts.From == "" {
		return UpdateResult{}, errors.New("update advisory database: no source given")
	}
	if err := checkSource(opts.From); err != nil {
		return UpdateResult{}, err
	}
	if opts.SHA256 != "" {
		sum, ok := parseSHA256(opts.SHA256)
		if !ok {
			return UpdateResult{}, fmt.Errorf("%w: --sha256 wants 64 hex digits", ErrInvalidOptions)
		}
		opts.SHA256 = sum
	}
	res := UpdateResult{Path: filepath.Join(opts.Dir, IndexFile), Source: displaySource(opts.From)}
	var fi os.FileInfo
	if !isURL(opts.From) {
		var err error
		if fi, err = os.Stat(opts.From); err != nil {
			return res, fmt.Errorf("open source: %w", err)
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return res, fmt.Errorf("open source: %s is neither a regular file nor a directory", opts.From)
		}
		if !fi.IsDir() && fi.Size() > opts.MaxDownloadBytes {
			return res, fmt.Errorf("archive %s: %w: %d bytes, limit %d", opts.From, ErrTooLarge, fi.Size(), opts.MaxDownloadBytes)
		}
		if fi.IsDir() && opts.SHA256 != "" {
			return res, fmt.Errorf("%w: --sha256 verifies an archive; %s is a directory", ErrInvalidOptions, opts.From)
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return UpdateResult{}, fmt.Errorf("create database directory: %w", err)
	}
	col := newCollector(&opts)
	var err error
	switch {
	case isURL(opts.From):
		res.Downloaded, err = updateFromURL(ctx, &opts, col, &res)
	case fi.IsDir():
		err = col.readDir(ctx, opts.From)
	default:
		if err = verifyLocal(ctx, &opts, &res); err == nil {
			err = col.readZip(ctx, opts.From)
		}
	}
	if err != nil {
		return res, err
	}
	res.Skipped, res.SkipReasons, res.NotMalicious = col.skipped, col.reasons, col.notMalicious
	recs := mergeRecords(col.records)
	if len(recs) == 0 {
		return res, fmt.Errorf("update advisory database from %s: %w (%d entries skipped, %d not malicious)",
			res.Source, ErrNoRecords, res.Skipped, res.NotMalicious)
	}
	st := newDB(recs, Status{}).status
	res.Records, res.Withdrawn, res.Ecosystems = len(recs), st.Withdrawn, st.Ecosystems
	_, res.Conflicts = overlay(Embedded().records, recs)
	idx := &index{updatedAt: opts.Now().UTC(), source: res.Source, records: recs}
	if err := writeIndexFile(res.Path, idx); err != nil {
		return res, err
	}
	fmt.Fprintf(opts.Progress, "indexed %d records (%d skipped, %d not malicious)\n", res.Records, res.Skipped, res.NotMalicious)
	return res, nil
}

// isURL reports whether s is an https URL (the only kind Update fetches).
func isURL(s string) bool {
	return len(s) > len("https://") && strings.EqualFold(s[:len("https://")], "https://")
}

// checkSource refuses sources that would be fetched without TLS: plain
// http and every scheme other than https. A local path never contains
// "://" before its first slash.
func checkSource(s string) error {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, "/\\") || isURL(s) {
		return nil
	}
	if strings.EqualFold(scheme, "http") {
		return fmt.Errorf("%w: refusing plain http source %s: use https, or download the archive and pass its path", ErrInsecureSource, displaySource(s))
	}
	return fmt.Errorf("%w: unsupported source scheme %q: use https or a local path", ErrInsecureSource, scheme)
}

// displaySource drops credentials and query strings from a URL so that
// they are not stored in the index or printed.
func displaySource(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// updateFromURL downloads the zip to a temporary file next to the index,
// verifies its checksum, then reads it like a local zip.
func updateFromURL(ctx context.Context, o *UpdateOptions, col *collector, res *UpdateResult) (int64, error) {
	want, from := o.SHA256, "--sha256"
	if want == "" {
		var err error
		if want, from, err = publishedChecksum(ctx, o); err != nil {
			return 0, err
		}
	}
	tmp, err := os.CreateTemp(o.Dir, ".download-*.zip")
	if err != nil {
		return 0, fmt.Errorf("create download file: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	n, err := download(ctx, o, tmp)
	if err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, fmt.Errorf("write download file: %w", err)
	}
	if err := verifyFile(ctx, tmp.Name(), want, from, res); err != nil {
		return n, err
	}
	return n, col.readZip(ctx, tmp.Name())
}
