//go:build !linux

package scan

// mapFile is not used on this platform: files are read.
func mapFile(uintptr, int64) ([]byte, func(), bool) { return nil, nil, false }
