package sandbox

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/event"
)

// cmdlines reads the command lines of the processes that own sockets. It
// keeps /proc/PID/cmdline open for the last keptCmdlines processes read:
// a build connects from the same few processes, and a pread of an open
// file is one system call where open, read and close are three (each
// costs about 1 us on the 2-core CI VM, once per attributed connection).
//
// An open file stays bound to its process, not to the number: procfs pins
// the process's struct pid, so once it has exited a read fails (ESRCH)
// even when the number is in use again, and the entry is reopened by
// path. A read always returns the current command line, after an exec
// too. The zero value is ready to use; safe for concurrent use.
type cmdlines struct {
	mu    sync.Mutex
	files map[int]*cmdlineFile
	order []int // pids in files, oldest first
}

// cmdlineFile is an open /proc/PID/cmdline. Its fd is closed once it is
// dropped from the cache and no read is using it.
type cmdlineFile struct {
	fd      int
	refs    int
	dropped bool
}

const keptCmdlines = 8

// read returns pid's command line, arguments separated by spaces.
func (c *cmdlines) read(pid int) (string, error) {
	s, _, err := c.readFresh(pid)
	return s, err
}

// readFresh is read that also reports whether the file was opened now:
// when it was not, it was opened earlier for this very process (not just
// the same number), so what was checked about the process then holds.
func (c *cmdlines) readFresh(pid int) (s string, fresh bool, err error) {
	if f := c.get(pid); f != nil {
		s, err := preadCmdline(f.fd)
		c.put(f)
		if err == nil {
			return s, false, nil
		}
		c.drop(pid, f)
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/cmdline", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", true, err
	}
	s, err = preadCmdline(fd)
	if err != nil {
		unix.Close(fd)
		return "", true, err
	}
	c.keep(pid, fd)
	return s, true, nil
}

// forget drops pid's kept file, if any.
func (c *cmdlines) forget(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.files[pid]; ok {
		c.remove(pid)
	}
}

// get returns pid's open file with a reference taken, or nil.
func (c *cmdlines) get(pid int) *cmdlineFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.files[pid]
	if f != nil {
		f.refs++
	}
	return f
}

// put gives back a reference taken by get.
func (c *cmdlines) put(f *cmdlineFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.refs--
	c.closeIfUnused(f)
}

func (c *cmdlines) closeIfUnused(f *cmdlineFile) {
	if f.dropped && f.refs == 0 && f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// drop removes f, pid's entry, from the cache (if still there).
func (c *cmdlines) drop(pid int, f *cmdlineFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files[pid] != f {
		return
	}
	c.remove(pid)
}

// remove takes pid's entry out of the cache; c.mu is held.
func (c *cmdlines) remove(pid int) {
	f := c.files[pid]
	delete(c.files, pid)
	for i, p := range c.order {
		if p == pid {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	f.dropped = true
	c.closeIfUnused(f)
}

// keep caches fd as pid's open file, evicting the oldest entry when full;
// fd is closed instead when another read cached pid meanwhile.
func (c *cmdlines) keep(pid, fd int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.files[pid]; ok {
		unix.Close(fd)
		return
	}
	if c.files == nil {
		c.files = map[int]*cmdlineFile{}
	}
	for len(c.order) >= keptCmdlines {
		c.remove(c.order[0])
	}
	c.files[pid] = &cmdlineFile{fd: fd}
	c.order = append(c.order, pid)
}

// close closes every cached file (reads in flight close theirs when done).
func (c *cmdlines) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.order) > 0 {
		c.remove(c.order[0])
	}
}

// cmdlineRead is how much of /proc/PID/cmdline is read: what an event
// keeps (event.MaxCmdline) and two bytes more, so that the event can tell
// it was cut. A build with a huge argv costs one small read, not
// megabytes per event.
const cmdlineRead = event.MaxCmdline + 2

// preadCmdline reads the start of /proc/PID/cmdline (cmdlineRead bytes
// at most), arguments separated by spaces.
func preadCmdline(fd int) (string, error) {
	var buf [cmdlineRead]byte
	for {
		n, err := unix.Pread(fd, buf[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", err
		}
		b := buf[:n]
		for i, c := range b {
			if c == 0 {
				b[i] = ' '
			}
		}
		return strings.TrimSpace(string(b)), nil
	}
}
