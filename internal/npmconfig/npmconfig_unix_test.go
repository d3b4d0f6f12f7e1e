//go:build unix

package npmconfig

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadRefusesSpecialFiles: an npmrc that is a FIFO or links to a
// device or to the process's own stdout is never read (it used to hang).
func TestReadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{fifo, "/dev/zero", "/proc/self/fd/1", "/proc/self/fd/0"} {
		link := filepath.Join(dir, "npmrc-"+filepath.Base(target))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := readLimited(link)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil && target != "/proc/self/fd/1" && target != "/proc/self/fd/0" {
				t.Errorf("readLimited(link to %s) succeeded, want an error", target)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("readLimited(link to %s) blocked for 10 s", target)
		}
	}
}
