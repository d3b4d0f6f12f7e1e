package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// skipWithoutUserns skips when this machine cannot create the namespaces
// (CI runs these tests as root, where they can).
func skipWithoutUserns(t *testing.T) {
	t.Helper()
	if err := preflight(); err != nil {
		t.Skipf("no user namespaces here: %v", err)
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("kernel without user namespaces")
	}
}

// run creates a sandbox around args, serves its listeners with serve (may be
// nil), runs the command and returns its exit code and output.
func run(t *testing.T, c Config, serve func(*Sandbox)) (int, string, *Sandbox) {
	t.Helper()
	skipWithoutUserns(t)
	var out bytes.Buffer
	c.Exe = os.Args[0]
	if c.Stdout == nil {
		c.Stdout = &out
	}
	c.Stderr = &out
	sb, err := Create(context.Background(), c)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	if serve != nil {
		serve(sb)
	}
	if err := sb.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	code, err := sb.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return code, out.String(), sb
}

func self(args ...string) []string { return append([]string{os.Args[0], "__helper"}, args...) }

func TestExitStatusPassesThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"seven", []string{"sh", "-c", "exit 7"}, 7},
		{"killed_by_sigterm", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
		{"not_found", []string{"buildwall-no-such-command"}, 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skipWithoutUserns(t)
			c := Config{Args: tc.args, Exe: os.Args[0], Stdout: io.Discard, Stderr: io.Discard}
			sb, err := Create(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			if err := sb.Start(); err != nil {
				if tc.want == 125 {
					return // the command could not start: reported as an error
				}
				t.Fatal(err)
			}
			got, err := sb.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("exit code = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDirEnvStdioPassThrough(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := run(t, Config{
		Args:  []string{"sh", "-c", `pwd; echo "$BW_TEST"; cat; id -u`},
		Dir:   dir,
		Env:   []string{"BW_TEST=hello", "PATH=" + os.Getenv("PATH")},
		Stdin: strings.NewReader("from stdin\n"),
	}, nil)
	want := fmt.Sprintf("%s\nhello\nfrom stdin\n%d\n", dir, os.Getuid())
	if code != 0 || out != want {
		t.Errorf("code %d, output diff (-want +got):\n%s", code, cmp.Diff(want, out))
	}
}

// A CI runner's environment can exceed what one control packet holds
// (about 200 KiB): it still reaches the command whole.
func TestLargeEnvironmentPassesThrough(t *testing.T) {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for i := range 4 {
		env = append(env, fmt.Sprintf("BW_BIG%d=%s", i, strings.Repeat(string(rune('a'+i)), 100_000)))
	}
	code, out, _ := run(t, Config{
		Args: []string{"sh", "-c", `printf '%s' "$BW_BIG0$BW_BIG1$BW_BIG2$BW_BIG3" | wc -c; printf '%s' "$BW_BIG3" | tr -d d | wc -c`},
		Env:  env,
	}, nil)
	if want := "400000\n0\n"; code != 0 || strings.Join(strings.Fields(out), "\n")+"\n" != want {
		t.Errorf("code %d, output %q, want %q", code, out, want)
	}
}

// originalDst reads SO_ORIGINAL_DST of an accepted IPv4 connection.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var m *unix.IPv6Mreq
	var gerr error
	rc.Control(func(fd uintptr) { m, gerr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST) })
	if gerr != nil {
		return netip.AddrPort{}, gerr
	}
	b := m.Multiaddr[:]
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), nil
}

type accepted struct {
	dst       netip.AddrPort
	pid       int
	cmdline   string
	exactPID  int // from AttributeConn
	exactLine string
	otherPID  int // from AttributeConn with a destination the socket does not have
	kernHits  uint64
	kernErr   error
	kernLate  bool // the command started before the record was loaded
}

// echoOrigDst answers every proxied connection with its original destination.
func echoOrigDst(sb *Sandbox, got chan<- accepted) {
	go func() {
		for {
			c, err := sb.ProxyListener().Accept()
			if err != nil {
				return
			}
			dst, _ := originalDst(c)
			src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
			pid, cmd := sb.Attribute("tcp", src)
			<-sb.kernDone // loaded by now, unless it cannot be
			epid, ecmd := sb.AttributeConn(src, dst)
			opid, _ := sb.AttributeConn(src, netip.AddrPortFrom(dst.Addr(), dst.Port()+1))
			got <- accepted{dst, pid, cmd, epid, ecmd, opid, sb.attrib.kernHits.Load(), sb.kernErr, sb.kernLate.Load()}
			bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "proxy saw %s\n", dst)
			c.Close()
		}
	}()
}

func TestTCPToOutsideIsRedirectedToProxy(t *testing.T) {
	got := make(chan accepted, 4)
	code, out, _ := run(t, Config{Args: self("tcp", "192.0.2.1:443")}, func(sb *Sandbox) { echoOrigDst(sb, got) })
	if code != 0 || out != "proxy saw 192.0.2.1:443\n" {
		t.Fatalf("code %d output %q", code, out)
	}
	a := <-got
	if a.pid == 0 || !strings.Contains(a.cmdline, "__helper tcp 192.0.2.1:443") {
		t.Errorf("attribution = %d %q, want the helper's pid and command line", a.pid, a.cmdline)
	}
	if a.exactPID != a.pid || a.exactLine != a.cmdline {
		t.Errorf("AttributeConn = %d %q, want %d %q (as Attribute)", a.exactPID, a.exactLine, a.pid, a.cmdline)
	}
	if a.otherPID != 0 {
		t.Errorf("AttributeConn with the wrong destination port = pid %d, want 0 (exact 4-tuple)", a.otherPID)
	}
	// As root the kernel's record of who connected names the process
	// (connpid_linux.go); rootless, /proc does.
	if os.Getuid() == 0 && os.Getenv("BUILDWALL_TEST_ROOTLESS") == "" && !bpfUnavailable(a.kernErr) && a.kernHits == 0 && !a.kernLate {
		t.Errorf("AttributeConn did not use the kernel's connection record as root (%v)", a.kernErr)
	}
}

func TestHostLoopbackOnlyThroughHostPorts(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "host service")
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	hp := uint16(ln.Addr().(*net.TCPAddr).Port)

	t.Run("not_listed", func(t *testing.T) {
		code, out, _ := run(t, Config{Args: self("tcp", addr)}, nil)
		if code != 3 || !strings.Contains(out, "connection refused") {
			t.Errorf("code %d output %q; want the sandbox's own loopback to refuse", code, out)
		}
	})
	t.Run("listed", func(t *testing.T) {
		got := make(chan accepted, 4)
		code, out, _ := run(t, Config{Args: self("tcp", addr), HostPorts: []uint16{hp}}, func(sb *Sandbox) { echoOrigDst(sb, got) })
		if want := "proxy saw " + addr + "\n"; code != 0 || out != want {
			t.Errorf("code %d output %q, want %q", code, out, want)
		}
	})
}

func TestDNSIsRedirected(t *testing.T) {
	udpGot := make(chan string, 1)
	tcpGot := make(chan string, 1)
	serve := func(sb *Sandbox) {
		go func() {
			buf := make([]byte, 512)
			n, _, err := sb.DNSConn().ReadFrom(buf)
			if err == nil {
				udpGot <- string(buf[:n])
			}
		}()
		go func() {
			c, err := sb.DNSListener().Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			tcpGot <- line
			fmt.Fprintln(c, "dns over tcp")
			c.Close()
		}()
	}
	code, out, _ := run(t, Config{Args: []string{"sh", "-c", os.Args[0] + " __helper udp 8.8.8.8:53 && " + os.Args[0] + " __helper tcp 9.9.9.9:53"}}, serve)
	if code != 0 || out != "sent\ndns over tcp\n" {
		t.Fatalf("code %d output %q", code, out)
	}
	if got := <-udpGot; got != "x" {
		t.Errorf("udp dns listener got %q", got)
	}
	if got := <-tcpGot; got != "ping\n" {
		t.Errorf("tcp dns listener got %q", got)
	}
}

func TestOtherTrafficIsRejectedAndReported(t *testing.T) {
	drops := make(chan Drop, 16)
	code, out, sb := run(t, Config{
		Args: []string{"sh", "-c", fmt.Sprintf("%[1]s __helper udp 192.0.2.7:9999; %[1]s __helper tcp [2001:db8::1]:443; %[1]s __helper raw", os.Args[0])},
		OnDrop: func(d Drop) {
			drops <- d
		},
	}, nil)
	if code != 0 {
		t.Fatalf("code %d output %q", code, out)
	}
	if !strings.Contains(out, "write: operation not permitted") || !strings.Contains(out, "connection refused") {
		t.Errorf("output %q: want the udp datagram refused and the ipv6 connection refused at once", out)
	}
	if !strings.Contains(out, "raw:operation not permitted packet:address family not supported by protocol") {
		t.Errorf("output %q: want raw and packet sockets refused", out)
	}
	sb.Close() // waits for the drop reader
	var got []string
	for _, d := range sb.Drops() {
		// A rejected TCP SYN closes its socket at once, so attribution
		// usually misses it; a UDP socket lives until its owner closes it.
		got = append(got, fmt.Sprintf("%s %s pid=%t", d.Proto, d.Dst, d.PID != 0 || d.Proto == "tcp"))
	}
	want := []string{"tcp [2001:db8::1]:443 pid=true", "udp 192.0.2.7:9999 pid=true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
	if len(drops) == 0 {
		t.Fatal("OnDrop was not called")
	}
	d := <-drops
	if !strings.Contains(d.Cmdline, "__helper") {
		t.Errorf("drop attributed to %q, want the helper", d.Cmdline)
	}
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	skipWithoutUserns(t)
	sb, err := Create(context.Background(), Config{
		Args: []string{"sh", "-c", os.Args[0] + " __helper sleep & echo started"},
		Exe:  os.Args[0], Stdout: io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	if code, err := sb.Wait(); code != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	netns, initPID := sb.NetNS(), sb.InitPID()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	// The namespace lives as long as a process or an fd refers to it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		holders := nsHolders(netns)
		if len(holders) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("network namespace %d still referenced by %v", netns, holders)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := unix.Kill(initPID, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("init %d still exists (kill 0: %v)", initPID, err)
	}
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range pids {
		b, _ := os.ReadFile(p)
		if strings.HasPrefix(string(b), os.Args[0]+"\x00__helper\x00sleep") {
			t.Errorf("a sandboxed process survived Close: %s", p)
		}
	}
}

// nsHolders lists the /proc entries (ns links and fds) that refer to the
// network namespace with inode ino.
func nsHolders(ino uint64) []string {
	want := fmt.Sprintf("net:[%d]", ino)
	var out []string
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		if l, _ := os.Readlink(p + "/ns/net"); l == want {
			out = append(out, p+"/ns/net")
		}
		fds, _ := filepath.Glob(p + "/fd/*")
		for _, fd := range fds {
			var st syscall.Stat_t
			if syscall.Stat(fd, &st) == nil && st.Ino == ino && l(fd) != "" {
				out = append(out, fd)
			}
		}
	}
	return out
}

func l(fd string) string {
	s, _ := os.Readlink(fd)
	if strings.HasPrefix(s, "net:") {
		return s
	}
	return ""
}

// TestRootless runs the tests above again as an unprivileged user (nobody),
// through a user namespace; skipped when not root (we cannot switch users).
func TestRootless(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user; as non-root the other tests already are the rootless path")
	}
	if os.Getenv("BUILDWALL_TEST_ROOTLESS") != "" {
		t.Skip("already rootless")
	}
	skipWithoutUserns(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil && st.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	bin := filepath.Join(dir, "sandbox.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^(TestExitStatusPassesThrough|TestDirEnvStdioPassThrough|TestLargeEnvironmentPassesThrough|TestReadOnlyDirs|TestTCPToOutsideIsRedirectedToProxy|TestDNSIsRedirected|TestOtherTrafficIsRejectedAndReported|TestCloseLeavesNothingBehind|TestCommandRunsUnderSeccomp)$", "-test.v")
	cmd.Dir = dir
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "BUILDWALL_TEST_ROOTLESS=1", "HOME="+tmp, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("--- SKIP")) {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
	if n := bytes.Count(out, []byte("--- PASS")); n < 6 {
		t.Errorf("rootless run passed %d tests, want at least 7:\n%s", n, out)
	}
	t.Logf("rootless:\n%s", out)
}

func TestInitEnvDropsOnlyTheProfileVariable(t *testing.T) {
	in := []string{"PATH=/bin", "BUILDWALL_CPUPROFILE=/tmp/p", "BUILDWALL_CPUPROFILE_X=1", "HOME=/root"}
	want := []string{"PATH=/bin", "BUILDWALL_CPUPROFILE_X=1", "HOME=/root"}
	if diff := cmp.Diff(want, initEnv(in)); diff != "" {
		t.Errorf("initEnv (-want +got):\n%s", diff)
	}
}

// TestReadOnlyDirs: a directory listed in ReadOnly (through a symbolic
// link too) can be read but not written, renamed into or removed from
// inside the sandbox (EROFS); its sibling stays writable.
func TestReadOnlyDirs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.MkdirAll(filepath.Join(ro, "refs"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "config"), []byte("base\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ro", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	script := `cat ro/config
(echo evil > ro/config) && echo WROTE-config
(echo x > ro/refs/main) && echo WROTE-ref
mkdir ro/new && echo WROTE-dir
rm -f ro/config && echo REMOVED
echo ok > rw && cat rw`
	code, out, _ := run(t, Config{
		Args:     []string{"sh", "-c", script},
		Dir:      dir,
		Env:      []string{"PATH=" + os.Getenv("PATH")},
		ReadOnly: []string{filepath.Join(dir, "link")},
	}, nil)
	if code != 0 || !strings.HasPrefix(out, "base\n") || !strings.HasSuffix(out, "\nok\n") ||
		strings.Contains(out, "WROTE") || strings.Contains(out, "REMOVED") ||
		strings.Count(out, "Read-only file system") != 4 {
		t.Errorf("code %d, want every write to fail with EROFS and rw to work; output:\n%s", code, out)
	}
	if data, _ := os.ReadFile(filepath.Join(ro, "config")); string(data) != "base\n" {
		t.Errorf("config changed on the host: %q", data)
	}
	// The protection is the sandbox's own: outside it the directory is
	// writable as before.
	if err := os.WriteFile(filepath.Join(ro, "refs", "main"), []byte("x"), 0o666); err != nil {
		t.Errorf("host write after the run: %v", err)
	}
}
