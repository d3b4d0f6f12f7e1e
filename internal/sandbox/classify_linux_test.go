package sandbox

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runFilter interprets a classic BPF seccomp program on d (the subset
// sandboxFilter uses) and returns its action.
func runFilter(t *testing.T, prog []unix.SockFilter, d seccompData) uint32 {
	t.Helper()
	raw := (*[unsafe.Sizeof(seccompData{})]byte)(unsafe.Pointer(&d))[:]
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = binary.LittleEndian.Uint32(raw[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var taken bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				taken = a == in.K
			case unix.BPF_JGE:
				taken = a >= in.K
			case unix.BPF_JSET:
				taken = a&in.K != 0
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("instruction %#x not interpreted", in.Code)
		}
	}
	t.Fatal("ran off the end of the filter")
	return 0
}

// TestClassifyMatchesFilter: for every kind of call the filter singles
// out, the supervisor's answer (classify) is the errno the filter returns
// without a supervisor, and the notifying filter hands exactly those
// calls (and group kills) to the supervisor.
func TestClassifyMatchesFilter(t *testing.T) {
	notify, err := sandboxFilter(true, true)
	if err != nil {
		t.Fatal(err)
	}
	errno, err := sandboxFilter(false, false)
	if err != nil {
		t.Fatal(err)
	}
	x := func(nr uint32, args ...uint64) seccompData {
		d := seccompData{Nr: int32(nr), Arch: unix.AUDIT_ARCH_X86_64}
		copy(d.Args[:], args)
		return d
	}
	arm := func(nr uint32, args ...uint64) seccompData {
		d := x(nr, args...)
		d.Arch = unix.AUDIT_ARCH_AARCH64
		return d
	}
	for _, tc := range []struct {
		name string
		d    seccompData
		what string // "" when allowed
		want unix.Errno
		cont bool
	}{
		{"tcp", x(41, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0), "", 0, false},
		{"udp6", x(41, unix.AF_INET6, unix.SOCK_DGRAM, 0), "", 0, false},
		{"unix", x(41, unix.AF_UNIX, unix.SOCK_STREAM, 0), "", 0, false},
		{"netlink", x(41, unix.AF_NETLINK, unix.SOCK_RAW, 0), "", 0, false},
		{"unix_pair", x(53, unix.AF_UNIX, unix.SOCK_STREAM, 0), "", 0, false},
		{"vsock", x(41, unix.AF_VSOCK, unix.SOCK_STREAM, 0), "socket(AF_VSOCK)", unix.EAFNOSUPPORT, false},
		{"vsock_high_bits", x(41, 1<<32|unix.AF_VSOCK, unix.SOCK_STREAM, 0), "socket(AF_VSOCK)", unix.EAFNOSUPPORT, false},
		{"packet", x(41, unix.AF_PACKET, unix.SOCK_RAW, 0), "socket(AF_PACKET)", unix.EAFNOSUPPORT, false},
		{"tipc_pair", x(53, unix.AF_TIPC, unix.SOCK_STREAM, 0), "socketpair(AF_TIPC)", unix.EAFNOSUPPORT, false},
		{"raw", x(41, unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK, 1), "socket(AF_INET, SOCK_RAW)", unix.EPERM, false},
		{"inet6_packet", x(41, unix.AF_INET6, unix.SOCK_PACKET, 0), "socket(AF_INET6, SOCK_PACKET)", unix.EPERM, false},
		{"mptcp", x(41, unix.AF_INET6, unix.SOCK_STREAM, ipprotoMPTCP), "socket(AF_INET6, IPPROTO_MPTCP)", unix.EPROTONOSUPPORT, false},
		{"io_uring_setup", x(425), "io_uring_setup", unix.ENOSYS, false},
		{"io_uring_register", x(427), "io_uring_register", unix.ENOSYS, false},
		{"after_io_uring", x(428), "", 0, false},
		{"tiocsti", x(16, 0, unix.TIOCSTI), "ioctl(TIOCSTI)", unix.EPERM, false},
		{"tiocsti_high_bits", x(16, 0, 1<<32|unix.TIOCSTI), "ioctl(TIOCSTI)", unix.EPERM, false},
		{"tioclinux", x(16, 0, unix.TIOCLINUX), "ioctl(TIOCLINUX)", unix.EPERM, false},
		{"tcgets", x(16, 0, unix.TCGETS), "", 0, false},
		{"cancelled_by_tracer", x(0xffffffff), "", 0, false},
		{"x32_socket", x(x32SyscallBit | 41), "x32 syscall 41", unix.ENOSYS, false},
		{"i386_socketcall", seccompData{Nr: 102, Arch: unix.AUDIT_ARCH_I386}, "i386 socketcall", unix.ENOSYS, false},
		{"i386_getpid", seccompData{Nr: 20, Arch: unix.AUDIT_ARCH_I386}, "i386 syscall 20", unix.ENOSYS, false},
		{"arm32", seccompData{Nr: 281, Arch: unix.AUDIT_ARCH_ARM}, "arm (32-bit) syscall 281", unix.ENOSYS, false},
		{"kill_pid", x(62, 1234, 9), "", 0, false},
		{"kill_0", x(62, 0, 9), "kill(0, SIGKILL)", 0, true},
		{"kill_all", x(62, uint64(0xffffffff), 15), "kill(-1, SIGTERM)", 0, true},
		{"kill_group", x(62, uint64(0xffffff00), 19), "kill(-PGRP, SIGSTOP)", 0, true},
		{"arm64_vsock", arm(198, unix.AF_VSOCK, unix.SOCK_STREAM, 0), "socket(AF_VSOCK)", unix.EAFNOSUPPORT, false},
		{"arm64_io_uring", arm(426), "io_uring_enter", unix.ENOSYS, false},
		{"arm64_kill_0", arm(129, 0, 2), "kill(0, SIGINT)", 0, true},
		{"arm64_tcp", arm(198, unix.AF_INET, unix.SOCK_STREAM, 0), "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotNotify, gotErrno := runFilter(t, notify, tc.d), runFilter(t, errno, tc.d)
			if tc.what == "" {
				if gotNotify != unix.SECCOMP_RET_ALLOW || gotErrno != unix.SECCOMP_RET_ALLOW {
					t.Fatalf("filters return %#x and %#x, want both to allow", gotNotify, gotErrno)
				}
				return
			}
			if gotNotify != unix.SECCOMP_RET_USER_NOTIF {
				t.Errorf("notifying filter returns %#x, want USER_NOTIF", gotNotify)
			}
			wantErrno := uint32(unix.SECCOMP_RET_ERRNO) | uint32(tc.want)
			if tc.cont {
				wantErrno = unix.SECCOMP_RET_ALLOW
			}
			if gotErrno != wantErrno {
				t.Errorf("filter without supervisor returns %#x, want %#x", gotErrno, wantErrno)
			}
			what, e, cont := classify(tc.d)
			if what != tc.what || e != tc.want || cont != tc.cont {
				t.Errorf("classify = %q, %v, %v; want %q, %v, %v", what, e, cont, tc.what, tc.want, tc.cont)
			}
		})
	}
}
