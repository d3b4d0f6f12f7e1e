package dnsproxy

import (
	"net/netip"
	"sync"
)

// pool hands out synthetic addresses, one per name, sequentially from a
// prefix (skipping the network and broadcast addresses), and never reuses
// one during a run: a connection opened late must still find its name. Its
// size bounds the memory it uses.
type pool struct {
	prefix netip.Prefix
	max    int

	mu     sync.Mutex
	next   netip.Addr
	byName map[string]netip.Addr
	byAddr map[netip.Addr]string
}

func newPool(prefix netip.Prefix, maxNames int) *pool {
	// Usable addresses: the prefix size minus network and broadcast.
	if size := 1<<(32-prefix.Bits()) - 2; size < maxNames {
		maxNames = size
	}
	return &pool{
		prefix: prefix,
		max:    maxNames,
		next:   prefix.Addr().Next(),
		byName: map[string]netip.Addr{},
		byAddr: map[netip.Addr]string{},
	}
}

// addrFor returns name's address, assigning the next free one; false when
// the pool is exhausted.
func (p *pool) addrFor(name string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byName[name]; ok {
		return a, true
	}
	if len(p.byName) >= p.max {
		return netip.Addr{}, false
	}
	a := p.next
	p.next = a.Next()
	p.byName[name] = a
	p.byAddr[a] = name
	return a, true
}

func (p *pool) nameFor(a netip.Addr) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.byAddr[a.Unmap()]
	return n, ok
}
