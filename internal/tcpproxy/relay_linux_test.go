//go:build linux

package tcpproxy

import (
	"errors"
	"syscall"
)

var copyModes = []string{relaySplice, relayStdlib, relayCopy}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
