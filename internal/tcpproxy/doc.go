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
// The proxy knows only policy and event; the sandbox, the DNS server and
// process attribution are injected through Config.
package tcpproxy
