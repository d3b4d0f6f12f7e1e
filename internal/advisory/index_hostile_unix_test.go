//go:build unix

package advisory

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenPlantedIndex: an index a pull request could plant in a database
// directory inside the repository neither hangs nor inflates Open.
func TestOpenPlantedIndex(t *testing.T) {
	t.Run("fifo", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(dir, IndexFile), 0o644); err != nil {
			t.Skip("mkfifo:", err)
		}
		done := make(chan error, 1)
		go func() { _, err := Open(dir); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrCorruptIndex) {
				t.Errorf("Open error = %v, want ErrCorruptIndex", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Open blocked on a FIFO index")
		}
	})
	t.Run("symlink_to_device", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink("/dev/zero", filepath.Join(dir, IndexFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrCorruptIndex) {
			t.Errorf("Open error = %v, want ErrCorruptIndex", err)
		}
	})
	t.Run("gzip_bomb", func(t *testing.T) {
		dir := t.TempDir()
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write([]byte(indexMagic + "\n"))
		chunk := make([]byte, 1<<20)
		for range 64 { // 64 MiB of zeros in ~64 KiB
			zw.Write(chunk)
		}
		zw.Close()
		if err := os.WriteFile(filepath.Join(dir, IndexFile), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrCorruptIndex) {
			t.Errorf("Open error = %v, want ErrCorruptIndex", err)
		}
	})
}
