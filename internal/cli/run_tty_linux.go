package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/session"
)

// drainWait bounds how long the summary waits for the command's last
// terminal output to be relayed.
const drainWait = 2 * time.Second

// runTerminal relays the caller's terminal to a pseudo-terminal that
// buildwall owns for the run. The command's controlling terminal is the
// pty, never the caller's terminal: what it does to its terminal (TIOCSTI
// is refused anyway, job control, modes) stays in the pty, and nothing it
// types lands in the caller's shell after buildwall exits. Our terminal is
// in raw mode meanwhile (output processing kept, so buildwall's own lines
// still end where they should), so Ctrl-C, Ctrl-Z and the like reach the
// command through its pty, once; the window size follows ours.
type runTerminal struct {
	model    *os.File      // the terminal whose size the pty follows
	in       *os.File      // our stdin, when input is relayed
	saved    *unix.Termios // its modes before raw mode
	master   *os.File
	slave    *os.File
	winch    chan os.Signal
	resized  chan struct{} // closed when the resizer has stopped
	drained  chan struct{}
	once     sync.Once
	slaveOne sync.Once
}

// attachTerminal sets o up for a relayed pty when any of env's stdin,
// stdout and stderr is a terminal; otherwise it leaves o alone (the
// command then has no controlling terminal at all). Input is relayed, and
// our terminal put in raw mode, only when stdin is a terminal in whose
// foreground buildwall runs (from the background, changing its modes or
// reading it would stop buildwall); a terminal stdin is the pty either way.
func attachTerminal(env *Env, o *session.Options) (*runTerminal, error) {
	t := &runTerminal{}
	in, _ := env.Stdin.(*os.File)
	stdout, _ := env.Stdout.(*os.File)
	stderr, _ := env.Stderr.(*os.File)
	outTTY := func(f *os.File) bool { return f != nil && isTTY(f) }
	inTTY := in != nil && isTTY(in)
	relayIn := inTTY && isForegroundTerminal(in)
	var model *os.File // the terminal the pty is made like
	switch {
	case inTTY:
		model = in
	case outTTY(stdout):
		model = stdout
	case outTTY(stderr):
		model = stderr
	default:
		return t, nil
	}
	saved, err := unix.IoctlGetTermios(int(model.Fd()), unix.TCGETS)
	if err != nil {
		return t, nil
	}
	master, slave, err := openPTY()
	if err != nil {
		return nil, fmt.Errorf("create a terminal for the command: %w", err)
	}
	// The command's terminal starts as ours was.
	unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, saved)
	t.model, t.master, t.slave = model, master, slave
	t.resize()
	if relayIn {
		raw := *saved
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		if err := unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw); err != nil {
			master.Close()
			slave.Close()
			return nil, fmt.Errorf("set terminal to raw mode: %w", err)
		}
		t.in, t.saved = in, saved
	}
	t.winch, t.resized = make(chan os.Signal, 1), make(chan struct{})
	signal.Notify(t.winch, unix.SIGWINCH)
	go func() {
		defer close(t.resized)
		for range t.winch {
			t.resize()
		}
	}()

	// Output: the command's terminal output goes to whichever of our
	// stdout and stderr is a terminal.
	var out io.Writer = io.Discard
	if outTTY(stdout) {
		o.Stdout, out = slave, stdout
	}
	if outTTY(stderr) {
		o.Stderr = slave
		if out == io.Discard {
			out = stderr
		}
	}
	switch {
	case relayIn:
		o.Stdin = slave
		go io.Copy(master, in) // ends when buildwall exits
	case inTTY:
		// From the background nothing is relayed: a command reading its
		// terminal waits, as a background job would, and cannot read
		// what is typed into the caller's shell.
		o.Stdin = slave
	}
	o.Terminal = true
	t.drained = make(chan struct{})
	go func() {
		defer close(t.drained)
		io.Copy(out, master) // ends with EIO once the sandbox is gone
	}()
	// buildwall's copy of the pty's slave end is closed once the sandbox
	// holds its own, so the relay sees the end of the command's output.
	o.OnStart = t.closeSlave
	if o.Summary != nil {
		o.Summary = &afterDrain{w: o.Summary, drained: t.drained}
	}
	return t, nil
}

func (t *runTerminal) closeSlave() {
	t.slaveOne.Do(func() {
		if t.slave != nil {
			t.slave.Close()
		}
	})
}

// resize gives the pty our window size (set through the master: our copy
// of the slave is closed once the command runs); the kernel sends the
// command SIGWINCH.
func (t *runTerminal) resize() {
	if ws, err := unix.IoctlGetWinsize(int(t.model.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// restore puts our terminal back as it was.
func (t *runTerminal) restore() {
	t.once.Do(func() {
		if t.master == nil {
			return
		}
		signal.Stop(t.winch)
		close(t.winch)
		<-t.resized
		t.closeSlave()
		select {
		case <-t.drained:
		case <-time.After(drainWait):
		}
		if t.in != nil {
			unix.IoctlSetTermios(int(t.in.Fd()), unix.TCSETS, t.saved)
		}
		t.master.Close()
	})
}

// afterDrain holds the first write until the command's terminal output
// has been relayed (or drainWait has passed), so the summary comes last.
type afterDrain struct {
	w       io.Writer
	drained <-chan struct{}
	once    sync.Once
}

func (a *afterDrain) Write(p []byte) (int, error) {
	a.once.Do(func() {
		select {
		case <-a.drained:
		case <-time.After(drainWait):
		}
	})
	return a.w.Write(p)
}

func isTTY(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// isForegroundTerminal reports whether f is a terminal whose foreground
// process group is ours (changing its modes from the background would stop
// buildwall with SIGTTOU).
func isForegroundTerminal(f *os.File) bool {
	if !isTTY(f) {
		return false
	}
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// openPTY returns the master and the slave of a new pseudo-terminal.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master: no path lookup in a
	// /dev/pts that could be another devpts instance.
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		m.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	return m, os.NewFile(uintptr(fd), "pty-slave"), nil
}
