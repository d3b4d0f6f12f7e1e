package tcpproxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/policy"
)

// relayModes are the copy strategies to exercise; only Linux has more
// than one.
func relayModes(t *testing.T) []string {
	if copyModes == nil {
		return []string{""}
	}
	return copyModes
}

// setRelayMode switches the copy strategy for one test.
func setRelayMode(t *testing.T, mode string) {
	if mode == "" {
		return
	}
	old := relayMode
	relayMode = mode
	t.Cleanup(func() { relayMode = old })
}

func TestHalfClose(t *testing.T) {
	// The upstream reads the whole request, and only after the client's
	// EOF answers and closes: that needs CloseWrite passed on both ways.
	up := serveLoopback(t, func(c net.Conn) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		io.WriteString(c, "got "+string(req))
	})
	for _, mode := range relayModes(t) {
		t.Run(mode, func(t *testing.T) {
			setRelayMode(t, mode)
			h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames})
			c := h.connect("198.18.0.3:7000")
			io.WriteString(c, "\x00request")
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			if string(got) != "got \x00request" {
				t.Errorf("answer = %q", got)
			}
		})
	}
}

func TestLargeTransferIntegrity(t *testing.T) {
	const size = 64 << 20
	// The upstream hashes what it receives while sending its own
	// pseudo-random stream, then sends the hash after the client's EOF.
	up := serveLoopback(t, func(c net.Conn) {
		done := make(chan []byte)
		go func() {
			s := sha256.New()
			io.Copy(s, c)
			done <- s.Sum(nil)
		}()
		io.Copy(c, io.LimitReader(newStream(2), size))
		c.Write(<-done)
		c.(*net.TCPConn).CloseWrite()
	})
	want := func(seed uint64) []byte {
		s := sha256.New()
		io.Copy(s, io.LimitReader(newStream(seed), size))
		return s.Sum(nil)
	}
	wantUp, wantDown := want(1), want(2)
	for _, mode := range relayModes(t) {
		t.Run(mode, func(t *testing.T) {
			setRelayMode(t, mode)
			h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames})
			c := h.connect("198.18.0.3:7000")
			sendErr := make(chan error, 1)
			go func() {
				_, err := io.Copy(c, io.LimitReader(newStream(1), size))
				if err == nil {
					err = c.CloseWrite()
				}
				sendErr <- err
			}()
			s := sha256.New()
			if _, err := io.Copy(s, io.LimitReader(c, size)); err != nil {
				t.Fatalf("receive: %v", err)
			}
			if err := <-sendErr; err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := s.Sum(nil); !bytes.Equal(got, wantDown) {
				t.Errorf("downstream hash %x, want %x", got, wantDown)
			}
			gotUp, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read upstream hash: %v", err)
			}
			if !bytes.Equal(gotUp, wantUp) {
				t.Errorf("upstream hash %x, want %x", gotUp, wantUp)
			}
		})
	}
}

// stream is a deterministic pseudo-random byte source.
type stream struct{ r *mrand.ChaCha8 }

func newStream(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return stream{mrand.NewChaCha8(s)}
}

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

func TestCloseAbortsActiveRelays(t *testing.T) {
	accepted := make(chan struct{}, 1)
	up := serveLoopback(t, func(c net.Conn) {
		accepted <- struct{}{}
		io.Copy(io.Discard, c) // never closes on its own
	})
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: up, names: testNames})
	c := h.connect("198.18.0.3:7000")
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	<-accepted
	if err := h.proxy.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-h.serve; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	h.serve <- nil // for the harness cleanup
	// The relay is gone: the client sees the connection end.
	if _, err := io.ReadAll(c); err != nil && !isReset(err) {
		t.Errorf("client read after Close: %v", err)
	}
	// New connections are refused: the listener is closed.
	if c2, err := net.Dial("tcp", h.ln.Addr().String()); err == nil {
		c2.Close()
		t.Error("listener still accepts after Close")
	}
}

func TestServeAfterClose(t *testing.T) {
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock)})
	if err := h.proxy.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := h.proxy.Serve(ln); err != nil {
		t.Errorf("Serve on a closed proxy: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("Serve on a closed proxy left its listener open")
	}
}

func TestTLSThroughProxy(t *testing.T) {
	cert := selfSigned(t, "registry.example")
	tl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "hello over tls\n")
			}()
		}
	}()
	h := newHarness(t, harnessOptions{spec: testSpec(policy.ModeBlock), upstream: tl.Addr().String(), names: testNames})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c := tls.Client(h.connect("198.18.0.1:443"), &tls.Config{ServerName: "registry.example", RootCAs: pool})
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read over tls: %v", err)
	}
	if string(got) != "hello over tls\n" {
		t.Errorf("got %q", got)
	}
	if evs := h.waitEvents(1); len(evs) != 1 || evs[0].SNI != "registry.example" || evs[0].Verdict != "allow" {
		t.Errorf("events = %+v", evs)
	}
}

func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
