//go:build !linux

package testutil

import "testing"

// SmallTmpfs skips the test: mounting a tmpfs is Linux-only here.
func SmallTmpfs(t *testing.T, size int) string {
	t.Skip("tmpfs mounts are Linux-only")
	return ""
}

// FillDisk is never reached: SmallTmpfs skips first.
func FillDisk(t *testing.T, dir string) { t.Helper() }
