package report

import "strings"

// The reasons an event can carry that make what it names unfit for a
// suggested policy. They are matched as fragments because interceptors
// join several reasons with "; " and add detail after a colon. This is the
// one list: the DNS server (tunnelling, rebinding answers) and the proxy
// (SNI, Host, absolute-form, CONNECT and :authority mismatches, names it
// could not verify) produce them.
var unsuggestable = []struct {
	fragment string
	// why is what `policy suggest` prints next to the name.
	why string
	// whole: the name is never suggested, even if other events saw it
	// clean (a tunnelling domain or a rebinding target). Otherwise only
	// the event itself does not count (a mismatch says the connection
	// did not carry the name it was bound to).
	whole bool
}{
	{tunnelPrefix, "suspected dns tunnelling", true},
	{"private answer", "rebinding target: private address answer", true},
	{"metadata answer", "rebinding target: metadata address answer", true},
	{"loopback answer", "rebinding target: loopback address answer", true},
	{"link-local answer", "rebinding target: link-local address answer", true},
	{"rebind", "rebinding target", true},
	{"mismatch", "name mismatch on the connection (possible fronting)", false},
	{"cannot verify", "server name not verified", false},
	{"unverified", "server name not verified", false},
	{"no sni", "server name not verified (no sni)", false},
	{"encrypted client hello", "server name not verified (encrypted client hello)", false},
}

// tunnelPrefix starts the reason of every event flagged as suspected DNS
// tunnelling.
const tunnelPrefix = "dns tunnelling suspected"

// IsTunnelReason reports whether an event's reason flags suspected DNS
// tunnelling.
func IsTunnelReason(reason string) bool { return strings.Contains(reason, tunnelPrefix) }

// NotSuggestable reports whether reason makes an event unfit for a
// suggested policy, why, and whether the whole name is unfit (see
// unsuggestable).
func NotSuggestable(reason string) (why string, whole, ok bool) {
	if reason == "" {
		return "", false, false
	}
	r := strings.ToLower(reason)
	for _, u := range unsuggestable {
		if strings.Contains(r, u.fragment) {
			return u.why, u.whole, true
		}
	}
	return "", false, false
}
