package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/report"
)

// world is everything outside the sandbox that a test build may talk to:
// a fake upstream DNS server and fake HTTP and HTTPS servers, all on
// 127.0.0.1, and the dialer that maps test names to them. Nothing in a test
// ever dials another address: the dialer refuses (and records) everything
// it does not know.
type world struct {
	t        *testing.T
	upstream string // 127.0.0.1:port of the fake DNS server
	http     *httptest.Server
	https    *httptest.Server
	routes   map[string]string // "name:port" → loopback address

	mu       sync.Mutex
	queries  []string            // names the upstream DNS server was asked
	dials    []string            // addresses the proxy dialed
	hits     []string            // "host path" the fake servers served
	dialedAs map[string][]string // address dialed → local addresses of its connections
	received map[string]int64    // client address → bytes the fake HTTP(S) servers read from it
}

// countingListener counts the bytes the fake servers read, per client
// address (the local address of a connection the proxy dialed).
type countingListener struct {
	net.Listener
	w *world
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, w: l.w, from: c.RemoteAddr().String()}, nil
}

type countingConn struct {
	net.Conn
	w    *world
	from string
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.mu.Lock()
	c.w.received[c.from] += int64(n)
	c.w.mu.Unlock()
	return n, err
}

// bytesReceived returns how many bytes the fake servers read over the
// connections dialed for address, after stopping them (so every connection
// has been read to its end).
func (w *world) bytesReceived(address string) int64 {
	w.http.Close()
	w.https.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, from := range w.dialedAs[address] {
		n += w.received[from]
	}
	return n
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, routes: map[string]string{}, dialedAs: map[string][]string{}, received: map[string]int64{}}
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.hits = append(w.hits, r.Host+" "+r.URL.Path)
		w.mu.Unlock()
		fmt.Fprintf(rw, "hello from %s", r.Host)
	})
	w.http = httptest.NewUnstartedServer(handler)
	w.http.Listener = &countingListener{Listener: w.http.Listener, w: w}
	w.http.Start()
	t.Cleanup(w.http.Close)
	w.https = httptest.NewUnstartedServer(handler)
	w.https.Listener = &countingListener{Listener: w.https.Listener, w: w}
	w.https.StartTLS()
	t.Cleanup(w.https.Close)
	for _, n := range []string{"allowed.test", "evil.test", "tls.test"} {
		w.routes[n+":80"] = w.http.Listener.Addr().String()
		w.routes[n+":443"] = w.https.Listener.Addr().String()
	}

	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(rw dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			w.mu.Lock()
			w.queries = append(w.queries, strings.TrimSuffix(qq.Name, "."))
			w.mu.Unlock()
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		rw.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	w.upstream = pc.LocalAddr().String()
	return w
}

// dial is the proxy's injected dialer.
func (w *world) dial(ctx context.Context, network, address string) (net.Conn, error) {
	w.mu.Lock()
	w.dials = append(w.dials, address)
	w.mu.Unlock()
	target, ok := w.routes[address]
	if !ok {
		host, _, _ := net.SplitHostPort(address)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("test dialer: %s is outside the test world, refusing", address)
		}
		target = address // a host port on the runner's loopback
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, target)
	if err == nil {
		w.mu.Lock()
		w.dialedAs[address] = append(w.dialedAs[address], c.LocalAddr().String())
		w.mu.Unlock()
	}
	return c, err
}

func (w *world) snapshot() (queries, dials, hits []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.queries...), append([]string(nil), w.dials...), append([]string(nil), w.hits...)
}

// outcome is one finished run.
type outcome struct {
	res    *Result
	out    string // the command's stdout+stderr
	events []event.Event
	stream []event.Event // what --events streamed
	report *report.Report
	err    error
}

func skipWithoutSandbox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("kernel without user namespaces")
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces disabled (user.max_user_namespaces=0)")
	}
}

func compile(t *testing.T, yml string) *policy.Policy {
	t.Helper()
	spec, err := policy.Parse("test-policy.yml", []byte(yml))
	if err != nil {
		t.Fatalf("parse policy: %v", err)
	}
	p, err := policy.Compile(spec, policy.Env{})
	if err != nil {
		t.Fatalf("compile policy: %v", err)
	}
	return p
}

// run runs args in the sandbox under the policy yml with the test world.
func (w *world) run(t *testing.T, yml string, args []string, mod ...func(*Options)) outcome {
	t.Helper()
	skipWithoutSandbox(t)
	var out, stream, rep, summary bytes.Buffer
	o := Options{
		Args: args, Stdout: &out, Stderr: &out,
		Policy: compile(t, yml), Upstream: w.upstream, Dial: w.dial,
		AllowLoopbackAnswers: true,
		FailOnBlock:          true,
		Events:               &stream, Report: &rep, Summary: &summary,
		SandboxExe: os.Args[0], SandboxInitArgs: []string{"__sandbox-init"},
	}
	for _, m := range mod {
		m(&o)
	}
	res, err := Run(context.Background(), o)
	oc := outcome{res: res, out: out.String(), err: err}
	if res != nil {
		oc.events = res.Report.Events
	}
	if s, err := event.ReadJSONLines(&stream); err == nil {
		oc.stream = s
	} else {
		t.Errorf("events stream: %v", err)
	}
	if rep.Len() > 0 {
		var r report.Report
		if err := json.Unmarshal(rep.Bytes(), &r); err != nil {
			t.Errorf("report is not JSON: %v", err)
		}
		oc.report = &r
	}
	t.Logf("output:\n%s\nsummary:\n%s", oc.out, summary.String())
	return oc
}

func helperArgs(args ...string) []string { return append([]string{os.Args[0], "__helper"}, args...) }

// find returns the events matching every non-zero field of want (Reason
// and Cmdline match as substrings).
func find(events []event.Event, want event.Event) []event.Event {
	var out []event.Event
	for _, e := range events {
		if want.Kind != "" && e.Kind != want.Kind ||
			want.Verdict != "" && e.Verdict != want.Verdict ||
			want.Proto != "" && e.Proto != want.Proto ||
			want.Name != "" && e.Name != want.Name ||
			want.IP != "" && e.IP != want.IP ||
			want.Port != 0 && e.Port != want.Port ||
			want.SNI != "" && e.SNI != want.SNI ||
			want.Host != "" && e.Host != want.Host ||
			want.Rule != "" && e.Rule != want.Rule ||
			want.Reason != "" && !strings.Contains(e.Reason, want.Reason) ||
			want.Cmdline != "" && !strings.Contains(e.Cmdline, want.Cmdline) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func dumpEvents(events []event.Event) string {
	var b strings.Builder
	for _, e := range events {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
