package sandbox

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFdIsSocketAndProcSocketsFD checks the fd-number hint the attributor
// uses before rescanning a process's fd table: the fd found by a scan is
// the one fdIsSocket confirms, and a wrong inode or fd is rejected.
func TestFdIsSocketAndProcSocketsFD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	ino := st.Ino
	pid := os.Getpid()

	socks, got := procSocketsFD(pid, nil, ino)
	if got != fd {
		t.Errorf("procSocketsFD found inode %d at fd %d, want %d (sockets %v)", ino, got, fd, socks)
	}
	if _, got := procSocketsFD(pid, nil, 0); got != -1 {
		t.Errorf("procSocketsFD without a wanted inode = fd %d, want -1", got)
	}
	tests := []struct {
		name string
		fd   int
		ino  uint64
		want bool
	}{
		{"right fd and inode", fd, ino, true},
		{"other inode", fd, ino + 1, false},
		{"not a socket", int(os.Stdin.Fd()), ino, false},
		{"no such fd", 1 << 20, ino, false},
	}
	for _, tt := range tests {
		if got := fdIsSocket(pid, tt.fd, tt.ino); got != tt.want {
			t.Errorf("%s: fdIsSocket(%d, %d, %d) = %v, want %v", tt.name, pid, tt.fd, tt.ino, got, tt.want)
		}
	}
}
