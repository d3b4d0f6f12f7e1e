package sandbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The command runs under a small seccomp-bpf filter that makes
// socket(AF_PACKET, …) and socket(AF_INET/AF_INET6, SOCK_RAW or
// SOCK_PACKET, …) fail with EPERM. The dropped CAP_NET_RAW already refuses
// them; the filter keeps refusing them should a capability come back (a
// setuid or file-capability binary, a kernel bug), and with no_new_privs
// set no exec can regain privileges. Everything else is allowed.
//
// The filter knows the socket syscall of x86_64 (and its x32 ABI), i386,
// arm64 and 32-bit arm, and checks the architecture first; on other
// architectures it allows everything and only the capabilities apply.
// Not covered: socketcall(2) of the i386 ABI (its arguments are in memory,
// which seccomp cannot read) and sockets created by io_uring
// (IORING_OP_SOCKET); both still need CAP_NET_RAW for raw and packet
// sockets.

// Offsets into struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6].
// The low 32 bits of an argument come first on little-endian machines,
// which all the architectures above are.
const (
	seccompDataNr    = 0
	seccompDataArch  = 4
	seccompDataArg0  = 16
	seccompDataArg1  = 24
	sockTypeMask     = 0xf // SOCK_TYPE_MASK: the type without SOCK_NONBLOCK/SOCK_CLOEXEC
	x32SyscallBit    = 0x40000000
	sysSocketX8664   = 41
	sysSocketI386    = 359
	sysSocketAarch64 = 198
	sysSocketArm     = 281
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
func ret(k uint32) bpfInsn { return bpfInsn{code: unix.BPF_RET | unix.BPF_K, k: k} }
func label(name string, i bpfInsn) bpfInsn {
	i.label = name
	return i
}

// rawSocketFilter is the program: allow unless the syscall is socket() on a
// known architecture with a raw or packet family/type.
func rawSocketFilter() ([]unix.SockFilter, error) {
	allow := ret(unix.SECCOMP_RET_ALLOW)
	prog := []bpfInsn{
		ldAbs(seccompDataArch),
		jeq(unix.AUDIT_ARCH_X86_64, "x86_64"),
		jeq(unix.AUDIT_ARCH_I386, "i386"),
		jeq(unix.AUDIT_ARCH_AARCH64, "aarch64"),
		jeq(unix.AUDIT_ARCH_ARM, "arm"),
		allow,
		label("x86_64", ldAbs(seccompDataNr)),
		jeq(sysSocketX8664, "socket"),
		jeq(x32SyscallBit|sysSocketX8664, "socket"),
		allow,
		label("i386", ldAbs(seccompDataNr)),
		jeq(sysSocketI386, "socket"),
		allow,
		label("aarch64", ldAbs(seccompDataNr)),
		jeq(sysSocketAarch64, "socket"),
		allow,
		label("arm", ldAbs(seccompDataNr)),
		jeq(sysSocketArm, "socket"),
		allow,
		label("socket", ldAbs(seccompDataArg0)),
		jeq(unix.AF_PACKET, "deny"),
		jeq(unix.AF_INET, "type"),
		jeq(unix.AF_INET6, "type"),
		allow,
		label("type", ldAbs(seccompDataArg1)),
		{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: sockTypeMask},
		jeq(unix.SOCK_RAW, "deny"),
		jeq(unix.SOCK_PACKET, "deny"),
		allow,
		label("deny", ret(unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))),
	}
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

// installRawSocketFilter sets no_new_privs and installs the filter on the
// calling thread, which must be locked (runtime.LockOSThread) and never
// unlocked: both are per thread and inherited by the processes it forks.
func installRawSocketFilter() error {
	filter, err := rawSocketFilter()
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// SECCOMP_FILTER_FLAG_SPEC_ALLOW: on kernels whose Speculative Store
	// Bypass mitigation is "prctl and seccomp" (the default), a seccomp
	// filter otherwise switches SSBD on for the whole build, which slows
	// every process in it; our filter guards sockets, not speculation.
	// Kernels before 4.17 lack the flag (EINVAL) or seccomp(2) (ENOSYS):
	// fall back to prctl.
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno == 0 {
		return nil
	}
	if errno != unix.EINVAL && errno != unix.ENOSYS {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	return nil
}
