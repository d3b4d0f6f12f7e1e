package sandbox

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

type sockCase struct {
	name           string
	dom, typ, prot int
}

var sockCases = []sockCase{
	{"inet raw", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP},
	{"inet raw cloexec", unix.AF_INET, unix.SOCK_RAW | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK, unix.IPPROTO_ICMP},
	{"inet6 raw", unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6},
	{"inet packet", unix.AF_INET, unix.SOCK_PACKET, 0x0300},
	{"packet raw", unix.AF_PACKET, unix.SOCK_RAW, 0x0300},
	{"packet dgram", unix.AF_PACKET, unix.SOCK_DGRAM, 0x0300},
	{"inet stream", unix.AF_INET, unix.SOCK_STREAM, 0},
	{"inet dgram", unix.AF_INET, unix.SOCK_DGRAM, 0},
	{"inet6 stream", unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0},
	{"unix stream", unix.AF_UNIX, unix.SOCK_STREAM, 0},
	{"netlink raw", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
	{"vsock stream", unix.AF_VSOCK, unix.SOCK_STREAM, 0},
	{"alg seqpacket", unix.AF_ALG, unix.SOCK_SEQPACKET, 0},
	{"inet mptcp", unix.AF_INET, unix.SOCK_STREAM, ipprotoMPTCP},
	{"inet6 mptcp", unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_NONBLOCK, ipprotoMPTCP},
}

// trySockets opens each socket on a fresh locked thread, after installing
// the filter when filtered is set, and reports "ok" or the errno per case.
// The thread is never unlocked, so it (and its filter) ends with the
// goroutine.
func trySockets(t *testing.T, filtered bool) map[string]string {
	t.Helper()
	type res struct {
		got map[string]string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		if filtered {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				ch <- res{err: err}
				return
			}
			if err := installErrnoFilter(); err != nil {
				ch <- res{err: err}
				return
			}
		}
		got := map[string]string{}
		for _, c := range sockCases {
			fd, err := unix.Socket(c.dom, c.typ, c.prot)
			if err == nil {
				unix.Close(fd)
				got[c.name] = "ok"
				continue
			}
			var errno unix.Errno
			if errors.As(err, &errno) {
				got[c.name] = unix.ErrnoName(errno)
			} else {
				got[c.name] = err.Error()
			}
		}
		ch <- res{got: got}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.got
}

func TestRawSocketFilter(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: without CAP_NET_RAW raw sockets fail anyway and the filter's effect cannot be told apart")
	}
	unfiltered := trySockets(t, false)
	for _, name := range []string{"inet raw", "packet raw"} {
		if unfiltered[name] != "ok" {
			t.Skipf("root cannot open a %s socket here (%s); nothing to compare the filter with", name, unfiltered[name])
		}
	}
	want := map[string]string{}
	for _, c := range sockCases {
		want[c.name] = unfiltered[c.name]
		switch {
		case c.dom == unix.AF_PACKET, c.dom == unix.AF_VSOCK, c.dom == unix.AF_ALG:
			want[c.name] = "EAFNOSUPPORT"
		case strings.Contains(c.name, "raw") && c.dom != unix.AF_NETLINK, c.name == "inet packet":
			want[c.name] = "EPERM"
		case strings.Contains(c.name, "mptcp"):
			want[c.name] = "EPROTONOSUPPORT"
		}
	}
	if diff := cmp.Diff(want, trySockets(t, true)); diff != "" {
		t.Errorf("socket() under the filter (-want +got):\n%s", diff)
	}
}

func TestAssembleRejectsBadJumps(t *testing.T) {
	for _, prog := range [][]bpfInsn{
		{jeq(1, "nowhere"), ret(0)},
		{label("back", ret(0)), jeq(1, "back"), ret(0)},
	} {
		if _, err := assemble(prog); err == nil {
			t.Errorf("assemble(%+v): no error", prog)
		}
	}
}

// TestCommandRunsUnderSeccomp checks that the command (not only the init's
// thread) runs with no_new_privs and the filter, and that raw and packet
// sockets fail with EPERM inside the sandbox.
func TestCommandRunsUnderSeccomp(t *testing.T) {
	code, out, _ := run(t, Config{Args: []string{"sh", "-c", os.Args[0] + " __helper status; " + os.Args[0] + " __helper raw"}}, nil)
	want := "NoNewPrivs: 1\nSeccomp: 2\nraw:operation not permitted packet:address family not supported by protocol\n"
	if diff := cmp.Diff(want, out); code != 0 || diff != "" {
		t.Errorf("exit %d, output (-want +got):\n%s", code, diff)
	}
}
