// Package netfilter programs the nftables ruleset that forces every packet a
// sandboxed build sends through buildwall. It runs inside the sandbox's
// network namespace (from the sandbox init) and talks to the kernel over
// netlink with github.com/google/nftables; it knows nothing about policy.
//
// The ruleset, in nft syntax, for proxy port P, DNS port D, log group G and
// host ports H:
//
//	table ip buildwall {
//	  chain nat_output {   # type nat hook output priority dstnat
//	    meta nfproto ipv4 udp dport 53 redirect to :D
//	    meta nfproto ipv4 tcp dport 53 redirect to :D
//	    meta nfproto ipv4 tcp ip daddr != 127.0.0.0/8 redirect to :P
//	    meta nfproto ipv4 tcp ip daddr 127.0.0.0/8 tcp dport H redirect to :P   # one rule per host port
//	  }
//	}
//	table inet buildwall {
//	  chain filter_output {  # type filter hook output priority filter
//	    meta nfproto ipv4 tcp ip daddr 127.0.0.0/8 tcp flags & (fin|syn|rst|ack) == rst|ack tcp sequence 0 log prefix "refused" group G
//	    meta nfproto ipv4 ip daddr 127.0.0.0/8 accept
//	    meta nfproto ipv6 ip6 daddr ::1 accept
//	    meta l4proto tcp log group G reject with tcp reset
//	    log group G reject with icmpx admin-prohibited
//	  }
//	}
//
// Redirected packets reach the filter chain with their rewritten loopback
// destination and are accepted; everything else that would leave loopback
// (other UDP, ICMP, all of IPv6, raw IP) is logged to the nflog group, where
// the sandbox reads it and reports it, and rejected so clients fail fast
// instead of hanging. The first filter rule only logs: the reset the kernel
// sends when a connection to a closed loopback port is refused, so that an
// attempt to reach a service on the runner's loopback (which the sandbox's
// own loopback hides) can be reported. The nat chain is in an ip-family
// table because every redirect is IPv4: an inet chain would also register
// IPv6 nat and conntrack hooks, whose first registration on a host patches
// kernel text on every CPU.
package netfilter
