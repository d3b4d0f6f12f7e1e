//go:build !linux

package netfilter

import "errors"

// TableName is the nftables table buildwall creates in the sandbox netns.
const TableName = "buildwall"

// RefusedPrefix is the nflog prefix of a logged loopback refusal.
const RefusedPrefix = "refused"

// Config says where intercepted traffic goes; see the Linux version.
type Config struct {
	ProxyPort uint16
	DNSPort   uint16
	HostPorts []uint16
	LogGroup  uint16
}

// Apply is only implemented on Linux.
func Apply(Config) error { return errors.New("apply nftables rules: nftables needs linux") }
