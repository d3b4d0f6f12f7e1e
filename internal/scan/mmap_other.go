//go:build !linux

package scan

import "os"

// mapFile is not used on this platform: files are read.
func mapFile(*os.File, int64) ([]byte, func(), bool) { return nil, nil, false }
