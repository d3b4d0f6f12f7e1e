package sandbox

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// attributor maps a socket inside the sandbox to the process that owns it.
// A TCP connection's socket is found by its exact 4-tuple over
// NETLINK_SOCK_DIAG (diag); other sockets by their local address in
// /proc/<init>/net/{udp,raw,...}. The socket inode is then mapped to a
// process through a cache filled from the fd tables of the sandbox's
// processes: on a miss the processes that owned the last sockets are
// rescanned first (a build usually connects from the same few processes),
// then every process in the sandbox once, bounded by maxScanProcs. Best
// effort: a socket closed in the meantime is not found.
type attributor struct {
	initPID int
	pidNS   uint64
	diag    *sockDiag // nil: /proc tables only

	scanMu sync.Mutex // serialises full scans

	mu     sync.Mutex
	owners map[uint64]int // socket inode → host pid
	inner  map[int]int    // host pid → pid in the sandbox (stable while the process lives)
	recent []int          // host pids that owned the last sockets found, newest first
	lastFD map[int]int    // host pid → fd number its last socket was found at
	scans  uint64         // full scans done so far

	cmdlines cmdlines

	// kern, once loaded, names a connection's process from the kernel's
	// record of who connected (connpid_linux.go; nil pointer or nil
	// value: not available); kernHits counts the connections it named.
	kern     *atomic.Pointer[connPIDs]
	kernHits atomic.Uint64
}

const (
	// maxScanProcs bounds the processes one full scan reads.
	maxScanProcs = 4096
	// maxOwners bounds the inode cache; a partial scan that would grow it
	// beyond clears it first (the next miss rebuilds it).
	maxOwners = 1 << 16
	// recentOwners is how many recent owners are rescanned before a full
	// scan.
	recentOwners = 4
)

// Attribute returns the PID (as seen inside the sandbox) and the command
// line of the process that owns the socket with local address src, or 0 and
// "" when it cannot be found. proto is "tcp", "udp", "icmp" or "icmpv6".
// Safe for concurrent use. For a TCP connection whose destination is known,
// AttributeConn is exact and much cheaper.
func (s *Sandbox) Attribute(proto string, src netip.AddrPort) (pid int, cmdline string) {
	if s == nil || s.attrib == nil {
		return 0, ""
	}
	return s.attrib.attribute(proto, src)
}

// AttributeConn returns the PID (as seen inside the sandbox) and the command
// line of the process that owns the TCP connection from src to dst (dst is
// the original destination, before the redirect to the proxy), or 0 and ""
// when it cannot be found. It asks the kernel for exactly that socket
// (NETLINK_SOCK_DIAG), so its cost does not grow with the number of sockets
// (TIME_WAIT included) in the sandbox. Safe for concurrent use.
func (s *Sandbox) AttributeConn(src, dst netip.AddrPort) (pid int, cmdline string) {
	if s == nil || s.attrib == nil {
		return 0, ""
	}
	return s.attrib.attributeConn(src, dst)
}

// AttributeConnNow is AttributeConn answered from the kernel's record of
// who connected (connpid_linux.go): a few microseconds, no /proc walk.
// ok is false when that record is not loaded (rootless, or an older
// kernel) or has no answer; AttributeConn then looks the socket up in
// /proc. Safe for concurrent use.
func (s *Sandbox) AttributeConnNow(src, dst netip.AddrPort) (pid int, cmdline string, ok bool) {
	if s == nil || s.attrib == nil {
		return 0, "", false
	}
	return s.attrib.attributeConnNow(src, dst)
}

func (a *attributor) attributeConnNow(src, dst netip.AddrPort) (int, string, bool) {
	k := a.connPIDs()
	if k == nil {
		return 0, "", false
	}
	hostPID, ok := k.lookup(src, dst)
	if !ok {
		return 0, "", false
	}
	p, c, ok := a.ownerByPID(hostPID)
	if ok {
		a.kernHits.Add(1)
	}
	return p, c, ok
}

func (a *attributor) attributeConn(src, dst netip.AddrPort) (int, string) {
	if p, c, ok := a.attributeConnNow(src, dst); ok {
		return p, c
	}
	if a.diag == nil {
		return a.attribute("tcp", src)
	}
	ino, err := a.diag.tcpInode(src, dst)
	if err != nil {
		return a.attribute("tcp", src)
	}
	if ino == 0 {
		return 0, ""
	}
	return a.owner(ino)
}

func (a *attributor) attribute(proto string, src netip.AddrPort) (int, string) {
	var tables []string
	switch proto {
	case "tcp":
		tables = []string{"tcp", "tcp6"}
	case "udp":
		tables = []string{"udp", "udp6"}
	case "icmp":
		tables = []string{"icmp", "raw"}
	case "icmpv6":
		tables = []string{"icmp6", "raw6"}
	default:
		tables = []string{"raw", "raw6"}
	}
	var inode string
	for _, t := range tables {
		if inode = findInode("/proc/"+strconv.Itoa(a.initPID)+"/net/"+t, src); inode != "" {
			break
		}
	}
	ino, err := strconv.ParseUint(inode, 10, 64)
	if err != nil || ino == 0 {
		return 0, ""
	}
	return a.owner(ino)
}

// owner returns the process that holds socket inode ino.
func (a *attributor) owner(ino uint64) (int, string) {
	a.mu.Lock()
	pid, ok := a.owners[ino]
	scans := a.scans
	recent := append([]int(nil), a.recent...)
	hints := make([]int, len(recent))
	for i, p := range recent {
		hints[i] = -1
		if fd, ok := a.lastFD[p]; ok {
			hints[i] = fd
		}
	}
	a.mu.Unlock()
	if ok {
		if p, c, ok := a.found(ino, pid); ok {
			return p, c
		}
	}
	// The kernel hands out the lowest free fd, so a process that closes a
	// connection and opens the next one usually gets the same fd number
	// back: one readlink instead of reading the whole fd table.
	for i, pid := range recent {
		if hints[i] >= 0 && fdIsSocket(pid, hints[i], ino) {
			a.mu.Lock()
			if a.owners == nil || len(a.owners) >= maxOwners {
				a.owners = map[uint64]int{}
			}
			a.owners[ino] = pid
			a.mu.Unlock()
			if p, c, ok := a.found(ino, pid); ok {
				return p, c
			}
		}
	}
	for _, pid := range recent {
		if a.scanProc(pid, ino) {
			if p, c, ok := a.found(ino, pid); ok {
				return p, c
			}
		}
	}
	a.scanMu.Lock()
	defer a.scanMu.Unlock()
	a.mu.Lock()
	pid, ok = a.owners[ino]
	again := a.scans != scans // a full scan finished while we waited
	a.mu.Unlock()
	if ok && again {
		if p, c, ok := a.found(ino, pid); ok {
			return p, c
		}
	}
	if pid, ok := a.fullScan(ino); ok {
		if p, c, ok := a.found(ino, pid); ok {
			return p, c
		}
	}
	return 0, ""
}

func (a *attributor) connPIDs() *connPIDs {
	if a.kern == nil {
		return nil
	}
	return a.kern.Load()
}

// ownerByPID names hostPID, which the kernel says opened a connection,
// if it is a process of the sandbox: the kernel's record is host-wide and
// the same 4-tuple can be another network namespace's. The check is done
// when the process's command line file is opened; a read through the
// file kept open since is the same process.
func (a *attributor) ownerByPID(hostPID int) (int, string, bool) {
	cmd, fresh, err := a.cmdlines.readFresh(hostPID)
	if err != nil {
		return 0, "", false
	}
	a.mu.Lock()
	in, known := a.inner[hostPID]
	a.mu.Unlock()
	if fresh || !known {
		if ns, err := nsInode(hostPID, "pid"); err != nil || ns != a.pidNS {
			a.cmdlines.forget(hostPID)
			return 0, "", false
		}
		in = innerPID(hostPID)
		a.mu.Lock()
		if a.inner == nil || len(a.inner) > maxScanProcs {
			a.inner = map[int]int{}
		}
		a.inner[hostPID] = in
		a.mu.Unlock()
	}
	return in, cmd, true
}

// found reports the owner pid of ino after a hit and moves it to the front
// of the recent owners. ok is false when the process is gone.
func (a *attributor) found(ino uint64, pid int) (int, string, bool) {
	cmd, err := a.cmdlines.read(pid)
	if err != nil {
		a.mu.Lock()
		delete(a.owners, ino)
		delete(a.inner, pid)
		a.mu.Unlock()
		return 0, "", false
	}
	a.mu.Lock()
	in, ok := a.inner[pid]
	a.mu.Unlock()
	if !ok {
		in = innerPID(pid)
	}
	a.mu.Lock()
	if a.inner == nil || len(a.inner) > maxScanProcs {
		a.inner = map[int]int{}
	}
	a.inner[pid] = in
	r := append(a.recent[:0:0], pid)
	for _, p := range a.recent {
		if p != pid && len(r) < recentOwners {
			r = append(r, p)
		}
	}
	a.recent = r
	a.mu.Unlock()
	return in, cmd, true
}

// scanProc records the sockets in pid's fd table and reports whether ino
// is among them.
func (a *attributor) scanProc(pid int, ino uint64) bool {
	socks, fd := procSocketsFD(pid, nil, ino)
	a.mu.Lock()
	defer a.mu.Unlock()
	if fd >= 0 {
		if a.lastFD == nil || len(a.lastFD) > maxScanProcs {
			a.lastFD = map[int]int{}
		}
		a.lastFD[pid] = fd
	}
	if a.owners == nil || len(a.owners)+len(socks) > maxOwners {
		a.owners = make(map[uint64]int, len(socks))
	}
	hit := false
	for _, s := range socks {
		a.owners[s] = pid
		hit = hit || s == ino
	}
	return hit
}

// fullScan rebuilds the cache from every process in the sandbox (at most
// maxScanProcs) and returns the owner of ino if one was seen.
func (a *attributor) fullScan(ino uint64) (int, bool) {
	pids, ok := descendants(a.initPID, maxScanProcs)
	if !ok {
		pids = a.nsMembers(maxScanProcs)
	}
	owners := map[uint64]int{}
	var socks []uint64
	for _, pid := range pids {
		socks = procSockets(pid, socks[:0])
		for _, s := range socks {
			if _, dup := owners[s]; !dup && len(owners) < maxOwners {
				owners[s] = pid // nearest to the init wins for shared sockets
			}
		}
	}
	a.mu.Lock()
	a.owners = owners
	a.inner = nil // a pid may have been reused
	a.scans++
	a.mu.Unlock()
	pid, ok := owners[ino]
	return pid, ok
}

// procSockets appends the inodes of the sockets in pid's fd table to out.
// The links are read relative to the open fd directory (no path walk per
// fd).
func procSockets(pid int, out []uint64) []uint64 {
	out, _ = procSocketsFD(pid, out, 0)
	return out
}

// procSocketsFD is procSockets that also returns the fd number holding
// socket inode want (-1 when want is 0 or not there).
func procSocketsFD(pid int, out []uint64, want uint64) ([]uint64, int) {
	wantFD := -1
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return out, wantFD
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	dfd := int(d.Fd())
	buf := make([]byte, 64)
	for _, fd := range names {
		n, err := unix.Readlinkat(dfd, fd, buf)
		if err != nil || n >= len(buf) {
			continue
		}
		l := buf[:n]
		if rest, ok := bytes.CutPrefix(l, []byte("socket:[")); ok {
			if ino, err := strconv.ParseUint(string(bytes.TrimSuffix(rest, []byte("]"))), 10, 64); err == nil {
				out = append(out, ino)
				if ino == want && want != 0 {
					wantFD, _ = strconv.Atoi(fd)
				}
			}
		}
	}
	return out, wantFD
}

// fdIsSocket reports whether fd fd of process pid is socket inode ino.
func fdIsSocket(pid, fd int, ino uint64) bool {
	var buf [64]byte
	n, err := unix.Readlink("/proc/"+strconv.Itoa(pid)+"/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n >= len(buf) {
		return false
	}
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	return string(buf[:n]) == want
}

// findInode returns the inode of the socket in a /proc/net table whose local
// address is src (or the unspecified address with src's port).
func findInode(path string, src netip.AddrPort) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		ap, ok := parseProcAddr(fields[1])
		if !ok || ap.Port() != src.Port() {
			continue
		}
		if ap.Addr().Unmap() == src.Addr().Unmap() || ap.Addr().IsUnspecified() {
			return fields[9]
		}
	}
	return ""
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or the 32-hex-digit IPv6
// form; each 32-bit word is in host byte order.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	out := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(out[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(out)
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// descendants lists the descendants of pid, nearest first, at most max of
// them; ok is false when /proc has no children files.
func descendants(pid, max int) (out []int, ok bool) {
	queue := []int{pid}
	for len(queue) > 0 && len(out) < max {
		p := queue[0]
		queue = queue[1:]
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(p) + "/task")
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/task/" + t.Name() + "/children")
			if err != nil {
				if os.IsNotExist(err) && p == pid {
					return nil, false
				}
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out, true
}

// nsMembers lists the processes in the sandbox's PID namespace except the
// init, at most max of them, by scanning /proc.
func (a *attributor) nsMembers(max int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, n := range names {
		if len(out) >= max {
			break
		}
		pid, err := strconv.Atoi(n)
		if err != nil || pid == a.initPID {
			continue
		}
		if ino, err := nsInode(pid, "pid"); err == nil && ino == a.pidNS {
			out = append(out, pid)
		}
	}
	return out
}

// innerPID returns the PID as the sandbox sees it (the last NSpid entry).
func innerPID(hostPID int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(hostPID) + "/status")
	if err != nil {
		return hostPID
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if p, err := strconv.Atoi(f[len(f)-1]); err == nil {
					return p
				}
			}
		}
	}
	return hostPID
}
