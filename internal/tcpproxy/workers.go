package tcpproxy

import "sync/atomic"

// workers runs functions on reused goroutines: a function is handed to an
// idle worker, or starts a new one, and a worker that finishes waits for
// the next. A steady stream of connections thus creates no goroutine (and
// grows no stack) per connection. Measured through the sandbox, reusing the
// attribution goroutines took 35-150 us off the added median at load 11-13
// (bench/README.md, relay section).
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only when a worker waits
	idle atomic.Int32
	max  int32
	done <-chan struct{}
}

// newWorkers returns a pool that keeps at most maxIdle idle workers; they
// return when done is closed.
func newWorkers(maxIdle int32, done <-chan struct{}) *workers {
	return &workers{jobs: make(chan func()), max: maxIdle, done: done}
}

// run runs fn on a worker goroutine. The caller accounts for fn (a
// WaitGroup), as it would for a go statement.
func (w *workers) run(fn func()) {
	select {
	case w.jobs <- fn:
	default:
		go w.loop(fn)
	}
}

func (w *workers) loop(fn func()) {
	for {
		fn()
		fn = nil // not kept alive while idle
		if w.idle.Add(1) > w.max {
			w.idle.Add(-1)
			return
		}
		select {
		case fn = <-w.jobs:
			w.idle.Add(-1)
		case <-w.done:
			w.idle.Add(-1)
			return
		}
	}
}
