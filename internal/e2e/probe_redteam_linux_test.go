package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// redteamCases are the process and kernel vectors a red-team pass tried
// beyond bypassCases; $U is an abstract unix socket the test serves in the
// host's network namespace.
var redteamCases = []bypassCase{
	// The init (PID 1, outside the seccomp filter, with the capabilities
	// the command lost) cannot be traced or have its memory opened.
	{name: "rt_ptrace_init", args: []string{"$P", "ptrace-init", "procmem-init"}, wantExit: 0, wantOut: out("ptrace-init: EPERM", "procmem-init: EACCES")},
	// Nor from a nested user namespace, whose capabilities do not reach
	// the sandbox's namespaces; the socket filter still applies there.
	{name: "rt_nested_userns", needs: "unshare", args: sh("unshare -Ur $P ptrace-init netlink-addr vsock"), wantExit: 1,
		wantOut: out("ptrace-init: EPERM", "netlink-addr: EPERM", "vsock: EAFNOSUPPORT"), wantReason: "socket(AF_VSOCK) refused", wantVerdict: "block"},
	// A root build cannot add addresses or routes to the sandbox netns.
	{name: "rt_netlink_add_address", args: []string{"$P", "netlink-addr"}, wantExit: 0, wantOut: out("netlink-addr: EPERM")},
	// Abstract unix sockets are per network namespace: the host's is not
	// reachable.
	{name: "rt_abstract_unix_host", args: []string{"$P", "abstract=$U"}, wantExit: 0, wantOut: out("abstract: ECONNREFUSED")},
	// Unprivileged ICMP (ping) sockets, a tunnel nftables would have to
	// catch, cannot be opened: the sandbox netns keeps the default
	// ping_group_range and /proc/sys is read-only.
	{name: "rt_icmp_ping_socket", args: []string{"$P", "icmp-dgram"}, wantExit: 0, wantOut: out("icmp-dgram: EACCES")},
	// A filter of the build's own, or another personality, does not lift
	// the sandbox's filter: the strictest action wins, the ABI is the same.
	{name: "rt_own_seccomp_filter", args: []string{"$P", "own-filter-vsock"}, wantExit: 1, wantOut: out("own-filter-vsock: EAFNOSUPPORT"),
		wantReason: "socket(AF_VSOCK) refused", wantVerdict: "block"},
	{name: "rt_personality_linux32", args: []string{"$P", "personality-vsock"}, wantExit: 1, wantOut: out("personality-vsock: EAFNOSUPPORT"),
		wantReason: "socket(AF_VSOCK) refused", wantVerdict: "block"},
}

// tryRedteam runs the red-team probes; ok is false for a name it does not
// know.
func tryRedteam(name, arg string) (err error, ok bool) {
	switch name {
	case "ptrace-init":
		if err := unix.PtraceAttach(1); err != nil {
			return err, true
		}
		unix.PtraceDetach(1)
		return nil, true
	case "procmem-init":
		f, err := os.OpenFile("/proc/1/mem", os.O_RDWR, 0)
		if err != nil {
			return unwrap(err), true
		}
		f.Close()
		return nil, true
	case "netlink-addr":
		return netlinkAddAddr(), true
	case "abstract":
		c, err := net.DialTimeout("unix", "@"+arg, 2*time.Second)
		if err != nil {
			return unwrap(err), true
		}
		c.Close()
		return nil, true
	case "own-filter-vsock":
		runtime.LockOSThread() // the filter is per thread; this one dies locked
		allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
		prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
			return fmt.Errorf("own filter: %w", err), true
		}
		return socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0), true
	case "icmp-dgram":
		// Ping sockets need no CAP_NET_RAW, only net.ipv4.ping_group_range.
		return socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP), true
	case "personality-vsock":
		if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0008, 0, 0); e != 0 { // PER_LINUX32
			return e, true
		}
		return socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0), true
	}
	return nil, false
}

func unwrap(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// netlinkAddAddr asks the kernel (RTM_NEWADDR) to add 10.99.0.1/32 to lo
// and returns its answer.
func netlinkAddAddr() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var msg []byte
	msg = binary.NativeEndian.AppendUint32(msg, 16+8+8)
	msg = binary.NativeEndian.AppendUint16(msg, unix.RTM_NEWADDR)
	msg = binary.NativeEndian.AppendUint16(msg, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	msg = binary.NativeEndian.AppendUint32(msg, 1) // seq
	msg = binary.NativeEndian.AppendUint32(msg, 0) // pid
	msg = append(msg, unix.AF_INET, 32, 0, 0)      // ifaddrmsg: family, prefixlen, flags, scope
	msg = binary.NativeEndian.AppendUint32(msg, 1) // ifindex of lo
	msg = binary.NativeEndian.AppendUint16(msg, 8) // rtattr IFA_LOCAL
	msg = binary.NativeEndian.AppendUint16(msg, unix.IFA_LOCAL)
	msg = append(msg, 10, 99, 0, 1)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < 20 || binary.NativeEndian.Uint16(buf[4:6]) != unix.NLMSG_ERROR {
		return fmt.Errorf("unexpected netlink answer")
	}
	if e := int32(binary.NativeEndian.Uint32(buf[16:20])); e != 0 {
		return unix.Errno(-e)
	}
	return nil
}

// abstractSocket serves an abstract unix socket in the test's (the
// host's) network namespace and returns its name without the "@".
func abstractSocket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("buildwall-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Skipf("cannot serve an abstract socket: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return name
}
