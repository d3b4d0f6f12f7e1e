// Package tcpproxy is buildwall's transparent TCP proxy. Inside the sandbox,
// nftables redirects every outgoing TCP connection to a listener that this
// package serves from the host side. For each accepted connection the proxy
//
//  1. reads the original destination (SO_ORIGINAL_DST);
//  2. binds the connection to a name when the destination is a synthetic
//     address handed out by the DNS server, or treats it as a literal IP;
//  3. sniffs the first client bytes for a TLS ClientHello SNI or an HTTP/1.x
//     Host header and compares them with the bound name;
//  4. asks the policy, emits exactly one "connect" event, and either refuses
//     the connection with a TCP reset or dials the name itself and relays
//     bytes both ways (with splice(2) on Linux).
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
// process attribution are injected through Config.
//
// What the SNI/Host check can and cannot see: it reads the first
// ClientHello or the first HTTP/1.x request head of a connection only, and
// the relay after it is zero-copy. A later request on a kept-alive plain
// HTTP connection, the HTTP Host or :authority inside TLS, and the inner
// name of an Encrypted Client Hello (reported, "ech: ...") are not seen.
// The connection itself always goes to the bound name's addresses (the
// proxy dials the name), so what remains is fronting through a server
// that hosts several names behind one allowed name; catching that needs
// TLS interception, which buildwall does not do.
package tcpproxy
