//go:build !unix

package treefs

import "os"

const extraOpenFlags = 0

// fileID is unknown here: callers treat 0, 0 as "no identity".
func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
