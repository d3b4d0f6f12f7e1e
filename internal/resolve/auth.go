package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/net/publicsuffix"
)

// ErrForbiddenHost is wrapped by the error of a request pin refuses to
// make: a registry token realm that is not https on the registry's own host
// or a host of Options.AuthHosts, or that points at a loopback, link-local
// or private address without Options.AllowPrivate.
var ErrForbiddenHost = errors.New("forbidden host")

// Who may receive what:
//   - the GitHub token goes to Options.GitHubAPI only; a redirect to another
//     origin (scheme, host or port) is followed without it;
//   - a registry's Bearer token goes to that registry only, by the same
//     rule;
//   - the anonymous token request goes to the realm a 401 names only when
//     checkRealm accepts it, and every redirect of it is checked again.

// redirectCheckKey carries, in a request's context, an extra check of every
// redirect target (the realm rules for token requests).
type redirectCheckKey struct{}

// guardKey carries, in a request's context, the host:port (default port
// explicit) that the connect-time check exempts: the registry's own, which
// may well be private. Every other connection the request makes (its
// redirects included) must reach a public address.
type guardKey struct{}

// checkDialKey marks, in a dial's context, a connection that must reach a
// public address.
type checkDialKey struct{}

// checkRedirect is the CheckRedirect of the resolver's clients: at most 10
// hops, the Authorization header dropped on a change of origin, and the
// request's own check (if any) applied to each target.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !sameOrigin(req.URL, via[0].URL) {
		req.Header.Del("Authorization")
	}
	if check, ok := req.Context().Value(redirectCheckKey{}).(func(*url.URL) error); ok {
		if err := check(req.URL); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
	}
	return nil
}

// withRedirectCheck wraps c so that checkRedirect applies to it (the
// client is copied; c is not changed).
func withRedirectCheck(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = checkRedirect
	return &cc
}

// guardedClient is an http.Client with its own connection pool for token
// requests: when a request's context carries guardKey, a connection to any
// host:port but the exempt one is refused unless the address it resolved
// to is public. The check runs after resolution, on the address actually
// dialed, so a name that resolves to an internal address (DNS rebinding
// included) is refused. Through a proxy (proxy, normally
// http.ProxyFromEnvironment), the destination's name is resolved and
// checked before the request is handed to the proxy, and connections to
// the proxy itself are not checked: it is the user's.
func guardedClient(proxy func(*http.Request) (*url.URL, error)) *http.Client {
	d := &net.Dialer{ControlContext: func(ctx context.Context, network, address string, _ syscall.RawConn) error {
		if ctx.Value(checkDialKey{}) == nil {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot check address %q", ErrForbiddenHost, address)
		}
		return checkAddr(ap.Addr())
	}}
	var proxies sync.Map // canonical host:port of every proxy used -> true
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(req *http.Request) (*url.URL, error) {
		if proxy == nil {
			return nil, nil
		}
		pu, err := proxy(req)
		if err != nil || pu == nil {
			return pu, err
		}
		proxies.Store(strings.ToLower(canonicalHost(pu)), true)
		if guarded(req.Context(), canonicalHost(req.URL)) {
			ips, err := net.DefaultResolver.LookupNetIP(req.Context(), "ip", req.URL.Hostname())
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", clip(req.URL.Hostname()), err)
			}
			for _, ip := range ips {
				if err := checkAddr(ip); err != nil {
					return nil, err
				}
			}
		}
		return pu, nil
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, isProxy := proxies.Load(strings.ToLower(addr)); !isProxy && guarded(ctx, addr) {
			ctx = context.WithValue(ctx, checkDialKey{}, true)
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// guarded reports whether ctx asks for the connect-time check and hostport
// is not the exempt registry.
func guarded(ctx context.Context, hostport string) bool {
	exempt, ok := ctx.Value(guardKey{}).(string)
	return ok && !strings.EqualFold(hostport, exempt)
}

// checkAddr refuses non-public addresses.
func checkAddr(a netip.Addr) error {
	if !publicAddr(a) {
		return fmt.Errorf("%w: %s is a loopback, link-local or private address (allow with --allow-private-registry)", ErrForbiddenHost, a)
	}
	return nil
}

// publicAddr reports whether a is a global unicast address outside the
// private, shared (CGNAT), unique-local and documentation ranges.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 of any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4 of any IPv4 address
}

// checkRealm decides whether the token realm ru named by registry's 401
// may be asked for a token. Accepted: the registry's own origin (same
// scheme, host and port: the user chose to talk to it), or https on a host
// of the same site as the registry (registry.example and auth.example share
// the registrable domain example, per the public suffix list; never for IP
// addresses), or https on a host listed in Options.AuthHosts (a HOST entry
// allows any port, HOST:PORT that port). Even a listed host is refused when it is a loopback, link-local or
// private address, unless Options.AllowPrivate; names are checked again
// when connecting (guardedClient). Errors wrap ErrForbiddenHost.
func (r *Resolver) checkRealm(registry, ru *url.URL) error {
	if ru.User != nil {
		return fmt.Errorf("%w: token realm %s carries credentials", ErrForbiddenHost, clip(ru.Redacted()))
	}
	if sameOrigin(ru, registry) {
		return nil
	}
	if ru.Scheme != "https" {
		return fmt.Errorf("%w: token realm %s is not https", ErrForbiddenHost, clip(ru.Redacted()))
	}
	if !r.authHostListed(ru) && !sameSite(ru.Hostname(), registry.Hostname()) {
		return fmt.Errorf("%w: token realm %s is not on the registry's host %s (allow it with --registry-auth-host %s)",
			ErrForbiddenHost, clip(ru.Redacted()), clip(registry.Host), clip(ru.Hostname()))
	}
	if !r.opts.AllowPrivate && internalHost(ru.Hostname()) {
		return fmt.Errorf("%w: token realm %s is a loopback, link-local or private address (allow with --allow-private-registry)",
			ErrForbiddenHost, clip(ru.Redacted()))
	}
	return nil
}

// authHostListed reports whether u's host is in Options.AuthHosts.
func (r *Resolver) authHostListed(u *url.URL) bool {
	for _, h := range r.opts.AuthHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err == nil {
			if h == strings.ToLower(canonicalHost(u)) {
				return true
			}
			continue
		}
		if strings.Trim(h, "[]") == strings.ToLower(u.Hostname()) {
			return true
		}
	}
	return false
}

// sameSite reports whether two host names share their registrable domain
// (eTLD+1). IP addresses and names without one share nothing.
func sameSite(a, b string) bool {
	if _, err := netip.ParseAddr(a); err == nil {
		return false
	}
	if _, err := netip.ParseAddr(b); err == nil {
		return false
	}
	sa, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(strings.TrimSuffix(a, ".")))
	if err != nil {
		return false
	}
	sb, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(strings.TrimSuffix(b, ".")))
	return err == nil && sa == sb
}

// internalHost reports whether a host name or IP literal is obviously
// internal: localhost names and non-public addresses.
func internalHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return !publicAddr(a)
	}
	return false
}

// sameOrigin compares scheme, host and port (default ports made explicit).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(canonicalHost(a), canonicalHost(b))
}

// canonicalHost is u's host:port with the scheme's default port filled in.
func canonicalHost(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if strings.EqualFold(u.Scheme, "http") {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
