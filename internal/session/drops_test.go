package session

import (
	"net/netip"

	"github.com/buildwall/buildwall/internal/sandbox"
)

func sandboxDrop(proto, dst string) sandbox.Drop {
	return sandbox.Drop{Proto: proto, Dst: netip.MustParseAddrPort(dst)}
}

func refusedDrop(dst string) sandbox.Drop {
	return sandbox.Drop{Proto: "tcp", Dst: netip.MustParseAddrPort(dst), Refused: true}
}
