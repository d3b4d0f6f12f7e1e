package session

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
)

// netPolicy allows names on the shared CDN, a CONNECT proxy, an h2c
// server, a raw server, and names whose upstream answers point at
// metadata, private and loopback addresses; db.test:5432 is opted in to
// opaque TCP. cdn-evil.test, served by the same CDN, is not allowed.
const netPolicy = `
allow:
  - cdn-allowed.test
  - proxy.test:3128
  - h2c.test
  - raw.test
  - metadata.test
  - linklocal.test
  - private.test
  - cgnat.test
  - rebind.test
tcp:
  - db.test:5432
`

func get(host string) string { return "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n" }

// netCase is one row of the network bypass table.
type netCase struct {
	name string
	mode string // "block" (default) or "audit"
	args []string
	// want is an event that must exist, with Verdict (default block)
	// and Reason as a substring.
	want event.Event
	// server and bytes: the fake server that must not be reached, and
	// whether it may have read bytes at all (a keep-alive case reaches it
	// with its first, allowed request). forbiddenHost is a Host it must
	// never have served.
	server        func(*netWorld) *fakeServer
	mayRead       bool
	forbiddenHost string
	exit          int // the run's exit code
}

func netCases() []netCase {
	cdn := func(w *netWorld) *fakeServer { return w.cdnHTTP }
	cdnTLS := func(w *netWorld) *fakeServer { return w.cdnHTTPS }
	evil := "cdn-evil.test"
	conn := func(name, reason string) event.Event {
		return event.Event{Kind: event.KindConnect, Name: name, Reason: reason}
	}
	return []netCase{
		// Class 1: unverified names on allowed connections.
		{name: "late_tls_forged_sni", args: sendArgs("cdn-allowed.test:443", 400, string(clientHello(evil, false))),
			want: event.Event{Kind: event.KindConnect, Name: "cdn-allowed.test", SNI: evil, Reason: "sni mismatch"}, server: cdnTLS, exit: 3},
		{name: "late_http_forged_host", args: sendArgs("cdn-allowed.test:80", 400, get(evil)),
			want: event.Event{Kind: event.KindConnect, Name: "cdn-allowed.test", Host: evil, Reason: "host mismatch"}, server: cdn, exit: 3},
		{name: "tls_forged_sni", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello(evil, false))),
			want: conn("cdn-allowed.test", "sni mismatch"), server: cdnTLS, exit: 3},
		{name: "absolute_form", args: sendArgs("cdn-allowed.test:80", 0, "GET http://cdn-evil.test/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n"),
			want: event.Event{Kind: event.KindConnect, Name: "cdn-allowed.test", Host: evil, Reason: "absolute-form mismatch"}, server: cdn, exit: 3},
		{name: "absolute_form_without_host", args: sendArgs("cdn-allowed.test:80", 0, "GET http://cdn-evil.test/ HTTP/1.1\r\n\r\n"),
			want: conn("cdn-allowed.test", "absolute-form mismatch"), server: cdn, exit: 3},
		{name: "connect_through_allowed_proxy", args: sendArgs("proxy.test:3128", 0, "CONNECT cdn-evil.test:443 HTTP/1.1\r\nHost: proxy.test:3128\r\n\r\n"),
			want: event.Event{Kind: event.KindConnect, Name: "proxy.test", Host: evil, Reason: "connect mismatch"}, server: func(w *netWorld) *fakeServer { return w.proxy }, exit: 3},
		{name: "connect_lower_case", args: sendArgs("proxy.test:3128", 0, "connect cdn-evil.test:443 HTTP/1.1\r\nHost: proxy.test\r\n\r\n"),
			want: conn("proxy.test", "connect mismatch"), server: func(w *netWorld) *fakeServer { return w.proxy }, exit: 3},
		{name: "keep_alive_second_request", args: sendArgs("cdn-allowed.test:80", 0, get("cdn-allowed.test"), get(evil)),
			want:   event.Event{Kind: event.KindConnect, Name: "cdn-allowed.test", Host: evil, Reason: "second request host mismatch"},
			server: cdn, mayRead: true, forbiddenHost: evil, exit: 3},
		{name: "pipelined_request", args: sendArgs("cdn-allowed.test:80", 0, get("cdn-allowed.test")+get(evil)),
			want: conn("cdn-allowed.test", "second request host mismatch"), server: cdn, exit: 3},
		{name: "request_after_body", args: sendArgs("cdn-allowed.test:80", 0, "POST / HTTP/1.1\r\nHost: cdn-allowed.test\r\nContent-Length: 4\r\n\r\nbody"+get(evil)),
			want: conn("cdn-allowed.test", "second request host mismatch"), server: cdn, exit: 3},
		{name: "chunked_and_content_length", args: sendArgs("cdn-allowed.test:80", 0, "POST / HTTP/1.1\r\nHost: cdn-allowed.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+get(evil)),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdn, exit: 3},
		{name: "request_in_get_body", args: sendArgs("cdn-allowed.test:80", 0, "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nContent-Length: 39\r\n\r\n"+get(evil)),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdn, exit: 3},
		{name: "chunked_in_http10", args: sendArgs("cdn-allowed.test:80", 0, "POST / HTTP/1.0\r\nHost: cdn-allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n26\r\n"+get(evil)+"\r\n0\r\n\r\n"),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdn, exit: 3},
		{name: "network_path_target", args: sendArgs("cdn-allowed.test:80", 0, "GET //cdn-evil.test/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n"),
			want: conn("cdn-allowed.test", "absolute-form mismatch"), server: cdn, exit: 3},
		{name: "forwarded_host", args: sendArgs("cdn-allowed.test:80", 0, "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nX-Forwarded-Host: cdn-evil.test\r\n\r\n"),
			want: conn("cdn-allowed.test", "host mismatch: forwarded host"), server: cdn, exit: 3},
		{name: "two_host_headers", args: sendArgs("cdn-allowed.test:80", 0, "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nHost: cdn-evil.test\r\n\r\n"),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdn, exit: 3},
		{name: "lower_case_method", args: sendArgs("cdn-allowed.test:80", 0, "get / HTTP/1.1\r\nHost: cdn-evil.test\r\n\r\n"),
			want: conn("cdn-allowed.test", "host mismatch"), server: cdn, exit: 3},
		{name: "leading_crlf", args: sendArgs("cdn-allowed.test:80", 0, "\r\n"+get(evil)),
			want: conn("cdn-allowed.test", "host mismatch"), server: cdn, exit: 3},
		{name: "no_host_http10", args: sendArgs("cdn-allowed.test:80", 0, "GET / HTTP/1.0\r\n\r\n"),
			want: conn("cdn-allowed.test", "no host"), server: cdn, exit: 3},
		{name: "h2c_prior_knowledge", args: sendArgs("h2c.test:80", 0, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
			want: conn("h2c.test", "h2c"), server: func(w *netWorld) *fakeServer { return w.h2c }, exit: 3},
		{name: "h2c_upgrade", args: sendArgs("h2c.test:80", 0, "GET / HTTP/1.1\r\nHost: h2c.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
			want: conn("h2c.test", "h2c"), server: func(w *netWorld) *fakeServer { return w.h2c }, exit: 3},
		{name: "websocket_upgrade", args: sendArgs("cdn-allowed.test:80", 0, "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
			want: conn("cdn-allowed.test", "upgrade"), server: cdn, exit: 3},
		{name: "tls_no_sni", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello("", false))),
			want: conn("cdn-allowed.test", "no sni"), server: cdnTLS, exit: 3},
		{name: "ech", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello("cdn-allowed.test", true))),
			want: conn("cdn-allowed.test", "ech"), server: cdnTLS, exit: 3},
		{name: "opaque_garbage", args: sendArgs("raw.test:9000", 0, "\x00\x01garbage"),
			want: conn("raw.test", "opaque tcp not allowed"), server: func(w *netWorld) *fakeServer { return w.raw }, exit: 3},
		{name: "ssh_like_opening", args: sendArgs("raw.test:9000", 0, "SSH-2.0-OpenSSH_9.6\r\n"),
			want: conn("raw.test", "opaque tcp not allowed"), server: func(w *netWorld) *fakeServer { return w.raw }, exit: 3},
		// Class 6: resolution.
		{name: "metadata_answer", args: sendArgs("metadata.test:80", 0, get("metadata.test")),
			want: conn("metadata.test", "metadata answer"), server: func(w *netWorld) *fakeServer { return w.metadata }, exit: 3},
		{name: "link_local_answer", args: sendArgs("linklocal.test:80", 0, get("linklocal.test")),
			want: conn("linklocal.test", "link-local answer"), server: func(w *netWorld) *fakeServer { return w.internal }, exit: 3},
		{name: "private_answer", args: sendArgs("private.test:80", 0, get("private.test")),
			want: conn("private.test", "private answer"), server: func(w *netWorld) *fakeServer { return w.internal }, exit: 3},
		{name: "cgnat_answer", args: sendArgs("cgnat.test:80", 0, get("cgnat.test")),
			want: conn("cgnat.test", "private answer"), server: func(w *netWorld) *fakeServer { return w.internal }, exit: 3},
		{name: "loopback_rebind", args: sendArgs("rebind.test:80", 0, get("rebind.test")),
			want: conn("rebind.test", "loopback answer"), server: func(w *netWorld) *fakeServer { return w.internal }, exit: 3},
		{name: "synthetic_never_handed_out", args: helperArgs("tcp", "198.18.200.7:443"),
			want: event.Event{Kind: event.KindConnect, IP: "198.18.200.7", Reason: "synthetic address not handed out"}, exit: 3},
		// Class 9: audit mode records what block mode refuses.
		{name: "audit_late_forged_sni", mode: "audit", args: sendArgs("cdn-allowed.test:443", 400, string(clientHello(evil, false))),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Name: "cdn-allowed.test", SNI: evil, Reason: "sni mismatch"}, server: cdnTLS, mayRead: true},
		{name: "audit_keep_alive_second_request", mode: "audit", args: sendArgs("cdn-allowed.test:80", 0, get("cdn-allowed.test"), get(evil)),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Name: "cdn-allowed.test", Host: evil, Reason: "second request host mismatch"}, server: cdn, mayRead: true},
		{name: "audit_absolute_form", mode: "audit", args: sendArgs("cdn-allowed.test:80", 0, "GET http://cdn-evil.test/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n"),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Name: "cdn-allowed.test", Host: evil, Reason: "absolute-form mismatch"}, server: cdn, mayRead: true},
		{name: "audit_metadata_answer_still_blocked", mode: "audit", args: sendArgs("metadata.test:80", 0, get("metadata.test")),
			want: conn("metadata.test", "metadata answer"), server: func(w *netWorld) *fakeServer { return w.metadata }, exit: 3},
		{name: "audit_literal_metadata_address", mode: "audit", args: helperArgs("tcp", "169.254.169.254:80"),
			want: event.Event{Kind: event.KindConnect, IP: "169.254.169.254", Reason: "metadata address"}, server: func(w *netWorld) *fakeServer { return w.metadata }, exit: 3},
		// What the policy allows still works.
		{name: "allowed_keep_alive", args: sendArgs("cdn-allowed.test:80", 0, get("cdn-allowed.test"), get("cdn-allowed.test")),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "cdn-allowed.test", Host: "cdn-allowed.test"}, server: cdn, mayRead: true, forbiddenHost: evil},
		{name: "allowed_h2c_server_over_http1", args: sendArgs("h2c.test:80", 0, get("h2c.test")),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "h2c.test"}, server: func(w *netWorld) *fakeServer { return w.h2c }, mayRead: true},
		{name: "opaque_tcp_opted_in", args: sendArgs("db.test:5432", 0),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "db.test", Rule: "tcp: db.test:5432"}, server: func(w *netWorld) *fakeServer { return w.raw }, mayRead: true},
	}
}

// TestBypassNet runs the network bypass table: every way of reaching
// another host through an allowed connection (class 1), through
// resolution (class 6), and what audit mode records of them (class 9).
// Each case asserts the event, that the forbidden server read nothing,
// and the run's exit code. TestBypassNetRootless runs it again as nobody.
func TestBypassNet(t *testing.T) {
	if want := os.Getenv("BUILDWALL_TEST_UID"); want != "" && want != strconv.Itoa(os.Getuid()) {
		t.Fatalf("running as uid %d, want %s", os.Getuid(), want)
	}
	t.Logf("running as uid %d", os.Getuid())
	for _, tc := range append(netCases(), redteamNetCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			w := newNetWorld(t)
			mode := tc.mode
			if mode == "" {
				mode = "block"
			}
			oc := newWorld(t).run(t, "mode: "+mode+netPolicy, tc.args, w.options)
			if oc.err != nil {
				t.Fatalf("Run: %v", oc.err)
			}
			if oc.res.ExitCode != tc.exit {
				t.Errorf("exit code %d, want %d (output %q)", oc.res.ExitCode, tc.exit, oc.out)
			}
			want := tc.want
			if want.Verdict == "" {
				want.Verdict = event.VerdictBlock
			}
			if len(find(oc.events, want)) == 0 {
				t.Errorf("no event like %+v in the report:\n%s", want, dumpEvents(oc.events))
			}
			if len(find(oc.stream, want)) == 0 {
				t.Errorf("no event like %+v in the --events stream", want)
			}
			if want.Verdict != event.VerdictAllow {
				// Nothing may say the forbidden name was simply allowed.
				for _, e := range oc.events {
					if e.Kind == event.KindConnect && e.Verdict == event.VerdictAllow && (e.SNI == "cdn-evil.test" || e.Host == "cdn-evil.test") {
						t.Errorf("event records the forbidden name as allowed: %+v", e)
					}
				}
			}
			for _, d := range w.dialed() {
				if ip, _, _ := strings.Cut(d, ":"); slices.Contains([]string{"169.254.169.254", "169.254.7.7", "10.0.0.5", "100.64.0.9", "127.0.0.1"}, ip) {
					t.Errorf("the proxy dialled %s", d)
				}
			}
			if tc.server == nil {
				return
			}
			s := tc.server(w)
			n, hosts := s.received()
			if !tc.mayRead && n != 0 {
				t.Errorf("the %s server read %d bytes of a refused connection (hosts %v)", s.name, n, hosts)
			}
			if tc.forbiddenHost != "" && hosts[tc.forbiddenHost] != 0 {
				t.Errorf("the %s server served %s %d times", s.name, tc.forbiddenHost, hosts[tc.forbiddenHost])
			}
		})
	}
}

// TestBypassNetRootless runs TestBypassNet as nobody (uid 65534): the test
// binary is copied where nobody can run it and re-executed with that
// uid, so the sandbox is created without any privilege.
func TestBypassNetRootless(t *testing.T) {
	skipWithoutSandbox(t)
	if os.Getuid() != 0 {
		t.Skip("not root: TestBypassNet itself runs rootless")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir() // $TMPDIR/TestBypassNetRootlessNNN/001, both 0700
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "session.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestBypassNet$", "-test.count", "1", "-test.v")
	cmd.Dir = home
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home, "BUILDWALL_TEST_UID=65534"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", lastLines(string(out), 60))
	if err != nil {
		t.Fatalf("TestBypassNet as nobody: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestBypassNet ") || !strings.Contains(string(out), "running as uid 65534") {
		t.Fatal("TestBypassNet did not run as nobody")
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
