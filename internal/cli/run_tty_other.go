//go:build !linux

package cli

import "os"

// fromTerminal: buildwall run's sandbox is Linux only; elsewhere nothing is
// forwarded to a sandbox and no signal needs to be told apart.
func fromTerminal(os.Signal) bool { return false }
