package tcpproxy

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// captureClientHello runs a real crypto/tls client against one end of a
// net.Pipe and returns the first TLS record it writes: its ClientHello.
func captureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	cli, srv := net.Pipe()
	defer srv.Close()
	go func() {
		c := tls.Client(cli, cfg)
		_ = c.Handshake() // fails when srv closes; only its first record matters
		c.Close()
	}()
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(srv, hdr); err != nil {
		t.Fatalf("read record header: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:5]))
	if _, err := io.ReadFull(srv, body); err != nil {
		t.Fatalf("read record body: %v", err)
	}
	return append(hdr, body...)
}

// refragment re-packs the handshake bytes of the records in b into records
// of at most size bytes each, as a client (or a middlebox) may do.
func refragment(t testing.TB, b []byte, size int) []byte {
	t.Helper()
	var hs []byte
	for len(b) > 0 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		hs = append(hs, b[recordHeaderLen:recordHeaderLen+n]...)
		b = b[recordHeaderLen+n:]
	}
	var out []byte
	for len(hs) > 0 {
		n := min(size, len(hs))
		out = append(out, recordTypeHandshake, 3, 1, byte(n>>8), byte(n))
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}

// ext is one extension for buildHello.
type ext struct {
	typ  uint16
	data []byte
}

// buildHello builds a ClientHello record by hand, for what crypto/tls
// never sends (GREASE in odd places, ECH, malformed server_name).
func buildHello(exts ...ext) []byte {
	var body []byte
	body = append(body, 3, 3)                         // legacy_version
	body = append(body, make([]byte, 32)...)          // random
	body = append(body, 0)                            // session id
	body = append(body, 0, 4, 0x0a, 0x0a, 0x13, 0x01) // GREASE + TLS_AES_128_GCM_SHA256
	body = append(body, 1, 0)                         // compression: null
	var e []byte
	for _, x := range exts {
		e = binary.BigEndian.AppendUint16(e, x.typ)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
		e = append(e, x.data...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
	body = append(body, e...)
	hs := []byte{handshakeClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{recordTypeHandshake, 3, 1, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

// sniExt encodes a server_name extension with the given (type, name) entries.
func sniExt(entries ...any) ext {
	var list []byte
	for i := 0; i < len(entries); i += 2 {
		list = append(list, byte(entries[i].(int)))
		name := entries[i+1].(string)
		list = binary.BigEndian.AppendUint16(list, uint16(len(name)))
		list = append(list, name...)
	}
	data := binary.BigEndian.AppendUint16(nil, uint16(len(list)))
	return ext{extServerName, append(data, list...)}
}

func TestParseClientHelloCrypto(t *testing.T) {
	tests := []struct {
		name string
		cfg  *tls.Config
		want clientHello
	}{
		{"sni", &tls.Config{ServerName: "registry.example"}, clientHello{SNI: "registry.example"}},
		{"sni_upper_case", &tls.Config{ServerName: "Registry.EXAMPLE"}, clientHello{SNI: "registry.example"}},
		{"no_sni", &tls.Config{InsecureSkipVerify: true}, clientHello{}},
		{"ip_server_name_sends_no_sni", &tls.Config{ServerName: "192.0.2.1"}, clientHello{}},
		{"tls12_only", &tls.Config{ServerName: "a.test", MaxVersion: tls.VersionTLS12}, clientHello{SNI: "a.test"}},
		{"alpn_h2", &tls.Config{ServerName: "b.test", NextProtos: []string{"h2", "http/1.1"}}, clientHello{SNI: "b.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := captureClientHello(t, tt.cfg)
			for _, size := range []int{1 << 14, 512, 100, 7, 1} {
				b := refragment(t, rec, size)
				got, err := parseClientHello(b)
				if err != nil {
					t.Fatalf("fragments of %d: %v", size, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("fragments of %d (-want +got):\n%s", size, diff)
				}
				// Every strict prefix (a ClientHello split across TCP
				// segments) must ask for more, never fail or succeed.
				for i := 0; i < len(b); i += 1 + len(b)/97 {
					if _, err := parseClientHello(b[:i]); !errors.Is(err, errNeedMore) {
						t.Fatalf("fragments of %d, prefix %d/%d: err = %v, want errNeedMore", size, i, len(b), err)
					}
				}
			}
		})
	}
}

func TestParseClientHelloBuilt(t *testing.T) {
	grease := ext{0x1a1a, nil}
	tests := []struct {
		name    string
		in      []byte
		want    clientHello
		wantErr bool
	}{
		{"grease_around_sni", buildHello(grease, sniExt(0, "x.example"), ext{0x3a3a, []byte{0}}), clientHello{SNI: "x.example"}, false},
		{"trailing_dot", buildHello(sniExt(0, "x.example.")), clientHello{SNI: "x.example"}, false},
		{"ech_outer_sni", buildHello(sniExt(0, "public.example"), ext{extEncryptedClientHelo, []byte{0, 1, 2}}), clientHello{SNI: "public.example", ECH: true}, false},
		{"unknown_name_type_skipped", buildHello(sniExt(7, "junk", 0, "x.example")), clientHello{SNI: "x.example"}, false},
		{"no_extensions", buildHello(), clientHello{}, false},
		{"two_host_names", buildHello(sniExt(0, "a.example", 0, "b.example")), clientHello{}, true},
		{"duplicate_sni_extension", buildHello(sniExt(0, "a.example"), sniExt(0, "b.example")), clientHello{}, true},
		{"empty_host_name", buildHello(sniExt(0, "")), clientHello{}, true},
		{"space_in_host_name", buildHello(sniExt(0, "a example")), clientHello{}, true},
		{"nul_in_host_name", buildHello(sniExt(0, "a.example\x00.evil")), clientHello{}, true},
		{"truncated_sni_list", buildHello(ext{extServerName, []byte{0, 9, 0, 0, 3, 'a'}}), clientHello{}, true},
		{"not_client_hello", []byte{0x16, 3, 1, 0, 4, 2, 0, 0, 0}, clientHello{}, true},
		{"zero_length_record", []byte{0x16, 3, 1, 0, 0}, clientHello{}, true},
		{"application_data_after_partial_hello", append(refragment(t, buildHello(sniExt(0, "x.example")), 10)[:15], 0x17, 3, 3, 0, 1, 0), clientHello{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClientHello(tt.in)
			if tt.wantErr {
				if err == nil || errors.Is(err, errNeedMore) || errors.Is(err, errNotTLS) {
					t.Fatalf("err = %v, want a parse error (got %+v)", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClientHelloNotTLS(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n"),
		[]byte("SSH-2.0-OpenSSH_9.2\r\n"),
		{0x16, 0x00, 0x01}, // handshake type byte but not TLS version 3.x
	} {
		if _, err := parseClientHello(in); !errors.Is(err, errNotTLS) {
			t.Errorf("parseClientHello(%q) err = %v, want errNotTLS", in, err)
		}
	}
}
