package cli

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// interruptGrace is how long a command may take to wind down after
// SIGINT/SIGTERM (the context's cancellation) before it is abandoned:
// together with writing what it has, well under a second.
var interruptGrace = 700 * time.Millisecond

// errInterrupted is the error of a command ended by a signal (exit 3).
var errInterrupted = errors.New("interrupted by a signal before the command finished")

// interruptible runs fn, which must watch ctx, and bounds how long a
// signal takes to end it: when ctx is cancelled fn gets interruptGrace to
// return (a scan writes its partial report meanwhile); after that it is
// abandoned, and the process exits while it still runs. Any error of an
// interrupted command, or its abandonment, is exit 3 with a message that
// says so; a command that finished despite the signal keeps its result.
func interruptible(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(interruptGrace):
			return internalError(fmt.Errorf("%w (still running %v later; abandoned)", errInterrupted, interruptGrace))
		}
	}
	if err == nil || ctx.Err() == nil || errors.Is(err, errInterrupted) {
		return err
	}
	return internalError(fmt.Errorf("%w: %w", errInterrupted, err))
}
