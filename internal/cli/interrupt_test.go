package cli

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestInterruptible(t *testing.T) {
	old := interruptGrace
	interruptGrace = 50 * time.Millisecond
	defer func() { interruptGrace = old }()
	block := make(chan struct{})
	defer close(block)
	tests := []struct {
		name     string
		fn       func(ctx context.Context) error
		wantCode int
	}{
		{"finished", func(context.Context) error { return nil }, ExitOK},
		{"stuck", func(context.Context) error { <-block; return nil }, ExitInternal},
		{"stops_with_ctx_error", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, ExitInternal},
		{"findings_after_signal", func(ctx context.Context) error { <-ctx.Done(); return withCode(ExitFindings, nil) }, ExitInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tt.wantCode != ExitOK {
				time.AfterFunc(10*time.Millisecond, cancel)
			} else {
				defer cancel()
			}
			start := time.Now()
			err := interruptible(ctx, func() error { return tt.fn(ctx) })
			if took := time.Since(start); took > time.Second {
				t.Errorf("returned after %v", took)
			}
			if got := codeOf(err); got != tt.wantCode {
				t.Errorf("exit code %d (%v), want %d", got, err, tt.wantCode)
			}
			if tt.wantCode == ExitInternal && !errors.Is(err, errInterrupted) {
				t.Errorf("error %v does not say the command was interrupted", err)
			}
		})
	}
}
