package cli

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fromTerminal reports whether sig is a keyboard signal (SIGINT from
// Ctrl-C, SIGQUIT from Ctrl-\) while buildwall's process group is the
// foreground group of its controlling terminal. The terminal then sent it
// to the whole group, and the sandboxed command is in that group: it has
// the signal already, and forwarding it would deliver it twice. (A
// `kill -INT` aimed at buildwall alone while it runs in the foreground of
// a terminal is therefore not forwarded either; SIGTERM always is.)
func fromTerminal(sig os.Signal) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT {
		return false
	}
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}
