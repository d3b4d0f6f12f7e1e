package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/netfilter"
)

// ctrlFD is the fd number at which the init finds its control socket
// (the first of exec.Cmd.ExtraFiles).
const ctrlFD = 3

// resolvConf is what the command sees as /etc/resolv.conf. The address does
// not matter for correctness (every packet to port 53 is redirected to
// buildwall's DNS server); it just must be IPv4 and on loopback.
const resolvConf = "# written by buildwall run: every DNS query from this sandbox is answered by buildwall\nnameserver 127.0.0.53\noptions edns0\n"

// droppedCaps are removed from the bounding set before the command starts:
// without them it cannot change the firewall, open raw or packet sockets,
// remount resolv.conf or ptrace the init.
var droppedCaps = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE, unix.CAP_SYS_MODULE, unix.CAP_BPF}

// Init is the sandbox's PID 1. The buildwall binary calls it from the hidden
// sub-command that Create executes; it returns the command's exit status
// (128+signal when a signal killed it), or 125 when the sandbox could not be
// set up. It must not be called in any other situation.
func Init() int {
	f := os.NewFile(ctrlFD, "sandbox-ctrl")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildwall sandbox init: open control socket: %v\n", err)
		return 125
	}
	ctrl := fc.(*net.UnixConn)
	defer ctrl.Close()
	code, err := runInit(ctrl)
	if err != nil {
		m := message{Type: msgError, Err: err.Error()}
		var fe *FeatureError
		if errors.As(err, &fe) {
			m.Feature, m.Setting = fe.Feature, fe.Setting
		}
		if send(ctrl, m) != nil {
			fmt.Fprintf(os.Stderr, "buildwall sandbox init: %v\n", err)
		}
		return 125
	}
	return code
}

func runInit(ctrl *net.UnixConn) (int, error) {
	setup, _, err := recv(ctrl)
	if err != nil {
		return 0, err
	}
	if setup.Type != msgSetup {
		return 0, fmt.Errorf("expected setup message, got %q", setup.Type)
	}
	// Signals for the command arrive from the parent as messages, never
	// as signals to the init: a terminal's Ctrl-C reaches buildwall's
	// process group, which the init shares, and forwarding that would
	// deliver it twice. Every signal the init can catch is caught (so none
	// kills it or changes what the command inherits) and dropped: the
	// command, in the init's PID namespace, can send it any (SIGKILL and
	// SIGSTOP from inside never reach a namespace's init).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	go func() {
		for range sigs {
		}
	}()

	warnings, err := setupMounts(setup)
	if err != nil {
		return 0, err
	}
	if err := bringUpLoopback(); err != nil {
		return 0, &FeatureError{Feature: "a network namespace with a configurable loopback", Err: err}
	}
	proxy, dnsUDP, dnsTCP, err := listen(setup.HostPorts)
	if err != nil {
		return 0, err
	}
	nflog, err := openNflog()
	if err != nil {
		return 0, &FeatureError{Feature: "nfnetlink_log (CONFIG_NETFILTER_NETLINK_LOG)", Setting: "the kernel configuration", Err: err}
	}
	pp, dp := port(proxy.Addr()), port(dnsUDP.LocalAddr())
	if err := netfilter.Apply(netfilter.Config{ProxyPort: pp, DNSPort: dp, HostPorts: setup.HostPorts, LogGroup: nflogGroup}); err != nil {
		return 0, &FeatureError{Feature: "nftables with nat redirect (CONFIG_NF_TABLES, CONFIG_NFT_REDIR, CONFIG_NFT_NAT, CONFIG_NFT_REJECT)", Setting: "the kernel configuration", Err: err}
	}
	files := make([]*os.File, 0, 4)
	for _, x := range []interface{ File() (*os.File, error) }{proxy.(*net.TCPListener), dnsUDP.(*net.UDPConn), dnsTCP.(*net.TCPListener)} {
		f, err := x.File()
		if err != nil {
			return 0, fmt.Errorf("pass listener: %w", err)
		}
		files = append(files, f)
	}
	diag, err := openSockDiag()
	if err != nil {
		return 0, &FeatureError{Feature: "NETLINK_SOCK_DIAG (CONFIG_INET_DIAG)", Setting: "the kernel configuration", Err: err}
	}
	files = append(files, nflog, diag)
	err = send(ctrl, message{Type: msgReady, ProxyPort: pp, DNSPort: dp, Warnings: warnings}, files...)
	closeAll(files)
	proxy.Close()
	dnsUDP.Close()
	dnsTCP.Close()
	if err != nil {
		return 0, err
	}

	start, _, err := recv(ctrl)
	if err != nil || start.Type != msgStart {
		return 0, fmt.Errorf("wait for start: %v", err)
	}
	pid, listener, err := startCommand(setup)
	if err != nil {
		return 0, err
	}
	var passed []*os.File
	if listener != nil {
		passed = append(passed, listener)
	}
	err = send(ctrl, message{Type: msgStarted, PID: pid}, passed...)
	closeAll(passed)
	if err != nil {
		return 0, err
	}
	go func() {
		for {
			m, files, err := recv(ctrl)
			closeAll(files)
			if err != nil {
				return // the parent is gone; Pdeathsig ends the init
			}
			if m.Type == msgSignal && m.Signal > 0 {
				unix.Kill(pid, syscall.Signal(m.Signal))
			}
		}
	}()
	code, stopped := reap(pid, time.Duration(setup.StopGrace))
	// Best effort: the parent may be gone already.
	send(ctrl, message{Type: msgExit, Code: code, Stopped: stopped})
	return code, nil
}

// listen creates the proxy listener and the DNS UDP and TCP listeners (on
// one port) on 127.0.0.1, avoiding the host ports.
func listen(hostPorts []uint16) (net.Listener, net.PacketConn, net.Listener, error) {
	taken := map[uint16]bool{53: true}
	for _, p := range hostPorts {
		taken[p] = true
	}
	for range 20 {
		proxy, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, fmt.Errorf("listen for proxy: %w", err)
		}
		dnsUDP, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			proxy.Close()
			return nil, nil, nil, fmt.Errorf("listen for dns: %w", err)
		}
		dp := port(dnsUDP.LocalAddr())
		if !taken[port(proxy.Addr())] && !taken[dp] {
			dnsTCP, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", dp))
			if err == nil {
				return proxy, dnsUDP, dnsTCP, nil
			}
		}
		proxy.Close()
		dnsUDP.Close()
	}
	return nil, nil, nil, fmt.Errorf("listen: no free port pair")
}

func port(a net.Addr) uint16 {
	switch a := a.(type) {
	case *net.TCPAddr:
		return uint16(a.Port)
	case *net.UDPAddr:
		return uint16(a.Port)
	}
	return 0
}

// startCommand starts the command with the dangerous capabilities dropped
// from its bounding set, no_new_privs set and the raw-socket seccomp filter
// installed. The bounding set is per thread and fork copies the
// forking thread's, so the drop happens on a locked thread that then forks;
// the thread is never unlocked and dies with its goroutine.
func startCommand(setup message) (int, *os.File, error) {
	path, err := lookPath(setup.Args[0], setup.Env)
	if err != nil {
		return 0, nil, err
	}
	// The caller's pty (Terminal) becomes the controlling terminal through
	// the first of the command's stdin, stdout and stderr that it is.
	ctty := -1
	if setup.Terminal {
		for i, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
			if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
				ctty = i
				break
			}
		}
	}
	type result struct {
		pid      int
		listener *os.File
		err      error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		for _, c := range droppedCaps {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				ch <- result{err: fmt.Errorf("drop capability %d: %w", c, err)}
				return
			}
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
			ch <- result{err: fmt.Errorf("clear ambient capabilities: %w", err)}
			return
		}
		// A root command's new permitted set includes the inheritable
		// set, which holds the init's ambient capabilities: clear it.
		if err := clearInheritable(); err != nil {
			ch <- result{err: err}
			return
		}
		// The kernel surface is narrowed (see seccomp_linux.go).
		listener, err := installSandboxFilter()
		if err != nil {
			ch <- result{err: &FeatureError{Feature: "seccomp filters (CONFIG_SECCOMP_FILTER)", Setting: "the kernel configuration, or the container runtime's seccomp profile", Err: err}}
			return
		}
		// A session of its own: the command's process group and session
		// hold no process outside the sandbox (kill(0) and kill(-pgrp)
		// reach only the build), and the caller's controlling terminal is
		// not its own (TIOCSTI, /dev/tty).
		p, err := os.StartProcess(path, setup.Args, &os.ProcAttr{
			Dir:   setup.Dir,
			Env:   setup.Env,
			Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
			Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: ctty >= 0, Ctty: max(ctty, 0)},
		})
		if err != nil {
			if listener != nil {
				listener.Close()
			}
			ch <- result{err: fmt.Errorf("start %s: %w", setup.Args[0], err)}
			return
		}
		ch <- result{pid: p.Pid, listener: listener}
		p.Release()
	}()
	r := <-ch
	return r.pid, r.listener, r.err
}

// clearInheritable empties the calling thread's inheritable capability set.
func clearInheritable() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	return nil
}

// lookPath finds file in the PATH of env (the command's, not ours).
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathEnv := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("start %s: executable file not found in $PATH", file)
}

// reap waits for every child (PID 1 inherits orphans) and returns the exit
// status of pid: its exit code, or 128+signal. When pid stays stopped for
// grace (nothing in the sandbox continued it, and nothing outside will),
// every process is killed and stopped says so.
func reap(pid int, grace time.Duration) (code int, stopped string) {
	var seq atomic.Uint64 // bumped on every stop and continue of pid
	var how atomic.Pointer[string]
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WUNTRACED|unix.WCONTINUED, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 125, "" // no children left and pid not seen: cannot happen
		}
		if got != pid {
			continue
		}
		switch {
		case ws.Stopped():
			n := seq.Add(1)
			sig := ws.StopSignal()
			time.AfterFunc(grace, func() {
				if seq.Load() != n || !isStopped(pid) {
					return
				}
				msg := fmt.Sprintf("command stopped by %s for %s with nothing in the sandbox left to continue it: every process killed", unix.SignalName(sig), grace)
				how.Store(&msg)
				unix.Kill(-1, unix.SIGKILL)
			})
			continue
		case ws.Continued():
			seq.Add(1)
			continue
		}
		if p := how.Load(); p != nil {
			stopped = *p
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), stopped
		}
		return ws.ExitStatus(), stopped
	}
}

// isStopped reports whether pid (in the sandbox's /proc) is in state T.
func isStopped(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
}
