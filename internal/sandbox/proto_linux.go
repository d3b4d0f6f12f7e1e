package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The parent and the init talk over a SOCK_SEQPACKET socketpair: one JSON
// message per packet, listener fds attached to the "ready" message.
//
//	parent → init: setup
//	init → parent: ready (+ fds: proxy tcp, dns udp, dns tcp, nflog, sock_diag) | error
//	parent → init: start
//	init → parent: started (+ fd: seccomp listener, when the kernel has one) | error
//	parent → init: signal (any number, after start)
//	init → parent: exit
type message struct {
	Type string `json:"type"`
	// setup
	Args      []string `json:"args,omitempty"`
	Dir       string   `json:"dir,omitempty"`
	Env       []string `json:"env,omitempty"`
	HostPorts []uint16 `json:"host_ports,omitempty"`
	// Terminal: stdin is a terminal buildwall owns; it becomes the
	// command's controlling terminal.
	Terminal    bool     `json:"terminal,omitempty"`
	Hide        []string `json:"hide,omitempty"`
	ReadOnly    []string `json:"read_only,omitempty"`
	UnixSockets []string `json:"unix_sockets,omitempty"`
	StopGrace   int64    `json:"stop_grace,omitempty"` // nanoseconds
	// ready
	Warnings  []string `json:"warnings,omitempty"`
	ProxyPort uint16   `json:"proxy_port,omitempty"`
	DNSPort   uint16   `json:"dns_port,omitempty"`
	// started
	PID int `json:"pid,omitempty"`
	// exit
	Code int `json:"code,omitempty"`
	// Stopped: the init killed every process because the command stayed
	// stopped (the text says how).
	Stopped string `json:"stopped,omitempty"`
	// signal
	Signal int `json:"signal,omitempty"`
	// error
	Err     string `json:"err,omitempty"`
	Feature string `json:"feature,omitempty"`
	Setting string `json:"setting,omitempty"`
	// Spilled: the whole message is in a memfd attached after the
	// message's own fds (see send).
	Spilled bool `json:"spilled,omitempty"`
}

// maxInline is the largest message sent in the packet itself. A
// SOCK_SEQPACKET packet must fit the socket's send buffer (about 200 KiB by
// default), and a setup message carries the command's environment, which
// on a CI runner can be larger: such a message goes in a memfd instead.
const maxInline = 32 << 10

// maxMessage bounds a message read from a memfd (the kernel bounds a
// command's arguments and environment at a quarter of the stack limit).
const maxMessage = 64 << 20

const (
	msgSetup   = "setup"
	msgReady   = "ready"
	msgStart   = "start"
	msgStarted = "started"
	msgExit    = "exit"
	msgSignal  = "signal"
	msgError   = "error"
)

func send(c *net.UnixConn, m message, files ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	if len(b) > maxInline {
		f, err := spill(b)
		if err != nil {
			return fmt.Errorf("send %s message: %w", m.Type, err)
		}
		defer f.Close()
		files = append(files[:len(files):len(files)], f)
		b = []byte(`{"type":"` + m.Type + `","spilled":true}`)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("send %s message: %w", m.Type, err)
	}
	return nil
}

// recv reads one message and any fds attached to it (as *os.File, owned by
// the caller).
func recv(c *net.UnixConn) (message, []*os.File, error) {
	// Messages are small: a fixed buffer, not one sized for the largest,
	// whose first touch costs a page fault per 4 KiB (on the CI VM a
	// 1 MiB buffer cost ~20 ms of `buildwall run`'s start-up).
	buf := make([]byte, maxInline+1)
	oob := make([]byte, unix.CmsgSpace(8*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return message{}, nil, fmt.Errorf("receive message: %w", err)
	}
	var files []*os.File
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return message{}, nil, fmt.Errorf("parse control message: %w", err)
		}
		for _, cm := range cmsgs {
			fds, err := unix.ParseUnixRights(&cm)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				// Non-blocking, so that os.File uses the poller and a
				// Close wakes a pending read (the nflog reader).
				unix.SetNonblock(fd, true)
				files = append(files, os.NewFile(uintptr(fd), "sandbox-fd"))
			}
		}
	}
	if n == 0 {
		closeAll(files)
		return message{}, nil, fmt.Errorf("receive message: connection closed")
	}
	if n > maxInline {
		closeAll(files)
		return message{}, nil, fmt.Errorf("receive message: longer than %d bytes", maxInline)
	}
	var m message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		closeAll(files)
		return message{}, nil, fmt.Errorf("decode message: %w", err)
	}
	if m.Spilled {
		if len(files) == 0 {
			return message{}, nil, fmt.Errorf("decode %s message: spilled without a file", m.Type)
		}
		f := files[len(files)-1]
		files = files[:len(files)-1]
		m, err = unspill(f)
		f.Close()
		if err != nil {
			closeAll(files)
			return message{}, nil, err
		}
	}
	return m, files, nil
}

// spill returns a memfd holding b, positioned at its start.
func spill(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("buildwall-message", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "buildwall-message")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write memfd: %w", err)
	}
	return f, nil
}

// unspill decodes the message in memfd f (read from its start).
func unspill(f *os.File) (message, error) {
	var m message
	b, err := io.ReadAll(io.NewSectionReader(f, 0, maxMessage+1))
	if err != nil {
		return m, fmt.Errorf("read spilled message: %w", err)
	}
	if len(b) > maxMessage {
		return m, fmt.Errorf("read spilled message: longer than %d bytes", maxMessage)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode spilled message: %w", err)
	}
	if m.Spilled {
		return message{}, fmt.Errorf("decode spilled message: spilled twice")
	}
	return m, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
