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

// owner scans the processes in the sandbox's PID namespace for one holding
// link (e.g. "socket:[123]").
func (a *attributor) owner(link string) (int, string) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, ""
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		hostPID, err := strconv.Atoi(n)
		if err != nil || hostPID == a.initPID {
			continue
		}
		if ino, err := nsInode(hostPID, "pid"); err != nil || ino != a.pidNS {
			continue
		}
		fdDir := "/proc/" + n + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(fdDir + "/" + fd.Name()); err == nil && l == link {
				return innerPID(hostPID), cmdlineOf(hostPID)
			}
		}
	}
	return 0, ""
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
