package tcpproxy

import (
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/policy"
)

// verifiedOpenings are the first bytes of a verified connection to
// sink.example: a ClientHello (then spliced), and an HTTP request head
// announcing a body longer than any benchmark (then the verifying relay).
func verifiedOpenings() map[string][]byte {
	return map[string][]byte{
		"tls":  buildHello(sniExt(0, "sink.example")),
		"http": []byte("POST /upload HTTP/1.1\r\nHost: sink.example\r\nContent-Length: 1099511627776\r\n\r\n"),
	}
}

// BenchmarkVerifiedConnectSetup measures connect + opening + one-byte
// echo + close through the proxy for a name-bound connection whose opening
// is verified (TLS ClientHello, HTTP request head).
func BenchmarkVerifiedConnectSetup(b *testing.B) {
	for _, kind := range []string{"tls", "http"} {
		b.Run(kind, func(b *testing.B) {
			opening := verifiedOpenings()[kind]
			addr := benchProxyWith(b, echoOneByte(b), policy.Spec{Allow: []string{"sink.example"}}, 443)
			lat := make([]time.Duration, 0, b.N)
			one := []byte{0}
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(opening); err != nil {
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

// BenchmarkVerifiedThroughput measures one long client → sink transfer
// after a verified opening: TLS is spliced after its ClientHello, plain
// HTTP goes through the verifying relay (a user-space copy).
func BenchmarkVerifiedThroughput(b *testing.B) {
	for _, kind := range []string{"tls", "http"} {
		b.Run(kind, func(b *testing.B) {
			addr := benchProxyWith(b, sinkServer(b), policy.Spec{Allow: []string{"sink.example"}}, 443)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(verifiedOpenings()[kind]); err != nil {
				b.Fatal(err)
			}
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
