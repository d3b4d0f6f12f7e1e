//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScanConfigNotRegular: buildwall.yml found in the tree as a FIFO or a
// link out of the repository is reported and not read (the scan runs
// without it, so its fail-on: none cannot pass the gate); --config naming
// a FIFO is a usage error, never a hang.
func TestScanConfigNotRegular(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "buildwall.yml")
	if err := os.WriteFile(outside, []byte("scan:\n  fail-on: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		plant func(p string) error
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"link_outside", func(p string) error { return os.Symlink(outside, p) }},
		{"link_stdout", func(p string) error { return os.Symlink("/proc/self/fd/1", p) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock, ".git/HEAD": "ref: refs/heads/main\n"})
			if err := tt.plant(filepath.Join(dir, "buildwall.yml")); err != nil {
				t.Fatal(err)
			}
			got := runBoundedCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "json", dir)
			if got.code != ExitFindings {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, ExitFindings, got.stdout, got.stderr)
			}
			if !strings.Contains(got.stdout, `"rule": "unscanned-path"`) || !strings.Contains(got.stdout, "buildwall.yml was not scanned: ") {
				t.Errorf("no unscanned-path finding for buildwall.yml:\n%s", got.stdout)
			}
		})
	}
	t.Run("config_flag_fifo", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": cleanLock})
		fifo := filepath.Join(dir, "cfg.yml")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		got := runBoundedCLI(t, dir, "scan", "--db", t.TempDir(), "--config", fifo, dir)
		if got.code != ExitUsage || !strings.Contains(got.stderr, "not a regular file") {
			t.Errorf("exit code = %d, stderr %q; want %d and 'not a regular file'", got.code, got.stderr, ExitUsage)
		}
	})
}

// runBoundedCLI is runCLI that fails the test instead of hanging.
func runBoundedCLI(t *testing.T, dir string, args ...string) scanRun {
	t.Helper()
	done := make(chan scanRun, 1)
	go func() { done <- runCLI(t, dir, args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("buildwall did not return in 20 s")
		return scanRun{}
	}
}
