package tcpproxy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHTTPRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    httpRequest
		wantErr error // nil: success; errNeedMore/errNotHTTP; errAny: some other error
	}{
		{"host", "GET /pkg HTTP/1.1\r\nHost: registry.example\r\nAccept: */*\r\n\r\n", httpRequest{Host: "registry.example"}, nil},
		{"host_with_port", "GET / HTTP/1.1\r\nHost: Registry.Example:8080\r\n\r\nbody", httpRequest{Host: "registry.example"}, nil},
		{"host_lower_case_key", "POST /x HTTP/1.0\r\nhost:a.test\r\n\r\n", httpRequest{Host: "a.test"}, nil},
		{"ipv6_host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", httpRequest{Host: "::1"}, nil},
		{"no_host_http10", "GET / HTTP/1.0\r\n\r\n", httpRequest{}, nil},
		{"absolute_form", "GET http://proxy.example/x HTTP/1.1\r\n\r\n", httpRequest{Host: "proxy.example"}, nil},
		{"connect_authority_form", "CONNECT evil.example:443 HTTP/1.1\r\n\r\n", httpRequest{Host: "evil.example"}, nil},
		{"host_header_wins_over_target", "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", httpRequest{Host: "b.example"}, nil},
		{"partial_request_line", "GET /x HT", httpRequest{}, errNeedMore},
		{"partial_method", "GE", httpRequest{}, errNeedMore},
		{"partial_headers", "GET / HTTP/1.1\r\nHost: a.test\r\n", httpRequest{}, errNeedMore},
		{"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", httpRequest{}, errNotHTTP},
		{"lower_case_method", "get / HTTP/1.1\r\n\r\n", httpRequest{}, errNotHTTP},
		{"ssh_banner", "SSH-2.0-OpenSSH_9.2\r\n", httpRequest{}, errNotHTTP},
		{"redis_inline", "PING\r\n", httpRequest{}, errNotHTTP},
		{"binary", "\x00\x01\x02", httpRequest{}, errNotHTTP},
		{"two_hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", httpRequest{}, errAny},
		{"host_with_path", "GET / HTTP/1.1\r\nHost: a.test/evil\r\n\r\n", httpRequest{}, errAny},
		{"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@b.test\r\n\r\n", httpRequest{}, errAny},
		{"space_before_colon", "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", httpRequest{}, errAny},
		{"header_without_colon", "GET / HTTP/1.1\r\nHost a.test\r\n\r\n", httpRequest{}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHTTPRequest([]byte(tt.in))
			switch {
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, errNeedMore) || errors.Is(err, errNotHTTP) {
					t.Fatalf("err = %v, want a parse error", err)
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
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// errAny stands for "some error other than errNeedMore and errNotHTTP".
var errAny = errors.New("any parse error")
