package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// connPIDs has the kernel record which process opened each TCP connection,
// at the moment it connects. Where it can be loaded (root, a kernel with
// BPF raw tracepoints), attribution of a proxied connection is one map
// lookup instead of a sock_diag round trip plus a walk of the owner's fd
// table, and it names the process even when it has closed the socket or
// exited since, which the /proc method cannot.
//
// A BPF program on the inet_sock_set_state raw tracepoint notes the
// current process of every socket that enters SYN-SENT (connect runs in
// the process's context, before the source port is chosen) under the
// socket's address, and moves it under the connection's IPv4 4-tuple when
// the socket becomes ESTABLISHED. The tracepoint is host-wide and has no
// network namespace, so a 4-tuple can also be another namespace's: the
// caller checks that the process is in the sandbox before it trusts an
// answer (ownerByPID, attribute_linux.go).
//
// A raw tracepoint, not a perf-event one: detaching a perf-event
// tracepoint waits for RCU grace periods (30-45 ms on the CI VM, at the
// end of every run), a raw one does not.
type connPIDs struct {
	connecting  *ebpf.Map // socket address → pid_tgid
	established *ebpf.Map // connKey → pid_tgid
	prog        *ebpf.Program
	link        link.Link
}

// connKey is the established map's key: the addresses in network byte
// order, the ports in host byte order.
type connKey [12]byte

func makeConnKey(src, dst netip.AddrPort) (connKey, bool) {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if !s.Is4() || !d.Is4() {
		return connKey{}, false
	}
	var k connKey
	s4, d4 := s.As4(), d.As4()
	copy(k[0:4], s4[:])
	copy(k[4:8], d4[:])
	binary.NativeEndian.PutUint16(k[8:], src.Port())
	binary.NativeEndian.PutUint16(k[10:], dst.Port())
	return k, true
}

const (
	connPIDEntries = 1 << 14
	tcpEstablished = 1
	tcpSynSent     = 2
)

// Offsets in struct sock_common, which starts struct sock; unchanged
// since Linux 2.6 (skc_daddr, skc_rcv_saddr, skc_hash, skc_dport,
// skc_num, skc_family). loadConnPIDs checks them on a real connection.
const (
	skcDaddr     = 0
	skcRcvSaddr  = 4
	skcDport     = 12 // network byte order
	skcNum       = 14 // the local port, host byte order
	skcFamily    = 16
	skcReadBytes = 24
)

// loadConnPIDs loads and attaches the program and checks it on a loopback
// connection of its own. Errors mean the kernel or the privileges do not
// allow it; attribution then uses /proc alone.
func loadConnPIDs() (*connPIDs, error) {
	c := &connPIDs{}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	var err error
	if c.connecting, err = ebpf.NewMap(&ebpf.MapSpec{Name: "bw_connecting", Type: ebpf.LRUHash, KeySize: 8, ValueSize: 8, MaxEntries: connPIDEntries}); err != nil {
		return nil, fmt.Errorf("create bpf map: %w", err)
	}
	if c.established, err = ebpf.NewMap(&ebpf.MapSpec{Name: "bw_established", Type: ebpf.LRUHash, KeySize: 12, ValueSize: 8, MaxEntries: connPIDEntries}); err != nil {
		return nil, fmt.Errorf("create bpf map: %w", err)
	}
	if c.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "bw_connpid", Type: ebpf.RawTracepoint,
		// The program is offered under MIT or GPL-2.0 too, as the kernel
		// requires of a program that calls bpf_probe_read_kernel.
		License:      "Dual MIT/GPL",
		Instructions: connPIDProgram(c.connecting.FD(), c.established.FD()),
	}); err != nil {
		return nil, fmt.Errorf("load bpf program: %w", err)
	}
	if c.link, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "inet_sock_set_state", Program: c.prog}); err != nil {
		return nil, fmt.Errorf("attach bpf program: %w", err)
	}
	if err := c.selfTest(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// selfTest connects to itself on loopback and checks that the program
// named this process, so a kernel whose struct sock differs is never
// trusted.
func (c *connPIDs) selfTest() error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("check bpf program: %w", err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		return fmt.Errorf("check bpf program: %w", err)
	}
	defer conn.Close()
	src := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	dst := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	if pid, ok := c.lookup(src, dst); !ok || pid != os.Getpid() {
		return fmt.Errorf("check bpf program: connection %v->%v attributed to %d, want %d", src, dst, pid, os.Getpid())
	}
	return nil
}

// connPIDProgram is the raw tracepoint program (see connPIDs); its
// arguments are (struct sock *sk, int oldstate, int newstate). Stack: -8
// the value, -16 the socket address, -48 the start of sock_common, -64 the
// 12-byte connKey.
func connPIDProgram(connecting, established int) asm.Instructions {
	addr := func(r asm.Register, off int32) asm.Instructions {
		return asm.Instructions{asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, off)}
	}
	var p asm.Instructions
	p = append(p,
		asm.LoadMem(asm.R7, asm.R1, 16, asm.DWord), // newstate
		asm.LoadMem(asm.R8, asm.R1, 8, asm.DWord),  // oldstate
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord),  // sk
		asm.StoreMem(asm.RFP, -16, asm.R6, asm.DWord),
		asm.JEq.Imm(asm.R7, tcpSynSent, "syn"),
		asm.JNE.Imm(asm.R7, tcpEstablished, "exit"),
		asm.JNE.Imm(asm.R8, tcpSynSent, "exit"),
		// ESTABLISHED after SYN-SENT: move the entry to the 4-tuple.
	)
	p = append(p, addr(asm.R1, -48)...)
	p = append(p,
		asm.Mov.Imm(asm.R2, skcReadBytes),
		asm.Mov.Reg(asm.R3, asm.R6),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.RFP, -48+skcFamily, asm.Half),
		asm.JNE.Imm(asm.R1, unix.AF_INET, "exit"),
		asm.LoadMapPtr(asm.R1, connecting),
	)
	p = append(p, addr(asm.R2, -16)...)
	p = append(p,
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, -48+skcRcvSaddr, asm.Word),
		asm.StoreMem(asm.RFP, -64, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, -48+skcDaddr, asm.Word),
		asm.StoreMem(asm.RFP, -60, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, -48+skcNum, asm.Half),
		asm.StoreMem(asm.RFP, -56, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, asm.RFP, -48+skcDport, asm.Half),
		asm.HostTo(asm.BE, asm.R1, asm.Half), // network to host order (a swap is its own inverse)
		asm.StoreMem(asm.RFP, -54, asm.R1, asm.Half),
		asm.LoadMapPtr(asm.R1, established),
	)
	p = append(p, addr(asm.R2, -64)...)
	p = append(p, addr(asm.R3, -8)...)
	p = append(p,
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
		asm.LoadMapPtr(asm.R1, connecting),
	)
	p = append(p, addr(asm.R2, -16)...)
	p = append(p,
		asm.FnMapDeleteElem.Call(),
		asm.Ja.Label("exit"),
		// SYN-SENT: in connect(2), so the current process is the owner.
		asm.FnGetCurrentPidTgid.Call().WithSymbol("syn"),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, connecting),
	)
	p = append(p, addr(asm.R2, -16)...)
	p = append(p, addr(asm.R3, -8)...)
	p = append(p,
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return p
}

// lookup returns the host PID (thread group id) of the process that opened
// the TCP connection from src to dst, as its socket sees them.
func (c *connPIDs) lookup(src, dst netip.AddrPort) (int, bool) {
	k, ok := makeConnKey(src, dst)
	if !ok {
		return 0, false
	}
	var v uint64
	if err := c.established.Lookup(k[:], &v); err != nil {
		return 0, false
	}
	return int(v >> 32), v>>32 != 0
}

func (c *connPIDs) close() error {
	var errs []error
	if c.link != nil {
		errs = append(errs, c.link.Close())
	}
	if c.prog != nil {
		errs = append(errs, c.prog.Close())
	}
	for _, m := range []*ebpf.Map{c.connecting, c.established} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}
