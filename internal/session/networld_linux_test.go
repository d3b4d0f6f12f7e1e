package session

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// netWorld is the outside world of the network bypass table: a fake
// upstream DNS server that answers with real-looking addresses (and with
// metadata, private and loopback ones for the rebinding cases), fake
// servers on distinct 127.0.0.0/8 addresses, and the DialAddr hook that
// maps the real-looking addresses to them. The proxy's production dialer
// runs (resolution, resolution limits); only the final connect is
// replaced, and it refuses every address it has no route for, so nothing
// outside the test is ever dialled. In particular 169.254.169.254 is only
// ever a DNS answer: a dial of it would land on the counting "metadata"
// server below and fail the test.
type netWorld struct {
	t        *testing.T
	upstream string
	answers  map[string]string      // name → A answer
	routes   map[string]*fakeServer // "ip:port" → server

	cdnHTTP, cdnHTTPS, proxy, h2c, raw, metadata, internal *fakeServer

	mu    sync.Mutex
	dials []string // "ip:port" asked of DialAddr
}

// fakeServer counts every byte it reads and, for HTTP servers, the
// requests it served by Host.
type fakeServer struct {
	name string
	addr string

	mu    sync.Mutex
	bytes int64
	hosts map[string]int
}

func (s *fakeServer) count(n int) {
	s.mu.Lock()
	s.bytes += int64(n)
	s.mu.Unlock()
}

func (s *fakeServer) hit(host string) {
	s.mu.Lock()
	s.hosts[strings.ToLower(host)]++
	s.mu.Unlock()
}

func (s *fakeServer) received() (int64, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := map[string]int{}
	for k, v := range s.hosts {
		h[k] = v
	}
	return s.bytes, h
}

type fakeListener struct {
	net.Listener
	s *fakeServer
}

func (l fakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fakeConn{Conn: c, s: l.s}, nil
}

type fakeConn struct {
	net.Conn
	s *fakeServer
}

func (c fakeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.s.count(n)
	return n, err
}

func newFakeServer(t *testing.T, name, ip string) (*fakeServer, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatalf("listen for the fake %s server: %v", name, err)
	}
	s := &fakeServer{name: name, addr: ln.Addr().String(), hosts: map[string]int{}}
	return s, fakeListener{Listener: ln, s: s}
}

// serveHTTP runs an HTTP server on ln: a "CDN" that serves every Host it
// is asked for (as a shared front end does), recording each.
func serveHTTP(t *testing.T, s *fakeServer, ln net.Listener, tlsOn, h2c bool) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hit(r.Host)
		fmt.Fprintf(w, "hello from %s over %s", r.Host, r.Proto)
	})
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = ln
	if h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = &p
	}
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
}

// serveRaw runs a raw TCP server on ln: it greets first, then echoes. As
// a CONNECT proxy it answers a CONNECT with 200 and tunnels to nowhere
// (the echo): any byte it reads counts as reaching it.
func serveRaw(t *testing.T, ln net.Listener, greeting string) {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				io.WriteString(c, greeting)
				io.Copy(c, c)
			}()
		}
	}()
}

func newNetWorld(t *testing.T) *netWorld {
	t.Helper()
	w := &netWorld{t: t, routes: map[string]*fakeServer{}}
	var ln net.Listener
	w.cdnHTTP, ln = newFakeServer(t, "cdn http", "127.0.0.2")
	serveHTTP(t, w.cdnHTTP, ln, false, false)
	w.cdnHTTPS, ln = newFakeServer(t, "cdn https", "127.0.0.2")
	serveHTTP(t, w.cdnHTTPS, ln, true, false)
	w.proxy, ln = newFakeServer(t, "connect proxy", "127.0.0.3")
	serveRaw(t, ln, "")
	w.h2c, ln = newFakeServer(t, "h2c", "127.0.0.4")
	serveHTTP(t, w.h2c, ln, false, true)
	w.metadata, ln = newFakeServer(t, "metadata", "127.0.0.5")
	serveRaw(t, ln, "ami-id\n")
	w.internal, ln = newFakeServer(t, "internal", "127.0.0.6")
	serveRaw(t, ln, "internal service\n")
	w.raw, ln = newFakeServer(t, "raw", "127.0.0.7")
	serveRaw(t, ln, "220 raw server\r\n")

	w.answers = map[string]string{
		"cdn-allowed.test": "203.0.113.10", // the shared-IP CDN serves both names
		"cdn-evil.test":    "203.0.113.10",
		"proxy.test":       "203.0.113.20",
		"h2c.test":         "203.0.113.30",
		"raw.test":         "203.0.113.40",
		"db.test":          "203.0.113.40",
		"metadata.test":    "169.254.169.254",
		"linklocal.test":   "169.254.7.7",
		"private.test":     "10.0.0.5",
		"cgnat.test":       "100.64.0.9",
		"rebind.test":      "127.0.0.1",
	}
	for addr, s := range map[string]*fakeServer{
		"203.0.113.10:80": w.cdnHTTP, "203.0.113.10:443": w.cdnHTTPS,
		"203.0.113.20:3128": w.proxy, "203.0.113.30:80": w.h2c,
		"203.0.113.40:9000": w.raw, "203.0.113.40:5432": w.raw,
		"169.254.169.254:80": w.metadata,
		"169.254.7.7:80":     w.internal, "10.0.0.5:80": w.internal, "100.64.0.9:80": w.internal, "127.0.0.1:80": w.internal,
	} {
		w.routes[addr] = s
	}

	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(rw dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			a, ok := w.answers[strings.TrimSuffix(strings.ToLower(qq.Name), ".")]
			if ok && qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(a)})
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

// dialAddr is the injected last step of the production dialer.
func (w *netWorld) dialAddr(ctx context.Context, network, address string) (net.Conn, error) {
	w.mu.Lock()
	w.dials = append(w.dials, address)
	w.mu.Unlock()
	s, ok := w.routes[address]
	if !ok {
		return nil, fmt.Errorf("test dialer: %s is outside the test world, refusing", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, s.addr)
}

func (w *netWorld) dialed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.dials...)
}

// options wires a run into the world: the production dialer with its
// last step replaced, and no loopback exemption for answers.
func (w *netWorld) options(o *Options) {
	o.Upstream = w.upstream
	o.Dial = nil
	o.DialAddr = w.dialAddr
	o.AllowLoopbackAnswers = false
}

// clientHello builds a minimal TLS 1.3-style ClientHello record with the
// given SNI ("" none) and, with ech, an encrypted_client_hello extension.
func clientHello(sni string, ech bool) []byte {
	var exts []byte
	ext := func(typ uint16, data []byte) {
		exts = binary.BigEndian.AppendUint16(exts, typ)
		exts = binary.BigEndian.AppendUint16(exts, uint16(len(data)))
		exts = append(exts, data...)
	}
	if sni != "" {
		var d []byte
		d = binary.BigEndian.AppendUint16(d, uint16(len(sni)+3))
		d = append(d, 0)
		d = binary.BigEndian.AppendUint16(d, uint16(len(sni)))
		d = append(d, sni...)
		ext(0x0000, d)
	}
	ext(0x002b, []byte{2, 3, 4}) // supported_versions: TLS 1.3
	if ech {
		ext(0xfe0d, []byte{0, 0, 1, 0, 1, 7, 0, 0, 0, 0})
	}
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher suites
	body = append(body, 1, 0)                // compression
	body = binary.BigEndian.AppendUint16(body, uint16(len(exts)))
	body = append(body, exts...)
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	rec := append([]byte{0x16, 3, 1}, byte(len(hs)>>8), byte(len(hs)))
	return append(rec, hs...)
}

// sendArgs is the helper command line that connects to addr, waits ms,
// then writes each payload and reads a reply after it.
func sendArgs(addr string, ms int, payloads ...string) []string {
	args := []string{"send", addr, strconv.Itoa(ms)}
	for _, p := range payloads {
		args = append(args, strconv.Quote(p))
	}
	return helperArgs(args...)
}

// helperSend is the "send" helper: exit 0 when every payload got a reply,
// 3 when the connection failed or was reset.
func helperSend(args []string) int {
	if len(args) < 2 {
		return 2
	}
	c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	if err != nil {
		fmt.Println("dial error:", err)
		return 3
	}
	defer c.Close()
	ms, _ := strconv.Atoi(args[1])
	time.Sleep(time.Duration(ms) * time.Millisecond)
	r := bufio.NewReader(c)
	buf := make([]byte, 64<<10)
	for i, q := range args[2:] {
		p, err := strconv.Unquote(q)
		if err != nil {
			return 2
		}
		if _, err := io.WriteString(c, p); err != nil {
			fmt.Println("write error:", err)
			return 3
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := r.Read(buf)
		if err != nil {
			fmt.Printf("reply %d: read error: %v\n", i+1, err)
			return 3
		}
		fmt.Printf("reply %d: %q\n", i+1, firstLine(buf[:n]))
		time.Sleep(50 * time.Millisecond) // let a multi-segment answer finish
		for r.Buffered() > 0 {
			r.Discard(r.Buffered())
		}
	}
	if len(args) == 2 { // nothing to send: wait for the server to speak
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := r.Read(buf)
		if err != nil {
			fmt.Println("read error:", err)
			return 3
		}
		fmt.Printf("greeting: %q\n", firstLine(buf[:n]))
	}
	return 0
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
