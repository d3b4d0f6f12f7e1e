package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probe is the helper the kernel bypass table runs inside the sandbox: it
// attempts one thing per argument and prints "NAME: ok" or "NAME: ERRNO".
func probe(args []string) int {
	for _, a := range args {
		name, arg, _ := strings.Cut(a, "=")
		fmt.Printf("%s: %s\n", name, errName(try(name, arg)))
	}
	return 0
}

func errName(err error) string {
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func socket(dom, typ, proto int) error {
	fd, err := unix.Socket(dom, typ, proto)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func try(name, arg string) error {
	switch name {
	case "vsock":
		return socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	case "vsock-pair":
		_, err := unix.Socketpair(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
		return err
	case "packet":
		return socket(unix.AF_PACKET, unix.SOCK_RAW, 0x0300)
	case "alg":
		return socket(unix.AF_ALG, unix.SOCK_SEQPACKET, 0)
	case "raw":
		return socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	case "mptcp":
		return socket(unix.AF_INET, unix.SOCK_STREAM, 262)
	case "tcp":
		return socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	case "io_uring":
		var params [120]byte
		r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
		if e != 0 {
			return e
		}
		unix.Close(int(r))
		return nil
	case "tiocsti":
		c := byte('!')
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		if e != 0 {
			return e
		}
		return nil
	case "tiocsti-tty":
		f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		c := byte('!')
		_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		if e != 0 {
			return e
		}
		return nil
	case "tioclinux":
		sub := byte(6) // TIOCL_GETSHIFTSTATE
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCLINUX, uintptr(unsafe.Pointer(&sub)))
		if e != 0 {
			return e
		}
		return nil
	case "winsize":
		// Print the terminal's size, then the new one after a SIGWINCH.
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGWINCH)
		show := func() {
			ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
			if err != nil {
				fmt.Printf("size: %v\n", err)
				return
			}
			fmt.Printf("size %dx%d\n", ws.Row, ws.Col)
		}
		show()
		fmt.Println("ready")
		select {
		case <-ch:
			show()
		case <-time.After(5 * time.Second):
			fmt.Println("no SIGWINCH")
		}
		return nil
	case "stdout-tty":
		// Which terminal fd 1 is, and whether it is ours to control.
		name, err := os.Readlink("/proc/self/fd/1")
		if err != nil {
			return err
		}
		fmt.Printf("stdout is %s\n", name)
		return nil
	case "sysctl":
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0)
	case "unix":
		c, err := net.Dial("unix", arg)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) {
				return op.Err
			}
			return err
		}
		return c.Close()
	}
	if err, ok := tryRedteam(name, arg); ok {
		return err
	}
	return fmt.Errorf("unknown probe %q", name)
}
