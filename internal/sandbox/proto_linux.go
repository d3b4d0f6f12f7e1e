package sandbox

import (
	"encoding/json"
	"fmt"
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
//	init → parent: started | error
//	parent → init: signal (any number, after start)
//	init → parent: exit
type message struct {
	Type string `json:"type"`
	// setup
	Args      []string `json:"args,omitempty"`
	Dir       string   `json:"dir,omitempty"`
	Env       []string `json:"env,omitempty"`
	HostPorts []uint16 `json:"host_ports,omitempty"`
	// ready
	ProxyPort uint16 `json:"proxy_port,omitempty"`
	DNSPort   uint16 `json:"dns_port,omitempty"`
	// started
	PID int `json:"pid,omitempty"`
	// exit
	Code int `json:"code,omitempty"`
	// signal
	Signal int `json:"signal,omitempty"`
	// error
	Err     string `json:"err,omitempty"`
	Feature string `json:"feature,omitempty"`
	Setting string `json:"setting,omitempty"`
}

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
	buf := make([]byte, 1<<20)
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
	var m message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		closeAll(files)
		return message{}, nil, fmt.Errorf("decode message: %w", err)
	}
	return m, files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
