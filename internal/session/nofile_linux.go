package session

import "syscall"

// maxCommandNoFile caps the command's soft limit: tools that walk every
// possible descriptor (closing them before exec) slow down with a limit
// in the millions, and a build needs far fewer.
const maxCommandNoFile = 65536

// splitNoFile prepares RLIMIT_NOFILE for a run: the soft limit becomes
// cmd (half the hard limit, at most maxCommandNoFile, at least 256 or the
// hard limit if lower), so that the sandbox's init and the command it
// starts inherit it. (Go raises its own soft limit to the hard limit at
// start-up and would hand its children the original one; which one that
// was cannot be read back, so cmd replaces it.) The
// returned raise, called once the init has started, sets buildwall's own
// soft limit to the hard limit and returns it. A build cannot use up
// buildwall's descriptors through its own limit (limits are per
// process); the proxy's connection cap, sized from buildwall's limit,
// bounds what the build's connections cost buildwall.
func splitNoFile() (cmd uint64, raise func() (ours uint64)) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, func() uint64 { return 0 }
	}
	cmd = max(min(lim.Max/2, maxCommandNoFile), min(256, lim.Max))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: cmd, Max: lim.Max}); err != nil {
		return lim.Cur, func() uint64 { return lim.Cur }
	}
	return cmd, func() uint64 {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim.Max, Max: lim.Max}); err != nil {
			return cmd
		}
		return lim.Max
	}
}
