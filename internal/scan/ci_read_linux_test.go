package scan

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadCIFile checks that readCIFile returns what readLimited returns
// for regular files, sizes and missing files, and refuses a FIFO without
// blocking.
func TestReadCIFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "ci.yml")
	if err := os.WriteFile(small, []byte("on: push\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		limit    int64
		want     string
		wantSize int64
		wantErr  error
	}{
		{name: "regular", path: small, limit: 100, want: "on: push\n", wantSize: 9},
		{name: "exactly the limit", path: small, limit: 9, want: "on: push\n", wantSize: 9},
		{name: "over the limit", path: small, limit: 8, wantSize: 9, wantErr: errTooLarge},
		{name: "empty", path: empty, limit: 100, want: "", wantSize: 0},
		{name: "missing", path: filepath.Join(dir, "missing.yml"), limit: 100, wantErr: syscall.ENOENT},
		{name: "fifo", path: fifo, limit: 100, wantErr: os.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, size, err := readCIFile(tt.path, tt.limit)
			if tt.wantErr == os.ErrInvalid {
				if err == nil || err.Error() != "read "+tt.path+": not a regular file" {
					t.Fatalf("readCIFile(%s) error = %v, want not a regular file", tt.name, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readCIFile(%s) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("readCIFile(%s) data (-want +got):\n%s", tt.name, diff)
			}
			if size != tt.wantSize {
				t.Errorf("readCIFile(%s) size = %d, want %d", tt.name, size, tt.wantSize)
			}
			if tt.wantErr != nil {
				return
			}
			// The same bytes and size as the general reader.
			lData, lSize, lErr := readLimited(tt.path, tt.limit)
			if lErr != nil || string(lData) != string(got) || lSize != size {
				t.Errorf("readLimited(%s) = %q, %d, %v; readCIFile gave %q, %d", tt.name, lData, lSize, lErr, got, size)
			}
		})
	}
}
