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
// Request heads are read in user space (they must be read to be
// verified); bodies of known length and a verified TLS tunnel are moved
// zero-copy (copyConnN). TLS connections are never relayed through it.
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
			if st == nil {
				continue
			}
			// What follows needs no parsing (the rest of a body or
			// chunk of known length, or a verified TLS tunnel):
			// moved without entering user space, zero-copy.
			switch k := st.bulk(); {
			case k < 0:
				m, err := copyConn(dst, src)
				return total + m, err
			case k >= spliceMin:
				m, err := copyConnN(dst, src, k)
				total += m
				st.skip(m)
				if err != nil || m < k {
					return total, err // m < k: EOF inside the body
				}
			}
		}
	}
}

// spliceMin is the smallest body rest verifiedCopy moves with copyConnN;
// below it, reading it with the next head costs fewer system calls.
const spliceMin = 64 << 10

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
