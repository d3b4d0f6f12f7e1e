package advisory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func defaultClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 60 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: tr}
}

// httpsOnly returns a copy of c that refuses redirects to anything but
// https (Go's client follows an https to http redirect by default), then
// applies c's own redirect policy, or the default limit of 10.
func httpsOnly(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect to %s", ErrInsecureSource, displaySource(req.URL.String()))
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// permanentError marks a download failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// download fetches o.From into dst, retrying transient failures (network
// errors, truncated bodies, 408/429/5xx answers) with exponential backoff.
// It returns the number of bytes of the successful attempt.
func download(ctx context.Context, o *UpdateOptions, dst *os.File) (int64, error) {
	src := displaySource(o.From)
	delay := o.Backoff
	var last error
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if attempt > 1 {
			fmt.Fprintf(o.Progress, "attempt %d of %d failed: %s; retrying in %s\n", attempt-1, o.Attempts, oneLine(last.Error()), delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, fmt.Errorf("download %s: %w", src, ctx.Err())
			case <-t.C:
			}
			delay *= 2
		}
		if _, err := dst.Seek(0, io.SeekStart); err != nil {
			return 0, fmt.Errorf("rewind download file: %w", err)
		}
		if err := dst.Truncate(0); err != nil {
			return 0, fmt.Errorf("truncate download file: %w", err)
		}
		n, err := downloadOnce(ctx, o, dst)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("download %s: %w", src, ctx.Err())
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return 0, fmt.Errorf("download %s: %w: %w", src, ErrDownload, perm.err)
		}
		last = err
	}
	return 0, fmt.Errorf("download %s: %w after %d attempts: %w", src, ErrDownload, o.Attempts, last)
}

func downloadOnce(ctx context.Context, o *UpdateOptions, dst io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.From, nil)
	if err != nil {
		return 0, &permanentError{fmt.Errorf("build request: %w", err)}
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		err = withoutURL(err)
		var cert *tls.CertificateVerificationError
		if errors.Is(err, ErrInsecureSource) || errors.As(err, &cert) {
			return 0, &permanentError{err} // retrying cannot fix either
		}
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return 0, fmt.Errorf("server answered %s", statusText(resp.StatusCode))
	default:
		return 0, &permanentError{fmt.Errorf("server answered %s", statusText(resp.StatusCode))}
	}
	total := resp.ContentLength
	if total > o.MaxDownloadBytes {
		return 0, &permanentError{fmt.Errorf("archive of %d bytes: %w (limit %d)", total, ErrTooLarge, o.MaxDownloadBytes)}
	}
	p := newProgress(o.Progress, isTerminal(o.Progress), total)
	n, err := io.Copy(io.MultiWriter(dst, p), io.LimitReader(resp.Body, o.MaxDownloadBytes+1))
	p.done(err == nil && (total < 0 || n == total))
	if err != nil {
		return n, fmt.Errorf("read body after %d bytes: %w", n, err)
	}
	if n > o.MaxDownloadBytes {
		return n, &permanentError{fmt.Errorf("archive: %w: over %d bytes", ErrTooLarge, o.MaxDownloadBytes)}
	}
	if total >= 0 && n != total {
		return n, fmt.Errorf("truncated download: received %d of %d bytes", n, total)
	}
	return n, nil
}

// withoutURL drops the request URL (which may carry credentials in its
// query) from a client error; callers name the source themselves.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress reports download progress: on a terminal one line redrawn with
// "\r" whenever the shown figure changes; otherwise a plain line every 10%
// (or every 16 MiB when the size is unknown), so logs stay short.
type progress struct {
	w     io.Writer
	term  bool
	total int64
	n     int64
	shown int64 // last reported step
	last  int64 // byte count last printed
}

const unknownSizeStep = 16 << 20

func newProgress(w io.Writer, term bool, total int64) *progress {
	p := &progress{w: w, term: term, total: total, shown: -1, last: -1}
	if total >= 0 {
		fmt.Fprintf(w, "downloading %s\n", formatBytes(total))
	} else {
		fmt.Fprintf(w, "downloading (size unknown)\n")
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	var step int64
	switch {
	case p.term && p.total > 0:
		step = p.n * 100 / p.total
	case p.term:
		step = p.n >> 20
	case p.total > 0:
		step = p.n * 10 / p.total
	default:
		step = p.n / unknownSizeStep
	}
	if step != p.shown {
		p.shown = step
		if p.term || step > 0 {
			p.print()
		}
	}
	return len(b), nil
}

func (p *progress) print() {
	p.last = p.n
	line := formatBytes(p.n)
	if p.total > 0 {
		line = fmt.Sprintf("%s / %s (%d%%)", line, formatBytes(p.total), p.n*100/p.total)
	}
	if p.term {
		fmt.Fprintf(p.w, "\r\x1b[Kdownloaded %s", line)
	} else {
		fmt.Fprintf(p.w, "downloaded %s\n", line)
	}
}

// done ends the progress display; complete says whether the whole body
// arrived.
func (p *progress) done(complete bool) {
	if p.term {
		fmt.Fprintln(p.w)
		return
	}
	if p.n != p.last || (!complete && p.n == 0) {
		p.print()
	}
}

// formatBytes renders n in binary units ("12.3 MiB").
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
