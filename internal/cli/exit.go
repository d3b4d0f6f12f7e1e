package cli

import (
	"errors"
	"fmt"
)

// Exit codes. They are a public contract: CI systems branch on them.
const (
	// ExitOK: the command succeeded and nothing reached --fail-on.
	ExitOK = 0
	// ExitFindings: scan found something at or above --fail-on; run blocked
	// something in block mode (unless --no-fail-on-block).
	ExitFindings = 1
	// ExitUsage: bad flags, arguments or configuration.
	ExitUsage = 2
	// ExitInternal: buildwall itself failed (I/O error, bug).
	ExitInternal = 3
	// ExitSandbox: run could not create the sandbox; the command did not run.
	ExitSandbox = 125
)

// exitError carries an exit code and an optional message through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit 2).
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

// internalError marks err as buildwall's own failure (exit 3).
func internalError(err error) error { return &exitError{code: ExitInternal, err: err} }

// internalUnlessCoded is internalError, except for an error that already
// carries its exit code (a usage error found deep in a command).
func internalUnlessCoded(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return internalError(err)
}

// withCode returns an error that makes Main exit with code and print nothing
// more when err is nil.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// codeOf maps an error returned by a command to an exit code.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own flag and argument errors.
	return ExitUsage
}
