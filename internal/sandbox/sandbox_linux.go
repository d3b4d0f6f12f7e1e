package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// identityMapSize is how many ids root's identity uid and gid maps cover:
// all valid ids (0 to 2^32-2; 2^32-1 is the invalid id -1) where int has 64
// bits. SysProcIDMap counts in int, so on 32-bit platforms the map stops at
// 2^31-2 and files owned by larger ids show as the overflow id inside.
const identityMapSize = int(min(1<<32-1, math.MaxInt))

// Sandbox is a set of namespaces with an init process waiting to run (or
// running) one command. Methods are safe for concurrent use.
type Sandbox struct {
	cfg    Config
	init   *exec.Cmd
	ctrl   *net.UnixConn
	proxy  net.Listener
	dnsUDP net.PacketConn
	dnsTCP net.Listener
	nflog  *os.File
	// notify is the seccomp listener, once the command runs (nil when the
	// kernel has none); superviseDone is closed when its reader ends.
	notify        *os.File
	superviseDone chan struct{}
	warnings      []string

	pidNS  uint64 // inode of the sandbox's PID namespace
	netNS  uint64 // inode of the sandbox's network namespace
	attrib *attributor
	// kern is the kernel's record of who connected, once loaded (as root;
	// nil otherwise); kernDone is closed when loading has ended.
	kern     atomic.Pointer[connPIDs]
	kernDone chan struct{}
	kernErr  error // why it was not loaded; read after kernDone
	// kernLate is set when the command started before the record loaded.
	kernLate atomic.Bool

	// sendMu orders the parent's messages to the init: start, then the
	// signals (pending holds those sent before start).
	sendMu  sync.Mutex
	pending []syscall.Signal

	mu       sync.Mutex
	closing  bool
	started  bool
	waited   bool
	exitCode int
	waitErr  error
	drops    map[dropKey]*DropSummary
	nflogEnd chan struct{}
	initDone chan struct{} // closed when the init has exited and its output is copied

	closeOnce sync.Once
	closeErr  error
}

type dropKey struct {
	proto string
	dst   string
}

// Create builds the sandbox: it starts the init in new user, network, mount
// and PID namespaces, waits until the firewall is in place and returns with
// the interception listeners ready. The command has not started yet; call
// Start. The caller must Close the sandbox.
//
// Errors wrap ErrNotSupported (and are *FeatureError naming the kernel
// feature and the setting to check) when the namespaces or the firewall
// cannot be created.
func Create(ctx context.Context, c Config) (*Sandbox, error) {
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := preflight(); err != nil {
		return nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create control socket: %w", err)
	}
	parentEnd := os.NewFile(uintptr(pair[0]), "sandbox-ctrl")
	childEnd := os.NewFile(uintptr(pair[1]), "sandbox-ctrl-child")
	defer childEnd.Close()
	fc, err := net.FileConn(parentEnd)
	parentEnd.Close()
	if err != nil {
		childEnd.Close()
		return nil, fmt.Errorf("create control socket: %w", err)
	}
	ctrl := fc.(*net.UnixConn)

	uid, gid := os.Getuid(), os.Getgid()
	attr := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWPID,
		// The init keeps the capabilities it needs to set the sandbox up
		// even when it is not root in the new user namespace.
		AmbientCaps: []uintptr{unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP},
		Pdeathsig:   unix.SIGKILL,
	}
	if uid == 0 {
		// Root keeps its view of every file owner: identity-map all ids.
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: identityMapSize}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: identityMapSize}}
		attr.GidMappingsEnableSetgroups = true
	} else {
		// Rootless: the only id we may map is our own; the command sees
		// its usual uid and gid.
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	}
	cmd := &exec.Cmd{
		Path:        c.Exe,
		Args:        append([]string{"buildwall"}, c.InitArgs...),
		Stdin:       c.Stdin,
		Stdout:      c.Stdout,
		Stderr:      c.Stderr,
		ExtraFiles:  []*os.File{childEnd},
		SysProcAttr: attr,
		Env:         initEnv(os.Environ()),
	}
	if err := cmd.Start(); err != nil {
		ctrl.Close()
		return nil, explainStartError(err)
	}
	s := &Sandbox{cfg: c, init: cmd, ctrl: ctrl, drops: map[dropKey]*DropSummary{}, nflogEnd: make(chan struct{}), initDone: make(chan struct{}), kernDone: make(chan struct{}), superviseDone: make(chan struct{})}
	// Loaded beside the set-up, used once loaded; the command makes no
	// connection before Start.
	go s.loadKern()
	// The one place that waits for the init (and, through exec.Cmd, for
	// the goroutines copying its output).
	go func() {
		cmd.Wait()
		close(s.initDone)
	}()
	if err := s.setup(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// initEnv is the init's environment: buildwall's own, without
// BUILDWALL_CPUPROFILE, so that profiling `buildwall run` does not make the
// init truncate and overwrite the parent's profile file with its own. (The
// command's environment is Config.Env, sent separately.)
func initEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "BUILDWALL_CPUPROFILE=") {
			out = append(out, kv)
		}
	}
	return out
}

func (s *Sandbox) setup(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.SetupTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.ctrl.SetDeadline(deadline)
	defer s.ctrl.SetDeadline(time.Time{})
	dir := s.cfg.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	env := s.cfg.Env
	if env == nil {
		env = os.Environ()
	}
	if err := send(s.ctrl, message{
		Type: msgSetup, Args: s.cfg.Args, Dir: dir, Env: env, HostPorts: s.cfg.HostPorts,
		Terminal: s.cfg.Terminal, Hide: s.cfg.Hide, ReadOnly: s.cfg.ReadOnly, UnixSockets: s.cfg.UnixSockets, StopGrace: int64(s.cfg.StopGrace),
	}); err != nil {
		return fmt.Errorf("set up sandbox: %w", err)
	}
	m, files, err := recv(s.ctrl)
	if err != nil {
		return fmt.Errorf("set up sandbox: init exited early: %w", err)
	}
	if m.Type == msgError {
		closeAll(files)
		return initError(m)
	}
	if m.Type != msgReady || len(files) != 5 {
		closeAll(files)
		return fmt.Errorf("set up sandbox: unexpected %q message with %d fds", m.Type, len(files))
	}
	s.warnings = m.Warnings
	defer files[0].Close()
	defer files[1].Close()
	defer files[2].Close()
	s.nflog = files[3]
	diag, err := newSockDiag(files[4])
	if err != nil {
		return fmt.Errorf("set up sandbox: %w", err)
	}
	s.attrib = &attributor{initPID: s.init.Process.Pid, diag: diag, kern: &s.kern} // closed by Close from here on
	if s.proxy, err = net.FileListener(files[0]); err != nil {
		return fmt.Errorf("set up sandbox: proxy listener: %w", err)
	}
	if s.dnsUDP, err = net.FilePacketConn(files[1]); err != nil {
		return fmt.Errorf("set up sandbox: dns listener: %w", err)
	}
	if s.dnsTCP, err = net.FileListener(files[2]); err != nil {
		return fmt.Errorf("set up sandbox: dns listener: %w", err)
	}
	pid := s.init.Process.Pid
	if s.pidNS, err = nsInode(pid, "pid"); err != nil {
		return fmt.Errorf("set up sandbox: %w", err)
	}
	if s.netNS, err = nsInode(pid, "net"); err != nil {
		return fmt.Errorf("set up sandbox: %w", err)
	}
	s.attrib.pidNS = s.pidNS
	go s.readDrops()
	return nil
}

// kernWait bounds how long Start waits for the kernel's connection record.
const kernWait = 250 * time.Millisecond

// loadKern loads the kernel's connection record where buildwall may (as
// root); attribution falls back to /proc without it.
func (s *Sandbox) loadKern() {
	defer close(s.kernDone)
	if os.Geteuid() != 0 {
		s.kernErr = errors.New("not root")
		return
	}
	k, err := loadConnPIDs()
	if err != nil {
		s.kernErr = err
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		k.close()
		return
	}
	s.kern.Store(k)
}

func initError(m message) error {
	if m.Feature != "" {
		return &FeatureError{Feature: m.Feature, Setting: m.Setting, Err: errors.New(m.Err)}
	}
	return fmt.Errorf("set up sandbox: %s", m.Err)
}

func (s *Sandbox) readDrops() {
	defer close(s.nflogEnd)
	readNflog(s.nflog, func(d Drop) {
		d.PID, d.Cmdline = s.attrib.attribute(d.Proto, d.Src)
		if d.Refused {
			if s.cfg.OnDrop != nil {
				s.cfg.OnDrop(d)
			}
			return
		}
		s.mu.Lock()
		k := dropKey{d.Proto, d.Dst.String()}
		sum := s.drops[k]
		if sum == nil {
			sum = &DropSummary{Proto: d.Proto, Dst: d.Dst}
			s.drops[k] = sum
		}
		sum.Count++
		if sum.PID == 0 && d.PID != 0 {
			sum.PID, sum.Cmdline = d.PID, d.Cmdline
		}
		s.mu.Unlock()
		if s.cfg.OnDrop != nil {
			s.cfg.OnDrop(d)
		}
	})
}

// ProxyListener accepts every TCP connection the command makes to a
// non-loopback address or to a host port. The listener lives in the
// sandbox's network namespace; accepted connections carry the original
// destination (SO_ORIGINAL_DST). Close closes it.
func (s *Sandbox) ProxyListener() net.Listener { return s.proxy }

// DNSConn receives every DNS query over UDP (port 53, any address).
func (s *Sandbox) DNSConn() net.PacketConn { return s.dnsUDP }

// DNSListener accepts every DNS connection over TCP (port 53, any address).
func (s *Sandbox) DNSListener() net.Listener { return s.dnsTCP }

// Start runs the command. Call it once, after the interceptors serve the
// listeners.
func (s *Sandbox) Start() error {
	// sendMu is held from the flag to the start message, so a concurrent
	// Signal either queues its signal or sends it after the start.
	s.sendMu.Lock()
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		s.sendMu.Unlock()
		return errors.New("start sandboxed command: already started")
	}
	s.started = true
	s.mu.Unlock()
	// The command starts once the kernel's connection record is loaded
	// (it usually is by now: it loads beside the set-up), so its first
	// connections are named by the kernel too, even when their process
	// exits at once; a slow load delays the start by at most kernWait and
	// those connections are then attributed through /proc.
	select {
	case <-s.kernDone:
	case <-time.After(kernWait):
		s.kernLate.Store(true)
	}
	err := send(s.ctrl, message{Type: msgStart})
	if err == nil {
		for _, sig := range s.pending {
			send(s.ctrl, message{Type: msgSignal, Signal: int(sig)})
		}
	}
	s.pending = nil
	s.sendMu.Unlock()
	if err != nil {
		return fmt.Errorf("start sandboxed command: %w", err)
	}
	m, files, err := recv(s.ctrl)
	if err != nil {
		return fmt.Errorf("start sandboxed command: init exited: %w", err)
	}
	if m.Type != msgStarted || len(files) > 1 {
		closeAll(files)
		if m.Type == msgError {
			return fmt.Errorf("start sandboxed command: %s", m.Err)
		}
		return fmt.Errorf("start sandboxed command: unexpected %q message with %d fds", m.Type, len(files))
	}
	if len(files) == 1 {
		s.mu.Lock()
		s.notify = files[0]
		s.mu.Unlock()
		go s.supervise(files[0])
	} else {
		close(s.superviseDone)
	}
	return nil
}

// Wait waits for the command to exit and returns its exit status (its exit
// code, or 128+signal when a signal killed it). Processes the command left
// behind are killed when it exits. err is non-nil when the init died without
// reporting a status (exitCode is then -1).
func (s *Sandbox) Wait() (exitCode int, err error) {
	s.mu.Lock()
	if s.waited {
		defer s.mu.Unlock()
		return s.exitCode, s.waitErr
	}
	s.mu.Unlock()
	code, werr := -1, error(nil)
	m, _, err := recv(s.ctrl)
	switch {
	case err == nil && m.Type == msgExit:
		code = m.Code
		if m.Stopped != "" && s.cfg.OnKernel != nil {
			s.cfg.OnKernel(KernelEvent{Time: time.Now(), What: m.Stopped, Refused: true})
		}
	case err == nil:
		werr = fmt.Errorf("wait for sandboxed command: unexpected %q message", m.Type)
	default:
		werr = fmt.Errorf("wait for sandboxed command: init exited without a status: %w", err)
	}
	// exec.Cmd.Wait also waits for the goroutines that copy the command's
	// output into non-file writers, so all output is in place on return.
	<-s.initDone
	state := s.init.ProcessState
	switch {
	case werr != nil && state != nil && state.Exited() && code == -1 && err != nil:
		// The exit message can be lost: when a forwarded signal is still
		// unread in the init's socket as it exits, the kernel resets the
		// connection and the parent's read fails. After the command has
		// started the init exits with the command's own status, so that
		// status is the answer.
		code, werr = state.ExitCode(), nil
	case werr != nil && state != nil:
		werr = fmt.Errorf("%w (init: %s)", werr, state)
	}
	s.mu.Lock()
	s.waited, s.exitCode, s.waitErr = true, code, werr
	s.mu.Unlock()
	return code, werr
}

// Signal forwards sig to the command, once: the init passes it on when
// asked over the control socket and ignores signals sent to itself (which
// a terminal delivers to buildwall's whole process group). A signal sent
// before Start is delivered when the command starts; after the command
// has exited it is a no-op.
func (s *Sandbox) Signal(sig os.Signal) error {
	ss, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal sandboxed command: unsupported signal %v", sig)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	started, waited := s.started, s.waited
	s.mu.Unlock()
	switch {
	case waited:
		return nil
	case !started:
		s.pending = append(s.pending, ss)
		return nil
	}
	if err := send(s.ctrl, message{Type: msgSignal, Signal: int(ss)}); err != nil {
		select {
		case <-s.initDone:
			return nil // the init is gone, and with it the command
		default:
		}
		return fmt.Errorf("signal sandboxed command: %w", err)
	}
	return nil
}

// Close kills every process left in the sandbox and releases the listeners
// and the nflog socket; with them goes the last reference to the
// namespaces, so the kernel removes them and their nftables rules. Close is
// idempotent.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		if k := s.kern.Swap(nil); k != nil {
			k.close()
		}
		if s.init != nil && s.init.Process != nil {
			s.init.Process.Signal(unix.SIGKILL)
			<-s.initDone
		}
		for _, c := range []interface{ Close() error }{s.proxy, s.dnsUDP, s.dnsTCP, s.ctrl} {
			if c != nil && !isNilCloser(c) {
				if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
					errs = append(errs, err)
				}
			}
		}
		if s.nflog != nil {
			s.nflog.Close()
			<-s.nflogEnd
		}
		s.mu.Lock()
		notify := s.notify
		s.mu.Unlock()
		if notify != nil {
			notify.Close() // a syscall still waiting gets ENOSYS
			<-s.superviseDone
		}
		if s.attrib != nil {
			if s.attrib.diag != nil {
				s.attrib.diag.close()
			}
			s.attrib.cmdlines.close()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case net.Listener:
		return v == nil
	case net.PacketConn:
		return v == nil
	case *net.UnixConn:
		return v == nil
	}
	return false
}

// Drops returns the packets rejected so far, one entry per protocol and
// destination, sorted by protocol then destination.
func (s *Sandbox) Drops() []DropSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DropSummary, 0, len(s.drops))
	for _, d := range s.drops {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Proto != out[j].Proto {
			return out[i].Proto < out[j].Proto
		}
		return out[i].Dst.String() < out[j].Dst.String()
	})
	return out
}

// Warnings are what the sandbox's set-up could not do as asked and did
// not need to fail for (e.g. a listed unix socket that does not exist).
func (s *Sandbox) Warnings() []string { return s.warnings }

// NetNS returns the inode number of the sandbox's network namespace (for
// tests that check it is gone after Close).
func (s *Sandbox) NetNS() uint64 { return s.netNS }

// InitPID returns the host PID of the sandbox's init.
func (s *Sandbox) InitPID() int { return s.init.Process.Pid }

func nsInode(pid int, ns string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+ns, &st); err != nil {
		return 0, fmt.Errorf("read %s namespace of %d: %w", ns, pid, err)
	}
	return st.Ino, nil
}

// preflight turns the common reasons for a refused user namespace into a
// precise error before anything starts.
func preflight() error {
	if v, ok := readSysctl("user/max_user_namespaces"); ok && v == "0" {
		return &FeatureError{Feature: "user namespaces", Setting: "sysctl user.max_user_namespaces (is 0)"}
	}
	if os.Getuid() == 0 {
		return nil
	}
	if v, ok := readSysctl("kernel/unprivileged_userns_clone"); ok && v == "0" {
		return &FeatureError{Feature: "unprivileged user namespaces", Setting: "sysctl kernel.unprivileged_userns_clone (is 0)"}
	}
	return nil
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func explainStartError(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		setting := "sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces"
		if v, ok := readSysctl("kernel/apparmor_restrict_unprivileged_userns"); ok && v == "1" {
			setting = "sysctl kernel.apparmor_restrict_unprivileged_userns (is 1; AppArmor blocks unprivileged user namespaces)"
		}
		if _, err := os.Stat("/.dockerenv"); err == nil {
			setting += "; in a container, the runtime's seccomp profile must allow clone(CLONE_NEWUSER) (e.g. --security-opt seccomp=unconfined)"
		}
		return &FeatureError{Feature: "user namespaces (clone CLONE_NEWUSER)", Setting: setting, Err: err}
	case errors.Is(err, unix.ENOSPC):
		return &FeatureError{Feature: "user namespaces", Setting: "sysctl user.max_user_namespaces (limit reached)", Err: err}
	case errors.Is(err, unix.EINVAL):
		return &FeatureError{Feature: "user, network, mount and PID namespaces (CONFIG_USER_NS, CONFIG_NET_NS, CONFIG_PID_NS)", Setting: "the kernel configuration", Err: err}
	}
	return fmt.Errorf("start sandbox init: %w", err)
}
