//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
)

// Sandbox is only implemented on Linux.
type Sandbox struct{}

// Create returns ErrNotSupported: buildwall's sandbox needs Linux namespaces.
func Create(context.Context, Config) (*Sandbox, error) {
	return nil, &FeatureError{Feature: "Linux namespaces and nftables", Setting: fmt.Sprintf("the operating system (this is %s)", runtime.GOOS)}
}

// Init is only implemented on Linux.
func Init() int { return 125 }

func (s *Sandbox) ProxyListener() net.Listener                                { return nil }
func (s *Sandbox) DNSConn() net.PacketConn                                    { return nil }
func (s *Sandbox) DNSListener() net.Listener                                  { return nil }
func (s *Sandbox) Start() error                                               { return ErrNotSupported }
func (s *Sandbox) Wait() (int, error)                                         { return -1, ErrNotSupported }
func (s *Sandbox) Signal(os.Signal) error                                     { return ErrNotSupported }
func (s *Sandbox) Close() error                                               { return nil }
func (s *Sandbox) Drops() []DropSummary                                       { return nil }
func (s *Sandbox) Attribute(string, netip.AddrPort) (int, string)             { return 0, "" }
func (s *Sandbox) AttributeConn(netip.AddrPort, netip.AddrPort) (int, string) { return 0, "" }

// AttributeConnNow has no answer outside Linux.
func (s *Sandbox) AttributeConnNow(netip.AddrPort, netip.AddrPort) (int, string, bool) {
	return 0, "", false
}
func (s *Sandbox) NetNS() uint64      { return 0 }
func (s *Sandbox) InitPID() int       { return 0 }
func (s *Sandbox) Warnings() []string { return nil }
