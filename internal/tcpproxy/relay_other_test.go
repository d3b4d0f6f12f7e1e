//go:build !linux

package tcpproxy

import (
	"errors"
	"syscall"
)

var copyModes []string

var relayMode string

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
