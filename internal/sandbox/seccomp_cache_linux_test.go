package sandbox

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// constAllow replays the kernel's seccomp action-cache check
// (seccomp_is_const_allow in kernel/seccomp.c, Linux 5.11+) on a classic BPF
// filter for one architecture and syscall number: it reports whether the
// filter returns SECCOMP_RET_ALLOW without reading anything but the syscall
// number and the architecture. For such syscalls the kernel sets a bit in a
// per-filter bitmap and never runs the filter again, so the filter costs the
// build nothing beyond the syscall slow path. Any other load, instruction
// or return value makes the syscall uncacheable, as in the kernel.
func constAllow(prog []unix.SockFilter, arch, nr uint32) bool {
	var reg uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch in.K {
			case seccompDataNr:
				reg = nr
			case seccompDataArch:
				reg = arch
			default:
				return false
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K == unix.SECCOMP_RET_ALLOW
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var taken bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				taken = reg == in.K
			case unix.BPF_JGE:
				taken = reg >= in.K
			case unix.BPF_JGT:
				taken = reg > in.K
			case unix.BPF_JSET:
				taken = reg&in.K != 0
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			reg &= in.K
		default:
			return false
		}
	}
	return false // ran off the end: the kernel warns and does not cache
}

// TestSandboxFilterIsCacheable checks that the kernel's seccomp action
// cache can bypass the filter for every syscall except the few it looks at
// (socket, socketpair, ioctl, kill, io_uring_*) on the native
// architectures, that nothing of the non-native ABIs is allowed, and that
// architectures the filter does not know are left alone.
func TestSandboxFilterIsCacheable(t *testing.T) {
	for _, notify := range []bool{true, false} {
		prog, err := sandboxFilter(notify, true)
		if err != nil {
			t.Fatal(err)
		}
		native := func(s sysnums) []uint32 {
			w := []uint32{s.socket, s.socketpair, s.ioctl, s.kl, 425, 426, 427}
			slices.Sort(w)
			return w
		}
		all := make([]uint32, 1024)
		for i := range all {
			all[i] = uint32(i)
		}
		for _, tc := range []struct {
			name string
			arch uint32
			want []uint32
		}{
			{"x86_64", unix.AUDIT_ARCH_X86_64, native(sysX8664)},
			{"aarch64", unix.AUDIT_ARCH_AARCH64, native(sysAarch64)},
			{"i386", unix.AUDIT_ARCH_I386, all},
			{"arm", unix.AUDIT_ARCH_ARM, all},
			{"riscv64_unknown_to_the_filter", unix.AUDIT_ARCH_RISCV64, nil},
		} {
			t.Run(fmt.Sprintf("%s_notify_%v", tc.name, notify), func(t *testing.T) {
				var uncached []uint32
				for nr := uint32(0); nr < 1024; nr++ {
					if !constAllow(prog, tc.arch, nr) {
						uncached = append(uncached, nr)
					}
				}
				if diff := cmp.Diff(tc.want, uncached); diff != "" {
					t.Errorf("syscalls the action cache cannot bypass (-want +got):\n%s", diff)
				}
				if tc.arch == unix.AUDIT_ARCH_X86_64 && constAllow(prog, tc.arch, x32SyscallBit|39) {
					t.Error("an x32 syscall is allowed")
				}
			})
		}
	}
}

// TestConstAllowSeesArgumentLoads guards the replay itself: a filter that
// reads an argument before deciding is not cacheable, and one that returns
// anything but ALLOW is not either.
func TestConstAllowSeesArgumentLoads(t *testing.T) {
	argFirst, err := assemble([]bpfInsn{
		ldAbs(seccompDataArg0),
		jeq(unix.AF_PACKET, "deny"),
		ret(unix.SECCOMP_RET_ALLOW),
		label("deny", ret(unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))),
	})
	if err != nil {
		t.Fatal(err)
	}
	if constAllow(argFirst, unix.AUDIT_ARCH_X86_64, 0) {
		t.Error("a filter loading an argument first was reported cacheable")
	}
	denyAll, err := assemble([]bpfInsn{ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))})
	if err != nil {
		t.Fatal(err)
	}
	if constAllow(denyAll, unix.AUDIT_ARCH_X86_64, 0) {
		t.Error("a filter returning ERRNO was reported cacheable")
	}
}
