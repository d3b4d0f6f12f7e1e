// Package tcpproxy is buildwall's transparent TCP proxy. Inside the sandbox,
// nftables redirects every outgoing TCP connection to a listener that this
// package serves from the host side. For each accepted connection the proxy
//
//  1. reads the original destination (SO_ORIGINAL_DST);
//  2. binds the connection to a name when the destination is a synthetic
//     address handed out by the DNS server, or treats it as a literal IP;
//  3. for a connection bound to a name (not opted in to opaque TCP by the
//     policy's tcp: list), waits for its opening, at most OpeningTimeout,
//     and verifies it: a TLS ClientHello whose SNI is the name (no ECH), or
//     HTTP/1.x requests whose Host and request-target authority
//     (absolute-form, CONNECT) are the name; anything else is a mismatch;
//  4. asks the policy, emits one "connect" event, and either refuses
//     the connection with a TCP reset or dials the name itself and relays
//     bytes both ways: TLS and opaque TCP with splice(2) on Linux, plain
//     HTTP through a verifying relay (httpStream) that checks every later
//     request head before forwarding it. A later request that fails is a
//     second "connect" event for the connection (block mode resets it).
//
// For connection-setup latency, an allowed connection's path is kept
// short: the sniff first takes what the client has already sent without
// waiting; when it must wait, the upstream is dialled meanwhile (and reset
// unused if the sniff refuses: no client byte reaches it before the
// verdict); process attribution runs beside the connection on reused
// worker goroutines and is joined only when the event is emitted (a
// refused connection's reset waits for it, so the event names the process).
//
// The proxy knows only policy and event; the sandbox, the DNS server and
// process attribution are injected through Config. A Dial error wrapping
// ErrDialRefused (a name resolving only to addresses the run may not
// reach) blocks the connection in every mode.
//
// What the verification cannot see: once a TLS ClientHello has verified,
// the session is encrypted, so an HTTP Host or HTTP/2 :authority inside it
// naming another customer of the same front end (fronting inside TLS) is
// invisible without TLS interception, which buildwall does not do. The
// connection itself always goes to the bound name's addresses (the proxy
// dials the name).
package tcpproxy
