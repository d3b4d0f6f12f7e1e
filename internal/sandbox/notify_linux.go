package sandbox

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp supervisor: the filter (seccomp_linux.go) hands every
// refused syscall, and every kill of a process group, to buildwall through
// a listener fd. The supervisor names the process, answers (the errno, or
// "carry on" for kills) and reports it through Config.OnKernel. The build's
// process waits in the syscall meanwhile, so the name is the caller's even
// when it exits right after. Only refusals and group kills come here: the
// filter allows everything else without asking.

// The kernel's struct seccomp_data, seccomp_notif and seccomp_notif_resp.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	PID   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// classify says what a notified syscall is and how to answer it; it
// mirrors sandboxFilter. cont means the syscall proceeds unchanged.
func classify(d seccompData) (what string, errno unix.Errno, cont bool) {
	nr := uint32(d.Nr)
	var s sysnums
	switch d.Arch {
	case sysX8664.arch:
		if nr&x32SyscallBit != 0 {
			return fmt.Sprintf("x32 syscall %d", nr&^x32SyscallBit), unix.ENOSYS, false
		}
		s = sysX8664
	case sysAarch64.arch:
		s = sysAarch64
	case unix.AUDIT_ARCH_I386:
		if nr == 102 {
			return "i386 socketcall", unix.ENOSYS, false
		}
		return fmt.Sprintf("i386 syscall %d", nr), unix.ENOSYS, false
	case unix.AUDIT_ARCH_ARM:
		return fmt.Sprintf("arm (32-bit) syscall %d", nr), unix.ENOSYS, false
	default:
		return fmt.Sprintf("syscall %d of architecture %#x", nr, d.Arch), unix.ENOSYS, false
	}
	switch {
	case nr >= ioUringFirst && nr <= ioUringLast:
		return [...]string{"io_uring_setup", "io_uring_enter", "io_uring_register"}[nr-ioUringFirst], unix.ENOSYS, false
	case nr == s.socket || nr == s.socketpair:
		call := "socket"
		if nr == s.socketpair {
			call = "socketpair"
		}
		dom, typ, proto := uint32(d.Args[0]), uint32(d.Args[1])&sockTypeMask, uint32(d.Args[2])
		switch {
		case dom != unix.AF_INET && dom != unix.AF_INET6:
			return fmt.Sprintf("%s(%s)", call, familyName(dom)), unix.EAFNOSUPPORT, false
		case typ == unix.SOCK_RAW:
			return fmt.Sprintf("%s(%s, SOCK_RAW)", call, familyName(dom)), unix.EPERM, false
		case typ == unix.SOCK_PACKET:
			return fmt.Sprintf("%s(%s, SOCK_PACKET)", call, familyName(dom)), unix.EPERM, false
		case proto == ipprotoMPTCP:
			return fmt.Sprintf("%s(%s, IPPROTO_MPTCP)", call, familyName(dom)), unix.EPROTONOSUPPORT, false
		}
	case nr == s.ioctl:
		switch uint32(d.Args[1]) {
		case unix.TIOCSTI:
			return "ioctl(TIOCSTI)", unix.EPERM, false
		case unix.TIOCLINUX:
			return "ioctl(TIOCLINUX)", unix.EPERM, false
		}
	case nr == s.kl:
		sig := unix.Signal(d.Args[1])
		name := unix.SignalName(sig)
		if name == "" {
			name = fmt.Sprint(int(sig))
		}
		target := "-PGRP" // a process group: the number says nothing more
		switch int32(d.Args[0]) {
		case 0:
			target = "0"
		case -1:
			target = "-1"
		}
		return fmt.Sprintf("kill(%s, %s)", target, name), 0, true
	}
	return fmt.Sprintf("syscall %d", nr), unix.ENOSYS, false
}

var familyNames = map[uint32]string{
	unix.AF_UNIX: "AF_UNIX", unix.AF_INET: "AF_INET", unix.AF_INET6: "AF_INET6", unix.AF_NETLINK: "AF_NETLINK",
	unix.AF_VSOCK: "AF_VSOCK", unix.AF_PACKET: "AF_PACKET", unix.AF_BLUETOOTH: "AF_BLUETOOTH",
	unix.AF_ALG: "AF_ALG", unix.AF_XDP: "AF_XDP", unix.AF_CAN: "AF_CAN", unix.AF_TIPC: "AF_TIPC",
	unix.AF_RDS: "AF_RDS", unix.AF_KEY: "AF_KEY", unix.AF_QIPCRTR: "AF_QIPCRTR", unix.AF_SMC: "AF_SMC",
	unix.AF_APPLETALK: "AF_APPLETALK", unix.AF_X25: "AF_X25", unix.AF_AX25: "AF_AX25", unix.AF_NFC: "AF_NFC",
}

func familyName(f uint32) string {
	if n, ok := familyNames[f]; ok {
		return n
	}
	return fmt.Sprintf("family %d", f)
}

// supervise answers the listener's notifications until every process
// under the filter is gone or the listener is closed.
func (s *Sandbox) supervise(l *os.File) {
	defer close(s.superviseDone)
	rc, err := l.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n seccompNotif
		var hup, got bool
		err := rc.Read(func(fd uintptr) bool {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if k, err := unix.Poll(pfd, 0); err != nil || k == 0 {
				return false
			}
			if pfd[0].Revents&unix.POLLIN == 0 {
				hup = pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
				return hup
			}
			n = seccompNotif{}
			_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n)))
			got = e == 0 // ENOENT: the caller died before we took it
			return true
		})
		if err != nil || hup {
			return
		}
		if got {
			s.answer(rc, n)
		}
	}
}

func (s *Sandbox) answer(rc interface {
	Control(func(uintptr)) error
}, n seccompNotif) {
	what, errno, cont := classify(n.Data)
	ev := KernelEvent{Time: time.Now(), What: what, Refused: !cont, Fallback: errno == unix.EPROTONOSUPPORT}
	if !cont {
		ev.Errno = unix.ErrnoName(errno)
	}
	host := int(n.PID)
	// Named while the caller waits in the syscall; checked afterwards so
	// a reused pid is never misnamed.
	cmd, _ := s.attrib.cmdlines.read(host)
	inner := innerPID(host)
	resp := seccompNotifResp{ID: n.ID}
	if cont {
		resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else {
		resp.Error = -int32(errno)
	}
	valid := false
	rc.Control(func(fd uintptr) {
		id := n.ID
		_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
		valid = e == 0
		unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	})
	if valid {
		ev.PID, ev.Cmdline = inner, cmd
	}
	if s.cfg.OnKernel != nil {
		s.cfg.OnKernel(ev)
	}
}
