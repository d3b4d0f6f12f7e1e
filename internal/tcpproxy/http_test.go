package tcpproxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequestHead(t *testing.T) {
	type head struct {
		Method, Host, Authority string
		Form                    targetForm
		CL                      int64
		Chunked                 bool
	}
	tests := []struct {
		name    string
		in      string
		want    head
		wantErr error // nil: success; errNeedMore/errNotHTTP/errH2C; errAny: a malformedError
	}{
		{"host", "GET /pkg HTTP/1.1\r\nHost: registry.example\r\nAccept: */*\r\n\r\n", head{"GET", "registry.example", "", formOrigin, -1, false}, nil},
		{"host_with_port", "GET / HTTP/1.1\r\nHost: Registry.Example:8080\r\n\r\nbody", head{"GET", "registry.example", "", formOrigin, -1, false}, nil},
		{"host_lower_case_key", "POST /x HTTP/1.0\r\nhost:a.test\r\nContent-Length: 12\r\n\r\n", head{"POST", "a.test", "", formOrigin, 12, false}, nil},
		{"ipv6_host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", head{"GET", "::1", "", formOrigin, -1, false}, nil},
		{"no_host_http10", "GET / HTTP/1.0\r\n\r\n", head{"GET", "", "", formOrigin, -1, false}, nil},
		{"absolute_form", "GET http://proxy.example/x HTTP/1.1\r\n\r\n", head{"GET", "", "proxy.example", formAbsolute, -1, false}, nil},
		{"absolute_form_and_host", "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", head{"GET", "b.example", "a.example", formAbsolute, -1, false}, nil},
		{"connect_authority_form", "CONNECT evil.example:443 HTTP/1.1\r\n\r\n", head{"CONNECT", "", "evil.example", formAuthority, -1, false}, nil},
		{"lower_case_method", "get / HTTP/1.1\r\nHost: a.test\r\n\r\n", head{"get", "a.test", "", formOrigin, -1, false}, nil},
		{"leading_crlf", "\r\n\r\nGET / HTTP/1.1\r\nHost: a.test\r\n\r\n", head{"GET", "a.test", "", formOrigin, -1, false}, nil},
		{"chunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\n\r\n", head{"POST", "a.test", "", formOrigin, -1, true}, nil},
		{"network_path_target", "GET //evil.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", head{"GET", "a.test", "evil.test", formAbsolute, -1, false}, nil},
		{"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", head{"OPTIONS", "a.test", "", formAsterisk, -1, false}, nil},
		{"partial_request_line", "GET /x HT", head{}, errNeedMore},
		{"partial_method", "GE", head{}, errNeedMore},
		{"partial_crlf", "\r", head{}, errNeedMore},
		{"partial_headers", "GET / HTTP/1.1\r\nHost: a.test\r\n", head{}, errNeedMore},
		{"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", head{}, errH2C},
		{"http09", "GET /\r\n", head{}, errNotHTTP},
		{"http2_version_other", "GET / HTTP/2.0\r\n\r\n", head{}, errNotHTTP},
		{"ssh_banner", "SSH-2.0-OpenSSH_9.2\r\n", head{}, errNotHTTP},
		{"redis_inline", "PING\r\n", head{}, errNotHTTP},
		{"binary", "\x00\x01\x02", head{}, errNotHTTP},
		{"too_many_empty_lines", strings.Repeat("\r\n", 9) + "GET / HTTP/1.1\r\n\r\n", head{}, errNotHTTP},
		{"two_hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", head{}, errAny},
		{"host_with_path", "GET / HTTP/1.1\r\nHost: a.test/evil\r\n\r\n", head{}, errAny},
		{"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@b.test\r\n\r\n", head{}, errAny},
		{"host_list", "GET / HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n", head{}, errAny},
		{"space_before_colon", "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", head{}, errAny},
		{"header_without_colon", "GET / HTTP/1.1\r\nHost a.test\r\n\r\n", head{}, errAny},
		{"folded_header", "GET / HTTP/1.1\r\nX: a\r\n Host: b.test\r\nHost: a.test\r\n\r\n", head{}, errAny},
		{"bare_lf_line", "GET / HTTP/1.1\r\nX: a\nHost: b.test\r\nHost: a.test\r\n\r\n", head{}, errAny},
		{"bare_lf_end_partial", "GET / HTTP/1.1\r\nHost: a.test\n\nGET / HTTP/1.1\r\n", head{}, errAny},
		{"cl_and_te", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", head{}, errAny},
		{"two_cl", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", head{}, errAny},
		{"signed_cl", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +3\r\n\r\n", head{}, errAny},
		{"te_gzip", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", head{}, errAny},
		{"get_with_body", "GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 40\r\n\r\n", head{}, errAny},
		{"head_chunked", "head / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", head{}, errAny},
		{"get_content_length_zero", "GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", head{"GET", "a.test", "", formOrigin, 0, false}, nil},
		{"te_in_http10", "POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", head{}, errAny},
		{"two_forwarded_hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-Host: a.test\r\nX-Host: b.test\r\n\r\n", head{}, errAny},
		{"target_without_scheme", "GET evil.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", head{}, errAny},
		{"absolute_userinfo", "GET http://a.test@evil.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", head{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseRequestHead([]byte(tt.in))
			switch {
			case tt.wantErr == errAny:
				var m *malformedError
				if !errors.As(err, &m) {
					t.Fatalf("err = %v, want a malformed request error", err)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got := head{h.Method, h.Host, h.Authority, h.Form, h.ContentLength, h.Chunked}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// errAny stands for "a malformed request".
var errAny = errors.New("any parse error")

// TestHTTPStream feeds client streams to a verifier bound to a.test, whole
// and one byte at a time, and checks what it forwards and what it refuses.
func TestHTTPStream(t *testing.T) {
	get := func(host string) string { return "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n" }
	tests := []struct {
		name    string
		in      string
		fwd     string // what may go upstream
		reason  string // prefix of the violation reason; "" none
		wantErr bool   // a malformed stream
	}{
		{"one_request", get("a.test"), get("a.test"), "", false},
		{"keep_alive_two_good", get("a.test") + get("A.test."), get("a.test") + get("A.test."), "", false},
		{"second_request_other_host", get("a.test") + get("b.test"), get("a.test"), "second request host mismatch: request 2: host mismatch", false},
		{"first_request_other_host", get("b.test"), "", "host mismatch", false},
		{"network_path_other", "GET //b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", "", "absolute-form mismatch", false},
		{"forwarded_host_other", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-Host: b.test\r\n\r\n", "", "host mismatch: forwarded host", false},
		{"absolute_form_other", "GET http://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", "", "absolute-form mismatch", false},
		{"connect_other", "CONNECT b.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", "", "connect mismatch", false},
		{"no_host", "GET / HTTP/1.0\r\n\r\n", "", "no host", false},
		{"h2c_upgrade", "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", "", "h2c", false},
		{"h2c_prior_knowledge", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "", "h2c", false},
		{"websocket_upgrade", "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n\r\n", "", "upgrade", false},
		{"body_hides_nothing", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 26\r\n\r\n" + `{"q":"GET / HTTP/1.1\r\n"}` + get("a.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 26\r\n\r\n" + `{"q":"GET / HTTP/1.1\r\n"}` + get("a.test"), "", false},
		{"body_words_without_line_end", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 11\r\n\r\nhello world" + get("a.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 11\r\n\r\nhello world" + get("a.test"), "", false},
		{"long_text_body_without_line_end", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 20000\r\n\r\nword " + strings.Repeat("x", 19995) + get("a.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 20000\r\n\r\nword " + strings.Repeat("x", 19995) + get("a.test"), "", false},
		// CL.0 / Expect desync: a server that skips the body reads it as
		// the next request.
		{"body_is_request_other_host", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 32\r\n\r\n" + get("b.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 32\r\n\r\n", "cannot verify the server name: a request body starts", false},
		{"body_is_partial_request", "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 25\r\n\r\n" + get("b.test")[:25] + get("a.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 25\r\n\r\n", "cannot verify the server name: a request body starts", false},
		{"request_after_body", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc" + get("b.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc", "second request host mismatch", false},
		{"chunked_then_request", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n" + get("b.test"),
			"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n", "second request host mismatch", false},
		{"chunk_without_crlf", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
			"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", "", true},
		{"bad_chunk_size", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", "", true},
		{"connect_same_then_tls_other", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n" + string(buildHello(sniExt(0, "b.test"))),
			"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", "second request host mismatch: request 2: sni mismatch", false},
		{"connect_same_then_tls_same", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n" + string(buildHello(sniExt(0, "a.test"))) + "opaque",
			"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n" + string(buildHello(sniExt(0, "a.test"))) + "opaque", "", false},
		{"garbage_after_request", get("a.test") + "\x00\x01", get("a.test"), "", true},
		// Red-team variants: header names a CGI-style server maps "_" to
		// "-" in, RFC 7239 Forwarded, and WHATWG-style backslash targets.
		{"te_underscore_smuggle", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 37\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n" + get("b.test"), "", "", true},
		{"cl_underscore_smuggle", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent_Length: 5\r\n\r\n0\r\n\r\n", "", "", true},
		{"forwarded_host_underscore", "GET / HTTP/1.1\r\nHost: a.test\r\nX_Forwarded_Host: b.test\r\n\r\n", "", "", true},
		{"rfc7239_forwarded_other", "GET / HTTP/1.1\r\nHost: a.test\r\nForwarded: for=192.0.2.1;host=\"B.test:80\"\r\n\r\n", "", "host mismatch: forwarded host", false},
		{"rfc7239_forwarded_same", "GET / HTTP/1.1\r\nHost: a.test\r\nForwarded: for=192.0.2.1;host=a.test\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test\r\nForwarded: for=192.0.2.1;host=a.test\r\n\r\n", "", false},
		{"backslash_network_path", "GET /\\b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", "", "absolute-form mismatch", false},
		{"unrelated_underscore_header", "GET / HTTP/1.1\r\nHost: a.test\r\nX_Trace: 1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test\r\nX_Trace: 1\r\n\r\n", "", false},
	}
	for _, tt := range tests {
		for _, split := range []bool{false, true} {
			name := tt.name
			if split {
				name += "_bytewise"
			}
			t.Run(name, func(t *testing.T) {
				s := &httpStream{name: "a.test"}
				var out []byte
				var err error
				if split {
					for i := 0; i < len(tt.in) && err == nil; i++ {
						out, err = s.feed(out, []byte{tt.in[i]})
					}
				} else {
					out, err = s.feed(nil, []byte(tt.in))
				}
				if string(out) != tt.fwd {
					t.Errorf("forwarded %q, want %q", out, tt.fwd)
				}
				var v *violation
				switch {
				case tt.reason != "":
					if !errors.As(err, &v) || !strings.HasPrefix(v.reason, tt.reason) {
						t.Errorf("err = %v, want a violation starting %q", err, tt.reason)
					}
				case tt.wantErr:
					if err == nil || errors.As(err, &v) {
						t.Errorf("err = %v, want a malformed stream", err)
					}
				case err != nil:
					t.Errorf("err = %v", err)
				}
			})
		}
	}
}
