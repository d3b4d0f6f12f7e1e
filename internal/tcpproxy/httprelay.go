package tcpproxy

import (
	"errors"
	"io"
	"net"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// errRefusedRequest ends the client→upstream copy of a plain HTTP relay
// whose later request failed verification in block mode (the relay then
// resets both connections).
var errRefusedRequest = errors.New("request refused")

// verifiedCopy returns the client→upstream copier of a plain HTTP
// connection whose opening verified: every later request head (kept-alive
// or pipelined) is verified by st before a byte of it is forwarded. A
// request that fails is a second "connect" event on the connection, like
// base (the connection's own event) with the verdict and reason of the
// failure: block mode then resets the connection; audit mode records the
// first failure and relays the rest unverified.
//
// This is a user-space copy (the bytes must be read to be verified); TLS
// connections are never relayed through it.
func (p *Proxy) verifiedCopy(e *connEvent, base event.Event, st *httpStream) copyFunc {
	return func(dst, src net.Conn) (int64, error) {
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		buf := *bp
		var out []byte
		var total int64
		for {
			n, rerr := src.Read(buf)
			if n > 0 {
				var verr error
				if st != nil {
					out, verr = st.feed(out[:0], buf[:n])
				} else {
					out = buf[:n]
				}
				if verr != nil {
					if p.requestRefused(e, base, verr) {
						return total, errRefusedRequest
					}
					out = append(out, st.pending...) // audit: the rest goes through
					st = nil
				}
				if len(out) > 0 {
					w, err := dst.Write(out)
					total += int64(w)
					if err != nil {
						return total, err
					}
				}
			}
			switch {
			case errors.Is(rerr, io.EOF):
				return total, nil
			case rerr != nil:
				return total, rerr
			}
		}
	}
}

// requestRefused emits the event of a later request that failed
// verification and reports whether the connection is to be refused.
func (p *Proxy) requestRefused(e *connEvent, ev event.Event, err error) bool {
	ev.Verdict = event.VerdictBlock
	if p.c.Policy.Mode() != policy.ModeBlock {
		ev.Verdict = event.VerdictAudit
	}
	var v *violation
	if errors.As(err, &v) {
		ev.Reason = v.reason
		if v.host != "" {
			ev.Host = v.host
		}
		if v.sni != "" {
			ev.SNI = v.sni
		}
	} else {
		ev.Reason = "cannot verify the server name: malformed http request after the first: " + err.Error()
	}
	<-e.attributed
	ev.PID, ev.Cmdline = e.pid, e.cmdline
	ev.Time = p.c.Now()
	p.c.Sink.Emit(ev)
	return ev.Verdict == event.VerdictBlock
}
