package dnsproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

const upstreamTimeout = 5 * time.Second

// ErrNoAddress is returned by Resolve when the upstream resolver knows the
// name but returned no usable address.
var ErrNoAddress = errors.New("no usable address")

// Resolve asks the upstream resolver for name's real IPv4 and IPv6
// addresses (IPv4 first), for the proxy's dialer. Synthetic addresses and
// addresses under the resolution limits (answers.go: loopback unless
// Config.AllowLoopbackAnswers, link-local, metadata, private, ...) are
// dropped unless a CIDR allow entry lists them. Answers are cached for
// their TTL (at most a minute). Errors are an *AnswerError (wrapping
// ErrAnswerRefused) when every address was dropped, wrap ErrNoAddress
// when there was none, or describe the upstream failure or its rcode. Resolve
// does not consult the policy and emits no event: the caller has decided.
func (s *Server) Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	now := s.c.Now()
	if addrs, ok := s.cache.get(name, now); ok {
		return addrs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	type result struct {
		addrs []netip.Addr
		ttl   uint32
		err   error
	}
	ask := func(t uint16) result {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), t)
		m.SetEdns0(1232, false)
		r, err := s.c.Exchange(ctx, m)
		if err != nil {
			return result{err: err}
		}
		if r.Rcode != dns.RcodeSuccess {
			return result{err: fmt.Errorf("upstream answered %s", dns.RcodeToString[r.Rcode])}
		}
		res := result{ttl: 60}
		for _, rr := range r.Answer {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA)
			default:
				continue
			}
			res.ttl = min(res.ttl, rr.Header().Ttl)
			if a.IsValid() {
				res.addrs = append(res.addrs, a.Unmap())
			}
		}
		return res
	}
	ch := make(chan result, 1)
	go func() { ch <- ask(dns.TypeAAAA) }()
	v4 := ask(dns.TypeA)
	v6 := <-ch
	addrs, refused := s.filterAnswers(name, append(v4.addrs, v6.addrs...))
	if len(addrs) == 0 {
		if refused != nil {
			return nil, refused
		}
		if err := errors.Join(v4.err, v6.err); err != nil {
			return nil, fmt.Errorf("resolve %s: %w", name, err)
		}
		return nil, fmt.Errorf("resolve %s: %w", name, ErrNoAddress)
	}
	ttl := min(v4.ttl, v6.ttl)
	if v4.err != nil || v6.err != nil {
		ttl = 0 // do not cache a half answer
	}
	s.cache.put(name, addrs, now, now.Add(time.Duration(ttl)*time.Second))
	return addrs, nil
}

// udpExchange sends m to addr over UDP and retries over TCP when the
// answer is truncated.
func udpExchange(addr string) func(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	udp := &dns.Client{Net: "udp", Timeout: upstreamTimeout}
	tcp := &dns.Client{Net: "tcp", Timeout: upstreamTimeout}
	return func(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
		r, _, err := udp.ExchangeContext(ctx, m, addr)
		if err == nil && r.Truncated {
			r, _, err = tcp.ExchangeContext(ctx, m, addr)
		}
		if err != nil {
			return nil, fmt.Errorf("ask %s: %w", addr, err)
		}
		return r, nil
	}
}

// cache is a small bounded TTL cache of resolved addresses.
type cache struct {
	max int

	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

func newCache(max int) *cache { return &cache{max: max, m: map[string]cacheEntry{}} }

func (c *cache) get(name string, now time.Time) ([]netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[name]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return append([]netip.Addr(nil), e.addrs...), true
}

func (c *cache) put(name string, addrs []netip.Addr, now, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: drop arbitrary entries
			if len(c.m) < c.max/2 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[name] = cacheEntry{addrs: addrs, expires: expires}
}
