package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// maxBody bounds every response body read (manifests, API answers, files).
const maxBody = 8 << 20

// StatusError is a non-success HTTP answer.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
	// Header is the answer's header (for challenges and Retry-After).
	Header http.Header
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ErrNotFound is wrapped by every error that means "no such ref, image,
// repository or file" (as opposed to a failure to ask). It also matches
// fs.ErrNotExist, so that callers that only know the standard library
// (cicheck's Fetcher contract) can test for it.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string { return "not found" }

// Is makes errors.Is(ErrNotFound, fs.ErrNotExist) true.
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

func notFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// retryable reports whether an answer is worth asking again.
func retryable(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// do sends the request built by newReq (called once per attempt, so bodies
// and headers are fresh), retrying network errors, 5xx and 429 up to
// r.opts.Retries times with exponential backoff, through c. A 2xx answer comes back
// with its body read (bounded); anything else becomes a *StatusError.
func (r *Resolver) do(ctx context.Context, c *http.Client, newReq func(ctx context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
	var lastErr error
	delay := r.opts.Backoff
	for attempt := 0; ; attempt++ {
		resp, body, wait, err := r.once(ctx, c, newReq)
		if err == nil {
			return resp, body, nil
		}
		lastErr = err
		var se *StatusError
		if errors.As(err, &se) && !retryable(se.Code) || ctx.Err() != nil || attempt >= r.opts.Retries {
			if attempt > 0 {
				return nil, nil, fmt.Errorf("%w (after %d attempts)", lastErr, attempt+1)
			}
			return nil, nil, lastErr
		}
		if wait < 0 { // no Retry-After
			wait = delay
		}
		wait = max(0, min(wait, r.opts.MaxBackoff))
		delay *= 2
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%w (gave up waiting to retry: %w)", lastErr, ctx.Err())
		case <-t.C:
		}
	}
}

// once makes one attempt with the per-request timeout; wait is the
// server's Retry-After (possibly <= 0: retry now), -1 when absent.
func (r *Resolver) once(ctx context.Context, c *http.Client, newReq func(ctx context.Context) (*http.Request, error)) (resp *http.Response, body []byte, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := newReq(ctx)
	if err != nil {
		return nil, nil, -1, err
	}
	resp, err = c.Do(req)
	if err != nil {
		return nil, nil, -1, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, -1, fmt.Errorf("read %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		wait = -1
		se := &StatusError{Method: req.Method, URL: req.URL.Redacted(), Code: resp.StatusCode, Body: snippet(body), Header: resp.Header}
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, perr := strconv.Atoi(s); perr == nil && n >= 0 {
				wait = time.Duration(n) * time.Second
			} else if t, perr := http.ParseTime(s); perr == nil {
				wait = max(0, time.Until(t))
			}
		}
		return resp, body, wait, se
	}
	return resp, body, -1, nil
}

// snippet is the start of an error body (or any other string a server
// sent) for messages: its first line, at most 200 bytes, control characters
// escaped (termsafe), so that a hostile server cannot inject lines, escape
// sequences or workflow commands into a CI log.
func snippet(b []byte) string {
	const n = 200
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	cut := len(b) > n
	if cut {
		b = b[:n]
		for len(b) > 0 && !utf8.Valid(b) && len(b) > n-utf8.UTFMax {
			b = b[:len(b)-1]
		}
	}
	s := termsafe.String(string(b))
	if cut {
		s += "…"
	}
	return s
}

// clip is snippet for strings.
func clip(s string) string { return snippet([]byte(s)) }
