package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// ErrNotSupported is returned (wrapped) by Create when this system cannot
// create the sandbox at all: not Linux, or a kernel without user, network or
// PID namespaces or nftables. Use errors.As with *FeatureError for the hint.
var ErrNotSupported = errors.New("sandbox not supported")

// FeatureError says which kernel feature is missing or refused and which
// setting to check. It wraps ErrNotSupported so callers can test for both.
type FeatureError struct {
	Feature string // e.g. "unprivileged user namespaces"
	Setting string // e.g. "sysctl user.max_user_namespaces (is 0)"
	Err     error  // the underlying error, may be nil
}

func (e *FeatureError) Error() string {
	msg := "sandbox needs " + e.Feature
	if e.Setting != "" {
		msg += "; check " + e.Setting
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrNotSupported and the underlying error.
func (e *FeatureError) Unwrap() []error { return []error{ErrNotSupported, e.Err} }

// Config describes the command to run and how the sandbox intercepts it.
type Config struct {
	// Args is the command and its arguments; Args[0] is looked up in the
	// PATH of Env when it has no slash.
	Args []string
	// Dir is the working directory of the command; empty means the caller's.
	Dir string
	// Env is the command's environment, passed unchanged.
	Env []string
	// Stdin, Stdout and Stderr are passed to the command. *os.File values are
	// handed over directly; other readers and writers are copied by os/exec.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// HostPorts are TCP ports on 127.0.0.1 that the command's connections
	// reach through the proxy listener (to the runner's own loopback)
	// instead of the sandbox's private loopback.
	HostPorts []uint16
	// InitArgs are the arguments that make Exe run Init; default
	// {"__sandbox-init"} (the hidden buildwall sub-command).
	InitArgs []string
	// Exe is the binary to re-execute; default /proc/self/exe.
	Exe string
	// OnDrop, if set, is called for every packet the sandbox rejected, as it
	// happens, from one goroutine (calls do not overlap).
	OnDrop func(Drop)
	// SetupTimeout bounds the namespace setup; default 10s.
	SetupTimeout time.Duration

	// Terminal says that the terminal among Stdin, Stdout and Stderr is a
	// pty the caller owns for this run: it becomes the command's
	// controlling terminal. Without it the command has none. Never pass the
	// caller's own terminal.
	Terminal bool
	// Hide are absolute paths of files (the run's report, events and step
	// summary) that the command must not touch: inside the sandbox each is
	// covered by an empty read-only file. Creating the sandbox fails when
	// one cannot be covered.
	Hide []string
	// ReadOnly are absolute paths of directories (e.g. the repository's
	// git directory) the command may read but not change: inside the
	// sandbox each is bind-mounted read-only onto itself, so writes fail
	// with EROFS. Creating the sandbox fails when one cannot be protected.
	ReadOnly []string
	// UnixSockets are the sockets under /run and /var/run the command may
	// reach; the rest of /run and /var/run is an empty tmpfs inside.
	UnixSockets []string
	// OnKernel, if set, is called for every syscall the sandbox refused or
	// observed (see KernelEvent), as it happens, and once from Wait when
	// the sandbox killed a stopped command: it must be safe for concurrent
	// use. It is called after the build's syscall has been answered.
	OnKernel func(KernelEvent)
	// StopGrace is how long the command may stay stopped (SIGSTOP, SIGTSTP,
	// ...) before every process in the sandbox is killed: inside the
	// sandbox nothing but the build could continue it, so it would hang the
	// run; default 5s.
	StopGrace time.Duration
}

// Drop is one packet that the sandbox's firewall rejected (it never left).
type Drop struct {
	Time  time.Time
	Proto string         // "tcp", "udp", "icmp", "icmpv6", "ipv6", or the IP protocol number
	Src   netip.AddrPort // source inside the sandbox (port 0 when none)
	Dst   netip.AddrPort // destination the command tried (port 0 when none)
	// Refused marks a TCP connection to a closed port on the sandbox's
	// own loopback (Dst), refused by the kernel rather than by the
	// firewall; reported because the build may have been reaching for a
	// service on the runner's loopback, which the sandbox does not share.
	Refused bool
	// PID and Cmdline name the process that owned the socket, best effort
	// (zero when it could not be found; e.g. the socket was already closed).
	PID     int
	Cmdline string
}

// KernelEvent is one syscall of the build that the sandbox refused
// (Refused) or observed and let through (a kill aimed at a process group
// or at every process), or a decision the sandbox took about the command
// (e.g. killing a build that stopped itself).
type KernelEvent struct {
	Time    time.Time
	What    string // e.g. "socket(AF_VSOCK)", "io_uring_setup", "kill(0, SIGKILL)"
	Refused bool
	// Fallback: the refusal makes a well-behaved client fall back to an
	// allowed equivalent (MPTCP to TCP).
	Fallback bool
	Errno    string // the errno the build got ("" when let through)
	PID      int    // as the sandbox sees it (0 when unknown)
	Cmdline  string
}

// DropSummary aggregates drops with the same protocol and destination.
type DropSummary struct {
	Proto   string
	Dst     netip.AddrPort
	Count   int
	PID     int // of the first drop with a known process
	Cmdline string
}

func (c *Config) defaults() {
	if len(c.InitArgs) == 0 {
		c.InitArgs = []string{"__sandbox-init"}
	}
	if c.Exe == "" {
		c.Exe = "/proc/self/exe"
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = 10 * time.Second
	}
	if c.StopGrace == 0 {
		c.StopGrace = 5 * time.Second
	}
}

func (c *Config) validate() error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return fmt.Errorf("create sandbox: no command")
	}
	return nil
}
