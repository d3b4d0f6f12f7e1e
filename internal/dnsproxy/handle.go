package dnsproxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// What a query gets, by type, for a name the policy allows (and, in audit
// mode, for any name):
//
//   - A and ANY: one synthetic A record, stable per name, TTL Config.TTL.
//   - AAAA: an empty NOERROR answer (IPv6 is dropped in the sandbox, so the
//     client falls back to IPv4).
//   - HTTPS and SVCB: an empty NOERROR answer; these records carry address
//     hints and alternative endpoints that would bypass the synthetic
//     binding, and clients fall back to A.
//   - PTR under in-addr.arpa for a synthetic address: the name it stands
//     for. Other PTR names are decided like any other name.
//   - Other types (TXT, MX, SRV, CNAME, CAA, ...): forwarded upstream; A,
//     AAAA, HTTPS and SVCB records in the upstream answer are removed, so
//     no real address reaches the build.
//
// A name the policy refuses gets NXDOMAIN in block mode and is not sent
// upstream. A query that is not a standard query for one name of class IN
// gets FORMERR, NOTIMP or REFUSED and a block event.

// handlePacket decodes one query from the build, answers it and emits
// exactly one event. It returns the packed answer, or nil when the packet
// is too broken to answer (the event is emitted all the same).
func (s *Server) handlePacket(ctx context.Context, proto string, src netip.AddrPort, pkt []byte) []byte {
	ev := event.Event{Kind: event.KindDNS, Proto: proto, Verdict: event.VerdictBlock}
	if s.c.Attribute != nil && src.IsValid() {
		ev.PID, ev.Cmdline = s.c.Attribute(proto, src)
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		ev.Reason = "malformed dns query"
		s.emit(ev)
		if len(pkt) < 12 { // no header to answer to
			return nil
		}
		// Answer FORMERR to the header's id so the client does not wait.
		resp := new(dns.Msg)
		resp.Id = uint16(pkt[0])<<8 | uint16(pkt[1])
		resp.Response = true
		resp.Rcode = dns.RcodeFormatError
		return s.pack(resp, req, proto)
	}
	resp, ev := s.answer(ctx, req, ev)
	s.emit(ev)
	if resp == nil {
		return nil
	}
	return s.pack(resp, req, proto)
}

func (s *Server) emit(e event.Event) {
	e.Time = s.c.Now()
	s.c.Sink.Emit(e)
}

// answer builds the reply to req and fills in ev.
func (s *Server) answer(ctx context.Context, req *dns.Msg, ev event.Event) (*dns.Msg, event.Event) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if req.Response {
		ev.Reason = "dns response sent as a query"
		return nil, ev
	}
	if req.Opcode != dns.OpcodeQuery {
		ev.Reason = "unsupported dns opcode " + dns.OpcodeToString[req.Opcode]
		resp.Rcode = dns.RcodeNotImplemented
		return resp, ev
	}
	if len(req.Question) != 1 {
		ev.Reason = "dns query without exactly one question"
		resp.Rcode = dns.RcodeFormatError
		return resp, ev
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	ev.Name = name
	ev.QType = typeString(q.Qtype)
	if q.Qclass != dns.ClassINET {
		ev.Reason = "dns class " + dns.Class(q.Qclass).String() + " not served"
		resp.Rcode = dns.RcodeRefused
		return resp, ev
	}
	if q.Qtype == dns.TypePTR {
		if n, ok := s.syntheticPTR(name); ok {
			ev.Verdict = event.VerdictAllow
			ev.Rule = "synthetic address"
			resp.Answer = append(resp.Answer, &dns.PTR{Hdr: s.hdr(q, dns.TypePTR), Ptr: dns.Fqdn(n)})
			return resp, ev
		}
	}

	d := s.c.Policy.Decide(policy.Request{Name: name, Proto: "dns"})
	if strings.IndexByte(name, '\\') >= 0 {
		// The presentation form escapes a label byte no host name has: a
		// dot inside a label ("x\\.allowed.example" is the labels
		// "x.allowed" and "example", not a name under allowed.example,
		// though its text ends like one), a NUL, a space. Matching the
		// text against the policy would be wrong; no real client asks.
		d = policy.Decision{Reason: invalidNameReason}
	}
	ev.Rule = d.Rule
	tunnel, hardTunnel := s.tunnel.check(name, q.Qtype == dns.TypeTXT || q.Qtype == dns.TypeNULL, s.c.Now())
	block := s.c.Policy.Mode() == policy.ModeBlock
	switch {
	case !d.Allow:
		ev.Reason = joinReason(d.Reason, tunnel)
		if block {
			ev.Verdict = event.VerdictBlock
			resp.Rcode = dns.RcodeNameError
			return resp, ev
		}
		ev.Verdict = event.VerdictAudit
	case hardTunnel:
		// An allowed domain with a label no real host name has, or one
		// past its payload volume: the name is the payload. Refuse it in
		// block mode.
		ev.Reason = tunnel
		if block {
			ev.Verdict = event.VerdictBlock
			resp.Rcode = dns.RcodeNameError
			return resp, ev
		}
		ev.Verdict = event.VerdictAudit
	default:
		// Allowed; entropy and fan-out signals are reported, not enforced,
		// because CDNs produce them too.
		ev.Verdict = event.VerdictAllow
		ev.Reason = tunnel
	}

	switch q.Qtype {
	case dns.TypeA, dns.TypeANY:
		a, ok := s.pool.addrFor(name)
		if !ok {
			ev.Verdict = event.VerdictBlock
			ev.Reason = joinReason(ev.Reason, "synthetic address pool exhausted")
			resp.Rcode = dns.RcodeServerFailure
			return resp, ev
		}
		ev.IP = a.String()
		resp.Answer = append(resp.Answer, &dns.A{Hdr: s.hdr(q, dns.TypeA), A: a.AsSlice()})
	case dns.TypeAAAA, dns.TypeHTTPS, dns.TypeSVCB:
		// Empty NOERROR: see the comment at the top of this file.
	default:
		up, err := s.forward(ctx, req)
		if err == nil && up == nil {
			err = errors.New("no answer")
		}
		if err != nil {
			ev.Reason = joinReason(ev.Reason, "upstream: "+err.Error())
			resp.Rcode = dns.RcodeServerFailure
			return resp, ev
		}
		resp.Rcode = up.Rcode
		resp.Answer = stripAddrs(up.Answer)
		resp.Ns = stripAddrs(up.Ns)
	}
	return resp, ev
}

// invalidNameReason is the reason of a query whose name has a label
// byte no host name has.
const invalidNameReason = "invalid name: a label holds a dot, nul or other byte no host name has"

func (s *Server) hdr(q dns.Question, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: s.c.TTL}
}

// forward sends a copy of req upstream with recursion desired.
func (s *Server) forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(req.Question[0].Name, req.Question[0].Qtype)
	m.SetEdns0(1232, false)
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	return s.c.Exchange(ctx, m)
}

// stripAddrs drops records that carry addresses.
func stripAddrs(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeOPT:
			continue
		}
		out = append(out, rr)
	}
	return out
}

// syntheticPTR answers reverse lookups of synthetic addresses.
func (s *Server) syntheticPTR(name string) (string, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return "", false
	}
	a, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	if err != nil {
		return "", false
	}
	return s.pool.nameFor(a)
}

// pack adds an OPT record when the query had one, truncates to what the
// client can take over UDP and packs.
func (s *Server) pack(resp, req *dns.Msg, proto string) []byte {
	size := dns.MaxMsgSize
	if proto == "udp" {
		size = dns.MinMsgSize
	}
	if opt := req.IsEdns0(); opt != nil {
		if proto == "udp" {
			size = max(dns.MinMsgSize, min(int(opt.UDPSize()), 4096))
		}
		resp.SetEdns0(uint16(min(size, 4096)), false)
	}
	resp.Truncate(size)
	b, err := resp.Pack()
	if err != nil {
		fail := new(dns.Msg)
		fail.Id = resp.Id
		fail.Response = true
		fail.Rcode = dns.RcodeServerFailure
		if b, err = fail.Pack(); err != nil {
			return nil
		}
	}
	return b
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return dns.Type(t).String()
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
