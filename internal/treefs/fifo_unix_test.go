//go:build unix

package treefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }

func TestDeviceNodeNeverOpened(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux to create a device node")
	}
	dir := t.TempDir()
	// A character device with /dev/zero's numbers, planted in the tree.
	if err := syscall.Mknod(filepath.Join(dir, "package-lock.json"), syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
		t.Skipf("mknod: %v", err)
	}
	r, err := Open(dir)
	must(t, err)
	defer r.Close()
	withTimeout(t, func() {
		if _, err := r.ReadFile(context.Background(), "package-lock.json", 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(device) error = %v, want ErrNotRegular", err)
		}
	})
}
