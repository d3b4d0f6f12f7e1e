//go:build !linux

package scan

// readCIFile reads a CI configuration file; see readLimited.
func readCIFile(path string, limit int64) ([]byte, int64, error) {
	return readLimited(path, limit)
}
