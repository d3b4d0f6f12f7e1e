package sandbox

import (
	"errors"
	"net"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// bpfUnavailable tells a kernel or container that refuses BPF programs
// (seccomp, lockdown, no raw tracepoints) from a bug in ours (the
// verifier refuses a wrong program with EACCES or EINVAL).
func bpfUnavailable(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.ENOSYS)
}

// The kernel names the process behind a TCP connection: this one.
func TestConnPIDsNameTheConnectingProcess(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("loading a BPF program needs root; CI runs as root")
	}
	c, err := loadConnPIDs()
	if bpfUnavailable(err) {
		t.Skipf("this kernel or container does not allow the BPF program: %v", err)
	}
	if err != nil {
		t.Fatalf("loadConnPIDs: %v", err)
	}
	defer c.close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	dst := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	if pid, ok := c.lookup(src, dst); !ok || pid != os.Getpid() {
		t.Errorf("lookup(%v, %v) = %d, %v; want %d (this process)", src, dst, pid, ok, os.Getpid())
	}
	// The reverse direction (the accepting side) is not a connect.
	if pid, ok := c.lookup(dst, src); ok {
		t.Errorf("lookup of the accepted side = %d, want none", pid)
	}
}
