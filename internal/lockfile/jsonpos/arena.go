package jsonpos

import "unsafe"

// arenaBlock is the size of the blocks an Arena copies strings into.
const arenaBlock = 64 << 10

// Arena turns decoded byte slices into strings that the caller keeps,
// copying them into shared 64 KiB blocks instead of allocating one object
// per string. A block stays alive as long as any string in it does. The
// zero value is ready to use; an Arena is not safe for concurrent use.
type Arena struct {
	block []byte
}

// String returns a string with the contents of b. It never aliases b.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaBlock/8 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	// Sound because the arena only ever appends: bytes below len(a.block)
	// are never written again, so the string is immutable.
	return unsafe.String(&a.block[start], len(b))
}
