package sandbox

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// attributor maps a socket's local address inside the sandbox to the
// process that owns it: /proc/<init>/net/{tcp,udp,...} gives the socket
// inode, the fd tables of the processes in the sandbox's PID namespace give
// the process. Best effort: a socket closed in the meantime is not found.
type attributor struct {
	initPID int
	pidNS   uint64
}

// Attribute returns the PID (as seen inside the sandbox) and the command
// line of the process that owns the socket with local address src, or 0 and
// "" when it cannot be found. proto is "tcp", "udp", "icmp" or "icmpv6".
// Safe for concurrent use.
func (s *Sandbox) Attribute(proto string, src netip.AddrPort) (pid int, cmdline string) {
	if s == nil || s.attrib == nil {
		return 0, ""
	}
	return s.attrib.attribute(proto, src)
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
	if inode == "" || inode == "0" {
		return 0, ""
	}
	return a.owner("socket:[" + inode + "]")
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

// owner looks for a process in the sandbox holding link (e.g.
// "socket:[123]"). It walks the init's descendants through
// /proc/<pid>/task/<tid>/children, which touches only the sandbox's
// processes (attribution races short-lived clients, so it must be quick),
// and falls back to scanning all of /proc for the sandbox's PID namespace
// when the kernel lacks CONFIG_PROC_CHILDREN.
func (a *attributor) owner(link string) (int, string) {
	pids, ok := descendants(a.initPID)
	if !ok {
		pids = a.nsMembers()
	}
	for _, pid := range pids {
		fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(fdDir + "/" + fd.Name()); err == nil && l == link {
				return innerPID(pid), cmdlineOf(pid)
			}
		}
	}
	return 0, ""
}

// descendants lists the descendants of pid, nearest first; ok is false
// when /proc has no children files.
func descendants(pid int) (out []int, ok bool) {
	queue := []int{pid}
	for len(queue) > 0 {
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
// init, by scanning /proc.
func (a *attributor) nsMembers() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, n := range names {
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

func cmdlineOf(hostPID int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(hostPID) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
