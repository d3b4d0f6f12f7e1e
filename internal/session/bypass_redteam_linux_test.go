package session

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/event"
)

// redteamNetCases are the variants a red-team pass tried beyond
// netCases: request smuggling spellings, ClientHellos cut into many
// records or segments, SNI and Host spellings, and CONNECT targets. They
// run in TestBypassNet (root and rootless) with the same assertions.
func redteamNetCases() []netCase {
	cdn := func(w *netWorld) *fakeServer { return w.cdnHTTP }
	cdnTLS := func(w *netWorld) *fakeServer { return w.cdnHTTPS }
	proxy := func(w *netWorld) *fakeServer { return w.proxy }
	evil := "cdn-evil.test"
	conn := func(name, reason string) event.Event {
		return event.Event{Kind: event.KindConnect, Name: name, Reason: reason}
	}
	post := func(headers, body string) string {
		return "POST / HTTP/1.1\r\nHost: cdn-allowed.test\r\n" + headers + "\r\n" + body
	}
	smuggled := "0\r\n\r\n" + get(evil)
	cl := "Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\n"
	block := func(name, payload, reason string) netCase {
		return netCase{name: name, args: sendArgs("cdn-allowed.test:80", 0, payload), want: conn("cdn-allowed.test", reason), server: cdn, exit: 3}
	}
	return []netCase{
		// Smuggling: every spelling a server might frame differently.
		block("rt_te_xchunked", post(cl+"Transfer-Encoding: xchunked\r\n", smuggled), "cannot verify the server name"),
		block("rt_te_chunked_identity", post("Transfer-Encoding: chunked, identity\r\n", smuggled), "cannot verify the server name"),
		block("rt_te_space_before_colon", post(cl+"Transfer-Encoding : chunked\r\n", smuggled), "cannot verify the server name"),
		block("rt_te_tab_before_colon", post(cl+"Transfer-Encoding\t: chunked\r\n", smuggled), "cannot verify the server name"),
		block("rt_te_obs_fold", post(cl+"X: y\r\n Transfer-Encoding: chunked\r\n", smuggled), "cannot verify the server name"),
		block("rt_te_underscore", post(cl+"Transfer_Encoding: chunked\r\n", smuggled), "cannot verify the server name"),
		block("rt_cl_underscore", post("Transfer-Encoding: chunked\r\nContent_Length: 5\r\n", smuggled), "cannot verify the server name"),
		block("rt_duplicate_content_length", post(cl+"Content-Length: 5\r\n", smuggled), "cannot verify the server name"),
		block("rt_content_length_list", post("Content-Length: 5, 5\r\n", smuggled), "cannot verify the server name"),
		block("rt_bare_lf_head_end", "GET / HTTP/1.1\r\nHost: cdn-allowed.test\n\n"+get(evil), "cannot verify the server name"),
		block("rt_chunk_size_with_lf_ext", post("Transfer-Encoding: chunked\r\n", "3;x\nabc\r\n0\r\n\r\n"+get(evil)), "cannot verify the server name"),
		// CL.0 and Expect desync: a server that does not read a body
		// takes a request line at its start for the next request.
		block("rt_cl0_request_in_post_body", post("Content-Length: "+strconv.Itoa(len(get(evil)))+"\r\n", get(evil)), "a request body starts with a request line"),
		block("rt_expect_desync", post("Expect: 100-continue\r\nContent-Length: 40\r\n", "GET / HTTP/1.1\r\nHost: cdn-evil.test\r\nX: "+get("cdn-allowed.test")[:10]), "a request body starts with a request line"),
		block("rt_underscore_forwarded_host", "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nX_Forwarded_Host: cdn-evil.test\r\n\r\n", "cannot verify the server name"),
		block("rt_rfc7239_forwarded_host", "GET / HTTP/1.1\r\nHost: cdn-allowed.test\r\nForwarded: for=192.0.2.1;host=cdn-evil.test\r\n\r\n", "host mismatch: forwarded host"),
		block("rt_backslash_network_path", "GET /\\cdn-evil.test/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n", "absolute-form mismatch"),
		block("rt_absolute_userinfo", "GET http://cdn-allowed.test@cdn-evil.test/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n", "cannot verify the server name"),
		block("rt_absolute_upper_scheme", "GET HTTP://CDN-EVIL.TEST/ HTTP/1.1\r\nHost: cdn-allowed.test\r\n\r\n", "absolute-form mismatch"),
		// Host spellings: IP literals and encodings never equal the name.
		block("rt_host_ipv4_mapped_v6", get("[::ffff:198.18.0.1]"), "host mismatch"),
		block("rt_host_decimal_ip", get("3323068417"), "host mismatch"),
		block("rt_host_octal_ip", get("0306.0022.0.01"), "host mismatch"),
		block("rt_host_nul", "GET / HTTP/1.1\r\nHost: cdn-allowed.test\x00.cdn-evil.test\r\n\r\n", "cannot verify the server name"),
		block("rt_host_trailing_dots", get("cdn-allowed.test.."), "host mismatch"),
		// CONNECT targets through the allowed proxy.
		{name: "rt_connect_absolute_uri", args: sendArgs("proxy.test:3128", 0, "CONNECT http://cdn-evil.test:443 HTTP/1.1\r\nHost: proxy.test\r\n\r\n"),
			want: conn("proxy.test", "absolute-form mismatch"), server: proxy, exit: 3},
		{name: "rt_connect_ipv6_literal", args: sendArgs("proxy.test:3128", 0, "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: proxy.test\r\n\r\n"),
			want: conn("proxy.test", "connect mismatch"), server: proxy, exit: 3},
		{name: "rt_connect_self_then_tls_other", args: sendArgs("proxy.test:3128", 0, "CONNECT proxy.test:3128 HTTP/1.1\r\nHost: proxy.test\r\n\r\n"+string(clientHello(evil, false))),
			want: conn("proxy.test", "sni mismatch"), server: proxy, exit: 3},
		// TLS: ClientHellos cut up, SNI spellings.
		{name: "rt_tls_one_byte_records", args: sendArgs("cdn-allowed.test:443", 0, string(fragmentHello(clientHello(evil, false), 1))),
			want: conn("cdn-allowed.test", "sni mismatch"), server: cdnTLS, exit: 3},
		{name: "rt_tls_one_byte_segments", args: helperArgs("drip", "cdn-allowed.test:443", strconv.Quote(string(clientHello(evil, false)))),
			want: conn("cdn-allowed.test", "sni mismatch"), server: cdnTLS, exit: 3},
		{name: "rt_tls_records_and_segments", args: helperArgs("drip", "cdn-allowed.test:443", strconv.Quote(string(fragmentHello(clientHello(evil, false), 7)))),
			want: conn("cdn-allowed.test", "sni mismatch"), server: cdnTLS, exit: 3},
		{name: "rt_tls_two_host_names", args: sendArgs("cdn-allowed.test:443", 0, string(helloWithNames("cdn-allowed.test", evil))),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdnTLS, exit: 3},
		{name: "rt_tls_idn_homograph", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello("cdn-\u0430llowed.test", false))),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdnTLS, exit: 3},
		{name: "rt_tls_sni_with_nul", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello("cdn-allowed.test\x00", false))),
			want: conn("cdn-allowed.test", "cannot verify the server name"), server: cdnTLS, exit: 3},
		{name: "rt_tls_upper_case_evil", args: sendArgs("cdn-allowed.test:443", 0, string(clientHello("CDN-EVIL.TEST.", false))),
			want: conn("cdn-allowed.test", "sni mismatch"), server: cdnTLS, exit: 3},
		// TCP Fast Open: the request rides in the SYN; the proxy still
		// reads it before anything goes upstream.
		{name: "rt_tcp_fast_open_forged_host", args: helperArgs("tfo", "cdn-allowed.test:80", strconv.Quote(get(evil))),
			want: event.Event{Kind: event.KindConnect, Name: "cdn-allowed.test", Host: evil, Reason: "host mismatch"}, server: cdn, exit: 3},
		// QUIC: UDP to an allowed name's port 443 is not proxied.
		{name: "rt_quic_udp_443", args: helperArgs("udp", "cdn-allowed.test:443"),
			want: event.Event{Kind: event.KindPacket, Proto: "udp", Port: 443}, server: cdnTLS, exit: 3},
		// What a real client may spell differently still works.
		{name: "rt_allowed_host_upper_case_trailing_dot", args: sendArgs("cdn-allowed.test:80", 0, get("CDN-Allowed.TEST.")),
			want: event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "cdn-allowed.test"}, server: cdn, mayRead: true, forbiddenHost: evil},
	}
}

// fragmentHello re-frames the handshake of a one-record ClientHello into
// records of at most n bytes each.
func fragmentHello(hello []byte, n int) []byte {
	msg := hello[5:]
	var out []byte
	for len(msg) > 0 {
		k := min(n, len(msg))
		out = append(out, 0x16, 3, 1)
		out = binary.BigEndian.AppendUint16(out, uint16(k))
		out = append(out, msg[:k]...)
		msg = msg[k:]
	}
	return out
}

// helloWithNames is a ClientHello whose server_name list holds every
// name as a host_name entry.
func helloWithNames(names ...string) []byte {
	h := clientHello("x", false)
	// Replace the one-entry list (type 0, len 1, "x") by all the names.
	var list []byte
	for _, n := range names {
		list = append(list, 0)
		list = binary.BigEndian.AppendUint16(list, uint16(len(n)))
		list = append(list, n...)
	}
	var ext []byte
	ext = binary.BigEndian.AppendUint16(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(list)+2))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(list)))
	ext = append(ext, list...)
	old := []byte{0, 0, 0, 6, 0, 4, 0, 0, 1, 'x'}
	i := indexBytes(h, old)
	body := append(append(append([]byte{}, h[9:i]...), ext...), h[i+len(old):]...)
	// Fix the extensions length (2 bytes before the first extension),
	// then the handshake and record lengths.
	extLen := binary.BigEndian.Uint16(body[i-9-2:])
	binary.BigEndian.PutUint16(body[i-9-2:], extLen+uint16(len(ext)-len(old)))
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func indexBytes(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// helperDrip is the "drip ADDR PAYLOAD" helper: it writes the quoted
// payload one byte per TCP segment (Nagle off, a pause between bytes)
// and reads a reply. Exit 3 when the connection is refused or closed.
func helperDrip(args []string) int {
	if len(args) != 2 {
		return 2
	}
	p, err := strconv.Unquote(args[1])
	if err != nil {
		return 2
	}
	c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	if err != nil {
		fmt.Println("dial error:", err)
		return 3
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	for i := 0; i < len(p); i++ {
		if _, err := c.Write([]byte{p[i]}); err != nil {
			fmt.Println("write error:", err)
			return 3
		}
		time.Sleep(time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		fmt.Println("read error:", err)
		return 3
	}
	fmt.Printf("reply: %q\n", firstLine(buf[:n]))
	return 0
}

// helperTFO is the "tfo HOST:PORT PAYLOAD" helper: it resolves HOST and
// sends the quoted payload with the SYN (sendto with MSG_FASTOPEN), then
// reads a reply. Exit 3 when the connection is refused or closed.
func helperTFO(args []string) int {
	if len(args) != 2 {
		return 2
	}
	p, err := strconv.Unquote(args[1])
	if err != nil {
		return 2
	}
	host, port, _ := net.SplitHostPort(args[0])
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 || ips[0].To4() == nil {
		fmt.Println("lookup error:", err)
		return 3
	}
	n, _ := strconv.Atoi(port)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket error:", err)
		return 3
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrInet4{Port: n}
	copy(sa.Addr[:], ips[0].To4())
	if err := unix.Sendto(fd, []byte(p), unix.MSG_FASTOPEN, sa); err != nil {
		fmt.Println("sendto error:", err)
		return 3
	}
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 4096)
	m, err := unix.Read(fd, buf)
	if err != nil || m <= 0 {
		fmt.Println("read error:", err)
		return 3
	}
	fmt.Printf("reply: %q\n", firstLine(buf[:m]))
	return 0
}
