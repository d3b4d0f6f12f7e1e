package netfilter

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func TestApplyRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"no_ports", Config{}, "must be set"},
		{"host_port_is_proxy_port", Config{ProxyPort: 1000, DNSPort: 1001, HostPorts: []uint16{1000}}, "collides"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Apply(tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Apply = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestApplyInFreshNetns installs the ruleset in a new network namespace
// (on a locked thread that is thrown away afterwards) and reads it back.
// The traffic it steers is tested end to end in package sandbox.
func TestApplyInFreshNetns(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create a network namespace on a thread (package sandbox covers the rootless path)")
	}
	type result struct {
		nat, filter int
		err         error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread exits with the goroutine, so the
		// namespace change cannot leak to other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		if err := Apply(Config{ProxyPort: 15001, DNSPort: 15053, HostPorts: []uint16{5432, 6379}, LogGroup: 7}); err != nil {
			ch <- result{err: err}
			return
		}
		conn, err := nftables.New()
		if err != nil {
			ch <- result{err: err}
			return
		}
		tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
		natTbl := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
		nat, err := conn.GetRules(natTbl, &nftables.Chain{Name: "nat_output", Table: natTbl})
		if err != nil {
			ch <- result{err: err}
			return
		}
		filter, err := conn.GetRules(tbl, &nftables.Chain{Name: "filter_output", Table: tbl})
		ch <- result{len(nat), len(filter), err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	// nat: dns udp, dns tcp, tcp to non-loopback, one per host port.
	// filter: log refusals, accept lo v4, accept lo v6, tcp reject, reject.
	if r.nat != 5 || r.filter != 5 {
		t.Errorf("rules: nat %d filter %d, want 5 and 5", r.nat, r.filter)
	}
}
