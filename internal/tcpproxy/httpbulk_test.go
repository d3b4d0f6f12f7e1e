package tcpproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestBulkBodyThenRequest: a body of known length is moved zero-copy
// (copyConnN), but only up to its end: the request after it is still
// verified. The body itself holds text that looks like a request naming
// another host, which is body, not a request. Block mode resets the
// connection before a byte of a mismatching later request reaches the
// upstream; a matching one is relayed intact.
func TestBulkBodyThenRequest(t *testing.T) {
	body := make([]byte, 3*spliceMin+123)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	copy(body[spliceMin:], httpGet("evil.example"))
	chunked := func(data []byte) []byte {
		var b bytes.Buffer
		b.WriteString("POST /upload HTTP/1.1\r\nHost: registry.example\r\nTransfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(&b, "%x\r\n", len(data))
		b.Write(data)
		b.WriteString("\r\n0\r\n\r\n")
		return b.Bytes()
	}
	sized := func(data []byte) []byte {
		head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: registry.example\r\nContent-Length: %d\r\n\r\n", len(data))
		return append([]byte(head), data...)
	}
	for _, tc := range []struct {
		name   string
		first  []byte
		second string // host of the request after the body
	}{
		{"content-length/same-host", sized(body), "registry.example"},
		{"content-length/other-host", sized(body), "evil.example"},
		{"chunked/same-host", chunked(body), "registry.example"},
		{"chunked/other-host", chunked(body), "evil.example"},
	} {
		for _, mode := range relayModes(t) {
			t.Run(tc.name+"/"+nonEmpty(mode, "default"), func(t *testing.T) {
				setRelayMode(t, mode)
				up := newCountingUpstream(t)
				h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up.addr, names: testNames})
				c := h.connect("198.18.0.1:443")
				second := httpGet(tc.second)
				echoed := make(chan []byte, 1)
				go func() {
					b, _ := io.ReadAll(c)
					echoed <- b
				}()
				// The body in pieces, so that the proxy reads part of
				// it with the head and moves the rest zero-copy.
				for _, part := range [][]byte{tc.first[:100], tc.first[100 : 2*spliceMin], tc.first[2*spliceMin:]} {
					if _, err := c.Write(part); err != nil {
						t.Fatal(err)
					}
					time.Sleep(10 * time.Millisecond)
				}
				_, werr := c.Write(second)
				c.CloseWrite()
				var got []byte
				select {
				case got = <-echoed:
				case <-time.After(20 * time.Second):
					t.Fatal("no end of the relay")
				}
				h.proxy.Close()
				n := up.received()
				evs := h.waitEvents(1)
				if tc.second == "registry.example" {
					want := append(append([]byte{}, tc.first...), second...)
					if !bytes.Equal(got, want) || n != int64(len(want)) || len(evs) != 1 {
						t.Fatalf("echoed %d bytes (equal %v), upstream received %d, want %d; events %+v",
							len(got), bytes.Equal(got, want), n, len(want), evs)
					}
					return
				}
				if n != int64(len(tc.first)) {
					t.Errorf("upstream received %d bytes, want %d (the first request only); client write %v", n, len(tc.first), werr)
				}
				evs = h.waitEvents(2)
				if len(evs) != 2 || evs[1].Verdict != event.VerdictBlock || evs[1].Host != "evil.example" ||
					!strings.HasPrefix(evs[1].Reason, "second request host mismatch") {
					t.Errorf("events = %+v, want a block for the second request's host evil.example", evs)
				}
			})
		}
	}
}

// TestCopyConnN: copyConnN moves exactly n bytes and leaves the rest in
// the source socket; at EOF it returns fewer with no error.
func TestCopyConnN(t *testing.T) {
	for _, mode := range relayModes(t) {
		t.Run(nonEmpty(mode, "default"), func(t *testing.T) {
			setRelayMode(t, mode)
			srcPeer, src := tcpConnPair(t)
			dst, dstPeer := tcpConnPair(t)
			data := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB
			go func() {
				srcPeer.Write(append(data, "TAIL"...))
				srcPeer.(*net.TCPConn).CloseWrite()
			}()
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(dstPeer); got <- b }()
			n, err := copyConnN(dst, src, int64(len(data)))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("copyConnN = %d, %v; want %d, nil", n, err, len(data))
			}
			rest, err := io.ReadAll(src)
			if err != nil || string(rest) != "TAIL" {
				t.Fatalf("left in the source: %q, %v; want TAIL", rest, err)
			}
			// At EOF: fewer bytes than asked for, no error.
			if n, err := copyConnN(dst, src, 10); n != 0 || err != nil {
				t.Fatalf("copyConnN at EOF = %d, %v; want 0, nil", n, err)
			}
			dst.Close()
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("destination got %d bytes, want the %d copied", len(b), len(data))
			}
		})
	}
}

// tcpConnPair returns the two ends of a loopback TCP connection.
func tcpConnPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
