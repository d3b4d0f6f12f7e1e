package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// BenchmarkAttributeConn measures attributing one live connection from a
// process in the sandbox: "kernel" asks the kernel's record of who
// connected (as root), "new" is a new socket (cache miss: the owner's fd
// table is rescanned), "cached" a socket seen before, "proc" the /proc
// table path (Attribute) that the exact lookup replaces for TCP.
func BenchmarkAttributeConn(b *testing.B) {
	if os.Getuid() != 0 {
		b.Skip("runs as root (the rootless path is the same code)")
	}
	sb, err := Create(context.Background(), Config{Args: self("tcp", "192.0.2.1:443"), Exe: os.Args[0]})
	if err != nil {
		b.Fatalf("Create: %v", err)
	}
	defer sb.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := sb.ProxyListener().Accept()
		if err == nil {
			accepted <- c
		}
	}()
	if err := sb.Start(); err != nil {
		b.Fatal(err)
	}
	c := <-accepted
	defer c.Close()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	dst, err := originalDst(c)
	if err != nil {
		b.Fatal(err)
	}
	check := func(pid int, cmd string) {
		if pid == 0 || !strings.Contains(cmd, "__helper tcp") {
			b.Fatalf("attributed to %d %q, want the helper", pid, cmd)
		}
	}
	<-sb.kernDone
	if k := sb.kern.Load(); k != nil {
		b.Run("kernel", func(b *testing.B) {
			for b.Loop() {
				check(sb.AttributeConn(src, dst))
			}
		})
	} else {
		b.Logf("no kernel connection record: %v", sb.kernErr)
	}
	// The /proc method, as without the kernel's record.
	kern := sb.kern.Swap(nil)
	defer sb.kern.Store(kern)
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			sb.attrib.mu.Lock()
			sb.attrib.owners = nil
			sb.attrib.mu.Unlock()
			check(sb.AttributeConn(src, dst))
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			check(sb.AttributeConn(src, dst))
		}
	})
	b.Run("proc", func(b *testing.B) {
		for b.Loop() {
			check(sb.Attribute("tcp", src))
		}
	})
	b.Run("sockdiag", func(b *testing.B) {
		for b.Loop() {
			if ino, err := sb.attrib.diag.tcpInode(src, dst); err != nil || ino == 0 {
				b.Fatalf("tcpInode = %d, %v", ino, err)
			}
		}
	})
	bufio.NewReader(c).ReadString('\n')
	fmt.Fprintln(c, "pong")
	c.Close()
	if code, err := sb.Wait(); code != 0 || err != nil {
		b.Fatalf("helper exited %d: %v", code, err)
	}
}
