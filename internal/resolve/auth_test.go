package resolve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileRegistry answers every manifest request with a 401 whose Bearer
// realm is realm (a function of the registry's own URL), serves /token
// (counting) with a token, and redirects /redirect to redirect.
func hostileRegistry(t *testing.T, realm func(self string) string, redirect string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var tokens atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			tokens.Add(1)
			w.Write([]byte(`{"token":"anon"}`))
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, redirect, http.StatusFound)
		case r.Header.Get("Authorization") == "Bearer anon":
			w.Header().Set("Docker-Content-Digest", nodeIndexDigest)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm(srv.URL)+`",service="registry.test",scope="repository:team/app:pull"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &tokens
}

// noDial is an HTTP client that fails (and counts) every connection other
// than to allowed, so that a test can never reach a real host.
func noDial(allowed string, dials *atomic.Int32) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == allowed {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		dials.Add(1)
		return nil, errors.New("test dialer: refused " + addr)
	}}
	return &http.Client{Transport: tr}
}

// The token realm of a hostile registry may point at an internal service,
// at plain http, or at some other host: none of them is contacted.
func TestRealmRefused(t *testing.T) {
	internal, internalCalls := countingServer(t) // the "internal" service on loopback
	iu, _ := url.Parse(internal.URL)
	tests := []struct {
		name      string
		realm     func(self string) string
		authHosts []string
	}{
		{name: "loopback_internal", realm: func(string) string { return internal.URL + "/latest/meta-data" }},
		{name: "loopback_internal_listed_without_allow", realm: func(string) string { return "https://" + iu.Host + "/x" }, authHosts: []string{iu.Hostname()}},
		{name: "localhost_name_listed", realm: func(string) string { return "https://localhost:" + iu.Port() + "/x" }, authHosts: []string{"localhost"}},
		{name: "link_local_listed", realm: func(string) string { return "https://169.254.169.254/latest" }, authHosts: []string{"169.254.169.254"}},
		{name: "private_listed", realm: func(string) string { return "https://10.1.2.3/token" }, authHosts: []string{"10.1.2.3"}},
		{name: "mapped_loopback_listed", realm: func(string) string { return "https://[::ffff:127.0.0.1]/token" }, authHosts: []string{"::ffff:127.0.0.1"}},
		{name: "http_other_host", realm: func(string) string { return "http://auth.other.test/token" }, authHosts: []string{"auth.other.test"}},
		{name: "https_other_host_unlisted", realm: func(string) string { return "https://auth.other.test/token" }},
		{name: "https_other_port_same_ip", realm: func(self string) string { return strings.Replace(self, "http://", "https://", 1) + "/token" }},
		{name: "credentials_in_realm", realm: func(self string) string { return strings.Replace(self, "http://", "http://u:p@", 1) + "/token" }},
		// The realm is on the registry's origin and redirects to the
		// internal service.
		{name: "redirect_to_internal", realm: func(self string) string { return self + "/redirect" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, tokens := hostileRegistry(t, tt.realm, internal.URL+"/latest/meta-data")
			ru, _ := url.Parse(reg.URL)
			var dials atomic.Int32
			r := New(Options{Registry: reg.URL, GitBase: "-", Retries: -1, AuthHosts: tt.authHosts, HTTPClient: noDial(ru.Host, &dials)})
			_, err := r.Digest(context.Background(), "registry.example/team/app", "1")
			if err == nil {
				t.Fatal("Digest succeeded, want the realm refused")
			}
			if !errors.Is(err, ErrForbiddenHost) {
				t.Errorf("error = %v, want ErrForbiddenHost", err)
			}
			if n := internalCalls.Load(); n != 0 {
				t.Errorf("the internal service got %d requests", n)
			}
			if n := dials.Load(); n != 0 {
				t.Errorf("%d connections were attempted to hosts other than the registry", n)
			}
			if n := tokens.Load(); n != 0 {
				t.Errorf("the token endpoint got %d requests", n)
			}
		})
	}
}

func TestRealmAllowed(t *testing.T) {
	// Same origin: the flow works (the fake registry is plain http on
	// loopback, which the user chose with the mirror option).
	reg, tokens := hostileRegistry(t, func(self string) string { return self + "/token" }, "")
	r := New(Options{Registry: reg.URL, GitBase: "-", Retries: -1})
	if _, err := r.Digest(context.Background(), "registry.example/team/app", "1"); err != nil {
		t.Fatalf("same-origin realm: %v", err)
	}
	if tokens.Load() != 1 {
		t.Errorf("token requests = %d, want 1", tokens.Load())
	}

	// A loopback realm on another port is asked only when listed and
	// allowed; https is still required, so serve TLS.
	auth := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"token":"anon"}`))
	}))
	defer auth.Close()
	au, _ := url.Parse(auth.URL)
	reg2, _ := hostileRegistry(t, func(string) string { return auth.URL + "/token" }, "")
	client := auth.Client()
	r = New(Options{Registry: reg2.URL, GitBase: "-", Retries: -1, HTTPClient: client, AuthHosts: []string{au.Host}, AllowPrivate: true})
	if _, err := r.Digest(context.Background(), "registry.example/team/app", "1"); err != nil {
		t.Fatalf("listed and allowed realm: %v", err)
	}
}

func TestCheckRealmSameSite(t *testing.T) {
	r := New(Options{})
	reg, _ := url.Parse("https://registry.example.co.uk")
	for realm, ok := range map[string]bool{
		"https://auth.example.co.uk/token":   true,
		"http://auth.example.co.uk/token":    false,
		"https://auth.other.co.uk/token":     false,
		"https://co.uk/token":                false,
		"https://registry.example.co.uk/tok": true,
	} {
		ru, _ := url.Parse(realm)
		if err := r.checkRealm(reg, ru); (err == nil) != ok {
			t.Errorf("checkRealm(%s) = %v, want ok=%v", realm, err, ok)
		}
	}
}

// The default client's token path refuses, at connect time, every host
// but the exempt one (the registry's) when it resolves to a non-public
// address.
func TestGuardedClientRefusesLoopback(t *testing.T) {
	srv, calls := countingServer(t)
	su, _ := url.Parse(srv.URL)
	c := guardedClient(nil)
	get := func(exempt any) error {
		ctx := context.Background()
		if exempt != nil {
			ctx = context.WithValue(ctx, guardKey{}, exempt)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get("registry.example:443"); !errors.Is(err, ErrForbiddenHost) {
		t.Errorf("guarded GET %s = %v, want ErrForbiddenHost", srv.URL, err)
	}
	if calls.Load() != 0 {
		t.Errorf("server got %d requests", calls.Load())
	}
	// The registry's own host:port is exempt, and without the mark the
	// same client connects.
	if err := get(su.Host); err != nil {
		t.Errorf("GET of the exempt host: %v", err)
	}
	if err := get(nil); err != nil {
		t.Errorf("unguarded GET: %v", err)
	}
}

// A realm on the registry's origin that redirects to a loopback service
// listed with --registry-auth-host is still refused without
// --allow-private-registry (the default client, no injected dialer).
func TestRealmRedirectToListedLoopback(t *testing.T) {
	internal := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("internal service got %s", r.URL)
	}))
	defer internal.Close()
	iu, _ := url.Parse(internal.URL)
	reg, tokens := hostileRegistry(t, func(self string) string { return self + "/redirect" }, internal.URL+"/token")
	r := New(Options{Registry: reg.URL, GitBase: "-", Retries: -1, AuthHosts: []string{iu.Host}})
	_, err := r.Digest(context.Background(), "registry.example/team/app", "1")
	if !errors.Is(err, ErrForbiddenHost) {
		t.Errorf("Digest = %v, want ErrForbiddenHost", err)
	}
	if tokens.Load() != 0 {
		t.Errorf("token endpoint got %d requests", tokens.Load())
	}
}

func TestPublicAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": false, "10.0.0.1": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false,
		"fe80::1": false, "fd00::1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false,
		"8.8.8.8": true, "2001:4860::1": true,
	} {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

// The GitHub token goes to the API host only: a redirect to another
// origin (here another port on loopback) is followed without it.
func TestTokenNotForwardedOnCrossHostRedirect(t *testing.T) {
	var otherAuth atomic.Value
	otherAuth.Store("unset")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte(`{"object":{"type":"commit","sha":"` + shaLight + `"}}`))
	}))
	defer other.Close()
	ou, _ := url.Parse(other.URL)
	var apiAuth atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiAuth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/repos/o/r/git/ref/tags/v1":
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
		case "/repos/o/r/git/ref/tags/v2":
			// localhost is another host name than 127.0.0.1, same port.
			http.Redirect(w, r, "http://localhost:"+ou.Port()+"/elsewhere", http.StatusMovedPermanently)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	r := New(Options{GitHubAPI: api.URL, GitBase: "-", Token: "gh-secret", Retries: -1, Timeout: 5 * time.Second})
	for _, ref := range []string{"v1", "v2"} {
		otherAuth.Store("unset")
		sha, err := r.Commit(context.Background(), "o", "r", ref)
		if err != nil {
			t.Fatalf("Commit(%s): %v", ref, err)
		}
		if sha != shaLight {
			t.Errorf("Commit(%s) = %s, want %s", ref, sha, shaLight)
		}
		if got := apiAuth.Load(); got != "Bearer gh-secret" {
			t.Errorf("API host got Authorization %q, want the token", got)
		}
		if got := otherAuth.Load(); got != "" {
			t.Errorf("redirect target got Authorization %q, want none", got)
		}
	}
}

// Server bodies are cut and escaped before they reach an error message.
func TestErrorBodyEscaped(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("::error file=x::pwned\x1b]8;;http://evil.test\x07click" + strings.Repeat("A", 5000)))
	}))
	defer api.Close()
	r := New(Options{GitHubAPI: api.URL, GitBase: "-", Retries: -1})
	_, err := r.Commit(context.Background(), "o", "r", "v1")
	if err == nil {
		t.Fatal("Commit succeeded")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\x07\n") || strings.Contains(msg, ": ::error") {
		t.Errorf("error carries raw server bytes: %q", msg)
	}
	if !strings.Contains(msg, `\x3a:error`) {
		t.Errorf("error %q does not show the neutralised body", msg)
	}
	if len(msg) > 600 {
		t.Errorf("error is %d bytes long, want the body cut", len(msg))
	}
}

// Through a proxy, the destination is resolved and checked before the
// request is handed over; the proxy's own (private) address is not
// checked, and the exempt registry goes through unchecked.
func TestGuardedClientProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1) // an HTTP proxy gets absolute-form requests
		w.Write([]byte("via proxy " + r.URL.String()))
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	c := guardedClient(func(*http.Request) (*url.URL, error) { return pu, nil })
	get := func(target string, exempt any) error {
		ctx := context.Background()
		if exempt != nil {
			ctx = context.WithValue(ctx, guardKey{}, exempt)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, target := range []string{"http://127.0.0.1:9/token", "http://localhost:9/token", "http://[::1]:9/", "http://169.254.169.254/latest"} {
		if err := get(target, "registry.example:443"); !errors.Is(err, ErrForbiddenHost) {
			t.Errorf("guarded GET %s via proxy = %v, want ErrForbiddenHost", target, err)
		}
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("the proxy got %d requests for internal destinations", n)
	}
	// Public destination (an IP literal: no DNS): handed to the proxy,
	// whose loopback address is not refused.
	if err := get("http://192.0.2.1/token", "registry.example:443"); !errors.Is(err, ErrForbiddenHost) {
		t.Errorf("TEST-NET-1 = %v, want refused (documentation range is not public)", err)
	}
	if err := get("http://1.2.3.4/token", "registry.example:443"); err != nil {
		t.Errorf("public destination via proxy: %v", err)
	}
	if err := get("http://127.0.0.1:9/token", "127.0.0.1:9"); err != nil {
		t.Errorf("exempt registry via proxy: %v", err)
	}
	if n := proxied.Load(); n != 2 {
		t.Errorf("the proxy got %d requests, want 2", n)
	}
}
