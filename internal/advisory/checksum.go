package advisory

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// maxChecksumBytes bounds a published checksum file: one line of
// sha256sum output, or a few for an archive published with others.
const maxChecksumBytes = 64 << 10

// checksumTimeout bounds the fetch of a published checksum.
const checksumTimeout = time.Minute

// parseSHA256 returns s in lower case when it is 64 hex digits.
func parseSHA256(s string) (string, bool) {
	if len(s) != 2*sha256.Size {
		return "", false
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return strings.ToLower(s), true
}

// parseChecksumFile reads the SHA-256 for the archive named base from
// sha256sum output ("HEX  NAME" or "HEX *NAME" lines) or a file holding
// the bare digest. With several lines, the one naming base is used.
func parseChecksumFile(data []byte, base string) (string, bool) {
	var only string
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxChecksumBytes)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		lines++
		sum, ok := parseSHA256(f[0])
		if !ok || len(f) > 2 {
			return "", false
		}
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == base {
			return sum, true
		}
		only = sum
	}
	if sc.Err() != nil || lines != 1 {
		return "", false
	}
	return only, true
}

// publishedChecksum fetches URL.sha256 (the URL with ".sha256" appended to
// its path). It returns the digest and where it came from, or an empty
// digest, after saying so on o.Progress, when nothing is published there
// or it cannot be fetched. A checksum file that is there but malformed is
// an error wrapping ErrChecksumMismatch: a server that publishes one must
// publish a usable one.
func publishedChecksum(parent context.Context, o *UpdateOptions) (sum, from string, err error) {
	u, err := url.Parse(o.From)
	if err != nil {
		return "", "", fmt.Errorf("%w: parse source URL: %w", ErrInvalidOptions, err)
	}
	u.Path += ".sha256"
	u.RawPath = ""
	src := displaySource(u.String())
	// A checksum is a few bytes: a server that trickles it must not hold
	// the update for as long as the archive may take.
	ctx, cancel := context.WithTimeout(parent, checksumTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", "", fmt.Errorf("%w: build checksum request: %w", ErrInvalidOptions, err)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		err = withoutURL(err)
		if parent.Err() != nil {
			return "", "", fmt.Errorf("fetch checksum %s: %w", src, parent.Err())
		}
		if errors.Is(err, ErrInsecureSource) {
			return "", "", fmt.Errorf("fetch checksum %s: %w", src, err)
		}
		fmt.Fprintf(o.Progress, "checksum %s could not be fetched (%s): the archive is not verified; pass --sha256 HEX to require one\n", src, oneLine(err.Error()))
		return "", "", nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		what := "not published"
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
			what = "not available (" + statusText(resp.StatusCode) + ")"
		}
		fmt.Fprintf(o.Progress, "no checksum: %s %s: the archive is not verified; pass --sha256 HEX to require one\n", src, what)
		return "", "", nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxChecksumBytes+1))
	if err != nil {
		return "", "", fmt.Errorf("fetch checksum %s: %w", src, withoutURL(err))
	}
	sum, ok := parseChecksumFile(data, path.Base(u.Path[:len(u.Path)-len(".sha256")]))
	if !ok || len(data) > maxChecksumBytes {
		return "", "", fmt.Errorf("checksum %s: %w: not a SHA-256 digest (want 64 hex digits, optionally followed by the file name)", src, ErrChecksumMismatch)
	}
	return sum, src, nil
}

// verifyLocal checks a local archive against o.SHA256, or against
// FILE.sha256 beside it when that exists.
func verifyLocal(ctx context.Context, o *UpdateOptions, res *UpdateResult) error {
	want, from := o.SHA256, "--sha256"
	if want == "" {
		side := o.From + ".sha256"
		data, err := readBounded(side, maxChecksumBytes)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(o.Progress, "no checksum file %s: the archive is not verified; pass --sha256 HEX to require one\n", side)
		case err != nil:
			return fmt.Errorf("read checksum %s: %w", side, err)
		default:
			sum, ok := parseChecksumFile(data, filepath.Base(o.From))
			if !ok {
				return fmt.Errorf("checksum %s: %w: not a SHA-256 digest (want 64 hex digits, optionally followed by the file name)", side, ErrChecksumMismatch)
			}
			want, from = sum, side
		}
	}
	return verifyFile(ctx, o.From, want, from, res)
}

// readBounded reads a small regular file, at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: over %d bytes", path, ErrTooLarge, max)
	}
	return data, nil
}

// verifyFile hashes the archive at p into res.SHA256 and, when want is
// not empty, compares: a mismatch wraps ErrChecksumMismatch. Hashing
// stops when ctx is done.
func verifyFile(ctx context.Context, p, want, from string, res *UpdateResult) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return fmt.Errorf("hash archive: %w", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	res.SHA256 = got
	if want == "" {
		return nil
	}
	if got != want {
		return fmt.Errorf("archive %s: %w: its SHA-256 is %s, %s says %s", res.Source, ErrChecksumMismatch, got, from, want)
	}
	res.ChecksumFrom = from
	return nil
}

// ctxReader fails its reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// oneLine keeps the first line of s, at most 200 bytes, with control
// characters escaped: error texts from the network and from archive
// entries end up on stderr.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return termsafe.String(s)
}

// statusText renders an HTTP status from its code alone: the reason
// phrase a server sends is its own text and is never printed.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("status %d", code)
}
