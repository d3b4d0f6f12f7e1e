package tcpproxy

import (
	"io"
	"net"
	"sync"
	"time"
)

// relay copies bytes between the client and the upstream connection in
// both directions until both directions are finished, then closes both.
// An orderly EOF in one direction is passed on as a half-close
// (CloseWrite), so protocols that shut down their sending side and keep
// reading work. An error in either direction aborts both connections with
// a reset, so neither peer hangs. Nothing is passed to the client before
// gate is closed or, when maxWait is positive, maxWait has passed. The
// client→upstream direction runs in a goroutine started with spawn;
// started (if not nil) is called once, by that goroutine, before it starts
// copying.
func relay(client, upstream net.Conn, gate <-chan struct{}, maxWait time.Duration, spawn func(func()), started func()) {
	relayWith(client, upstream, gate, maxWait, spawn, started, nil)
}

// copyFunc copies src to dst until EOF (nil error) or an error.
type copyFunc func(dst, src net.Conn) (int64, error)

// relayWith is relay with the client→upstream direction copied by toUp
// (nil: copyConn, zero-copy where it can).
func relayWith(client, upstream net.Conn, gate <-chan struct{}, maxWait time.Duration, spawn func(func()), started func(), toUp copyFunc) {
	if toUp == nil {
		toUp = copyConn
	}
	var once sync.Once
	abort := func() {
		once.Do(func() {
			reset(client)
			reset(upstream)
		})
	}
	done := make(chan struct{})
	spawn(func() {
		defer close(done)
		if started != nil {
			// Here, not before the upstream→client direction starts
			// waiting: the answer must not wait for started.
			started()
		}
		halfRelay(upstream, client, abort, toUp)
	})
	waitGate(gate, maxWait)
	halfRelay(client, upstream, abort, copyConn)
	<-done
	once.Do(func() {
		_ = client.Close()
		_ = upstream.Close()
	})
}

// waitGate waits until gate is closed, or at most maxWait when it is
// positive. A closed gate costs no timer.
func waitGate(gate <-chan struct{}, maxWait time.Duration) {
	select {
	case <-gate:
		return
	default:
	}
	if maxWait <= 0 {
		<-gate
		return
	}
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case <-gate:
	case <-t.C:
	}
}

// halfRelay copies src to dst; on EOF it half-closes dst, on error it
// aborts both connections.
func halfRelay(dst, src net.Conn, abort func(), copy copyFunc) {
	if _, err := copy(dst, src); err != nil {
		abort()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			abort()
		}
		return
	}
	// No half-close on this kind of connection: closing it is the only
	// way to pass the EOF on.
	_ = dst.Close()
}

// copyBufPool holds buffers for the portable copy path.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// portableCopy copies with a pooled buffer, as io.CopyBuffer does, but
// without letting io.Copy pick ReaderFrom/WriterTo fast paths.
func portableCopy(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}

// portableCopyN is portableCopy of at most n bytes; it never reads past
// them.
func portableCopyN(dst io.Writer, src io.Reader, n int64) (int64, error) {
	return portableCopy(dst, io.LimitReader(src, n))
}
