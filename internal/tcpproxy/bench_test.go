package tcpproxy

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/policy"
)

// benchProxy starts a proxy that binds every connection to
// "sink.example:9", opted in to opaque TCP (the benchmarks below send raw
// bytes), and dials target; it returns the proxy's address.
func benchProxy(b *testing.B, target string) string {
	return benchProxyWith(b, target, policy.Spec{TCP: []string{"sink.example:9"}}, 9)
}

// benchProxyWith starts a proxy under spec that binds every connection to
// "sink.example:port" and dials target; it returns the proxy's address.
func benchProxyWith(b *testing.B, target string, spec policy.Spec, port uint16) string {
	b.Helper()
	pol, err := policy.Compile(&spec, policy.Env{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{
		Policy: pol,
		Names:  fixedName("sink.example"),
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target)
		},
		OriginalDst: func(net.Conn) (netip.AddrPort, error) {
			return netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), port), nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	b.Cleanup(func() { p.Close() })
	return ln.Addr().String()
}

type fixedName string

func (n fixedName) NameFor(netip.Addr) (string, bool) { return string(n), true }

// sinkServer discards everything it receives.
func sinkServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1<<20)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// echoOneByte answers each byte with one byte, then closes on EOF.
func echoOneByte(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkRelayThroughput measures one long transfer client → sink,
// directly and through the proxy with each copy strategy.
func BenchmarkRelayThroughput(b *testing.B) {
	modes := append([]string{"direct"}, copyModes...)
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			sink := sinkServer(b)
			addr := sink
			if mode != "direct" {
				old := relayMode
				relayMode = mode
				b.Cleanup(func() { relayMode = old })
				addr = benchProxy(b, sink)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnectSetup measures connect + one-byte echo + close, directly
// and through the proxy, and reports the median and p99.
func BenchmarkConnectSetup(b *testing.B) {
	for _, mode := range []string{"direct", "proxy"} {
		b.Run(mode, func(b *testing.B) {
			addr := echoOneByte(b)
			if mode == "proxy" {
				addr = benchProxy(b, addr)
			}
			lat := make([]time.Duration, 0, b.N)
			one := []byte{'x'}
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(one); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, one); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				c.Close()
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
