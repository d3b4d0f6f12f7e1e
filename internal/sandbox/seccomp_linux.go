package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The command runs under a seccomp-bpf filter that narrows the kernel
// surface it can reach:
//
//   - socket(2) and socketpair(2): only AF_UNIX, AF_INET, AF_INET6 and
//     AF_NETLINK; within AF_INET/AF_INET6 no SOCK_RAW, no SOCK_PACKET and
//     no IPPROTO_MPTCP (clients fall back to TCP on EPROTONOSUPPORT).
//     AF_VSOCK matters most: vsock is not network-namespaced, so on a VM
//     runner it is a channel around the sandbox's nftables.
//   - io_uring_setup/enter/register: refused (ENOSYS), so IORING_OP_SOCKET
//     and friends cannot step around the socket checks.
//   - every non-native syscall ABI: i386 (int 0x80, socketcall(2), whose
//     arguments seccomp cannot read) and x32 on x86_64, 32-bit arm on
//     arm64: refused (ENOSYS).
//   - ioctl TIOCSTI and TIOCLINUX (pushing input into a terminal): EPERM.
//
// Each refusal is reported to buildwall: the filter returns
// SECCOMP_RET_USER_NOTIF and buildwall's supervisor (notify_linux.go)
// names the process and answers with the errno. kill(2) with pid 0 or a
// negative pid (a process group, or every process) is also sent to the
// supervisor, which records it and lets it proceed unchanged
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Where the kernel cannot create a
// listener (before 5.5), the same filter answers with the errnos itself and
// nothing is reported.
//
// Every other syscall is allowed from the syscall number alone, so the
// kernel's seccomp action cache (5.11+) skips the filter for them; the hot
// path of the build (connect, read, write, ...) never runs it.
//
// The filter is built for x86_64 and arm64 (the native ABIs buildwall
// supports); on any other architecture it allows everything and only the
// dropped capabilities apply.

// Offsets into struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6].
// The low 32 bits of an argument come first on little-endian machines,
// which both supported architectures are.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArg0 = 16
	seccompDataArg1 = 24
	seccompDataArg2 = 32
	sockTypeMask    = 0xf // SOCK_TYPE_MASK: the type without SOCK_NONBLOCK/SOCK_CLOEXEC
	x32SyscallBit   = 0x40000000
	ipprotoMPTCP    = 262
	ioUringFirst    = 425 // io_uring_setup; _enter and _register follow (all architectures)
	ioUringLast     = 427
)

// sysnums are the syscall numbers the filter looks at on one native ABI.
type sysnums struct {
	arch                          uint32
	socket, socketpair, ioctl, kl uint32
}

var (
	sysX8664   = sysnums{arch: unix.AUDIT_ARCH_X86_64, socket: 41, socketpair: 53, ioctl: 16, kl: 62}
	sysAarch64 = sysnums{arch: unix.AUDIT_ARCH_AARCH64, socket: 198, socketpair: 199, ioctl: 29, kl: 129}
)

// bpfInsn is one instruction with symbolic jump targets, resolved by
// assemble.
type bpfInsn struct {
	label  string // label of this instruction, if any
	code   uint16
	k      uint32
	jt, jf string // targets of a conditional jump ("" = next)
}

func ldAbs(off uint32) bpfInsn { return bpfInsn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off} }
func jeq(k uint32, jt string) bpfInsn {
	return bpfInsn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jt: jt}
}
func jset(k uint32, jt string) bpfInsn {
	return bpfInsn{code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, k: k, jt: jt}
}
func jge(k uint32, jt string) bpfInsn {
	return bpfInsn{code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, k: k, jt: jt}
}
func ret(k uint32) bpfInsn { return bpfInsn{code: unix.BPF_RET | unix.BPF_K, k: k} }
func label(name string, i bpfInsn) bpfInsn {
	i.label = name
	return i
}

// sandboxFilter is the program. With notify, every refusal returns
// SECCOMP_RET_USER_NOTIF, and so does every kill of a group when
// notifyKills is set too (the supervisor lets those proceed, which needs
// SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5); without, refusals return
// their errno (the same one the supervisor answers with, see classify) and
// kills are allowed.
func sandboxFilter(notify, notifyKills bool) ([]unix.SockFilter, error) {
	allow := ret(unix.SECCOMP_RET_ALLOW)
	deny := func(errno unix.Errno) bpfInsn {
		if notify {
			return ret(unix.SECCOMP_RET_USER_NOTIF)
		}
		return ret(unix.SECCOMP_RET_ERRNO | uint32(errno))
	}
	killAction := allow
	if notify && notifyKills {
		killAction = ret(unix.SECCOMP_RET_USER_NOTIF)
	}
	prog := []bpfInsn{
		ldAbs(seccompDataArch),
		jeq(sysX8664.arch, "x86_64"),
		jeq(sysAarch64.arch, "aarch64"),
		jeq(unix.AUDIT_ARCH_I386, "abi"),
		jeq(unix.AUDIT_ARCH_ARM, "abi"),
		allow,
	}
	for _, s := range []struct {
		name string
		n    sysnums
	}{{"x86_64", sysX8664}, {"aarch64", sysAarch64}} {
		first := ldAbs(seccompDataNr)
		if s.name == "x86_64" {
			// nr -1 is a syscall a tracer has cancelled (the kernel
			// answers ENOSYS unless the tracer sets the result): not x32.
			prog = append(prog, label(s.name, first), jeq(0xffffffff, "allow"), jset(x32SyscallBit, "abi"))
		} else {
			prog = append(prog, label(s.name, first))
		}
		prog = append(prog,
			jeq(s.n.socket, "socket"),
			jeq(s.n.socketpair, "socket"),
			jeq(s.n.ioctl, "ioctl"),
			jeq(s.n.kl, "kill"),
			jge(ioUringFirst, s.name+"_high"),
			allow,
			label(s.name+"_high", jge(ioUringLast+1, s.name+"_allow")),
			deny(unix.ENOSYS),
			label(s.name+"_allow", allow),
		)
	}
	prog = append(prog,
		label("abi", deny(unix.ENOSYS)),
		label("socket", ldAbs(seccompDataArg0)),
		jeq(unix.AF_UNIX, "allow"),
		jeq(unix.AF_NETLINK, "allow"),
		jeq(unix.AF_INET, "inet"),
		jeq(unix.AF_INET6, "inet"),
		deny(unix.EAFNOSUPPORT),
		label("inet", ldAbs(seccompDataArg1)),
		bpfInsn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: sockTypeMask},
		jeq(unix.SOCK_RAW, "eperm"),
		jeq(unix.SOCK_PACKET, "eperm"),
		ldAbs(seccompDataArg2),
		jeq(ipprotoMPTCP, "mptcp"),
		allow,
		label("mptcp", deny(unix.EPROTONOSUPPORT)),
		label("ioctl", ldAbs(seccompDataArg1)),
		jeq(unix.TIOCSTI, "eperm"),
		jeq(unix.TIOCLINUX, "eperm"),
		allow,
		label("kill", ldAbs(seccompDataArg0)),
		jeq(0, "killgroup"),
		jset(0x80000000, "killgroup"),
		allow,
		label("killgroup", killAction),
		label("eperm", deny(unix.EPERM)),
		label("allow", allow),
	)
	return assemble(prog)
}

// assemble resolves the symbolic jumps into relative offsets.
func assemble(prog []bpfInsn) ([]unix.SockFilter, error) {
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	rel := func(i int, target string) (uint8, error) {
		if target == "" {
			return 0, nil
		}
		t, ok := at[target]
		if !ok || t <= i || t-i-1 > 255 {
			return 0, fmt.Errorf("seccomp filter: bad jump from %d to %q", i, target)
		}
		return uint8(t - i - 1), nil
	}
	out := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		jt, err := rel(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := rel(i, in.jf)
		if err != nil {
			return nil, err
		}
		out[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return out, nil
}

// installSandboxFilter sets no_new_privs and installs the filter on the
// calling thread, which must be locked (runtime.LockOSThread) and never
// unlocked: both are per thread and inherited by the processes it forks.
// It returns the supervisor's listener (close-on-exec), or nil when the
// kernel cannot create one and the filter answers refusals itself.
func installSandboxFilter() (*os.File, error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("set no_new_privs: %w", err)
	}
	filter, err := sandboxFilter(true, kernelAtLeast(5, 5))
	if err != nil {
		return nil, err
	}
	// SECCOMP_FILTER_FLAG_SPEC_ALLOW: on kernels whose Speculative Store
	// Bypass mitigation is "prctl and seccomp" (the default), a seccomp
	// filter otherwise switches SSBD on for the whole build, which slows
	// every process in it; our filter guards syscalls, not speculation.
	fd, err := seccompSetFilter(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW|unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, filter)
	if err == nil {
		unix.SetNonblock(fd, true)
		return os.NewFile(uintptr(fd), "seccomp-listener"), nil
	}
	// Kernels before 5.0 lack the listener (EINVAL), before 4.17 the
	// SPEC_ALLOW flag (EINVAL) and before 3.17 seccomp(2) (ENOSYS); a
	// process already under a filter with a listener (a container runtime
	// that supervises syscalls, buildwall run inside buildwall run) cannot
	// have a second one (EBUSY). The refusals then go unreported.
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("install seccomp filter: %w", err)
	}
	return nil, installErrnoFilter()
}

// installErrnoFilter installs the filter that answers refusals itself
// (no_new_privs must be set already).
func installErrnoFilter() error {
	filter, err := sandboxFilter(false, false)
	if err != nil {
		return err
	}
	if _, err := seccompSetFilter(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, filter); err == nil {
		return nil
	} else if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
	runtime.KeepAlive(filter)
	if err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	return nil
}

func seccompSetFilter(flags uintptr, filter []unix.SockFilter) (int, error) {
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// kernelAtLeast reports whether the running kernel's version is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
