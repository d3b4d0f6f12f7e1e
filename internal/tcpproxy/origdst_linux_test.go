//go:build linux

package tcpproxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// inNetns marks the re-executed test process that runs inside a fresh
// user and network namespace.
const inNetns = "BUILDWALL_TCPPROXY_TEST_NETNS"

// TestOriginalDstKernel checks originalDst against the real kernel: in a
// new user+network namespace (so the host's rules are never touched) an
// nftables redirect sends connections to port 9 on loopback to the test's
// listener, and SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST must report port 9.
func TestOriginalDstKernel(t *testing.T) {
	if os.Getenv(inNetns) == "1" {
		originalDstInNetns(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOriginalDstKernel$", "-test.v")
	cmd.Env = append(os.Environ(), inNetns+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) {
			t.Skipf("cannot create a user+network namespace (check kernel.unprivileged_userns_clone and user.max_user_namespaces): %v", err)
		}
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	t.Logf("in the namespace:\n%s", out)
}

func originalDstInNetns(t *testing.T) {
	runtime.LockOSThread() // nftables and ioctl act on this thread's netns; all threads share it here anyway
	if err := setLoopbackUp(); err != nil {
		t.Fatalf("bring up lo: %v", err)
	}
	for _, tc := range []struct {
		name   string
		family nftables.TableFamily
		listen string
		dial   string
	}{
		{"ipv4", nftables.TableFamilyIPv4, "127.0.0.1:0", "127.0.0.1:9"},
		{"ipv6", nftables.TableFamilyIPv6, "[::1]:0", "[::1]:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("listen %s: %v", tc.listen, err)
			}
			defer ln.Close()
			port := uint16(ln.Addr().(*net.TCPAddr).Port)
			if err := redirect(tc.family, 9, port); err != nil {
				t.Fatalf("program nftables redirect: %v", err)
			}
			c, err := net.Dial("tcp", tc.dial)
			if err != nil {
				t.Fatalf("dial %s: %v", tc.dial, err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := originalDst(s)
			if err != nil {
				t.Fatal(err)
			}
			if want := netip.MustParseAddrPort(tc.dial); got != want {
				t.Errorf("originalDst = %v, want %v", got, want)
			}
		})
	}
}

// redirect adds "tcp dport from redirect to :to" to a nat output chain.
func redirect(family nftables.TableFamily, from, to uint16) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tbl := c.AddTable(&nftables.Table{Family: family, Name: "bwtest"})
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tbl, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(from)},
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(to)},
		&expr.Redir{RegisterProtoMin: 1},
	}})
	return c.Flush()
}

func setLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
