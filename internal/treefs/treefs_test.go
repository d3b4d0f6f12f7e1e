package treefs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// hostileTree builds a root with one file of every kind a pull request can
// plant, and a secret outside it.
func hostileTree(t *testing.T) (root string, secret string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "repo")
	secret = filepath.Join(base, "secret.txt")
	must(t, os.MkdirAll(filepath.Join(root, "sub", "deep"), 0o755))
	must(t, os.WriteFile(secret, []byte("TOKEN=outside-secret\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "sub", "deep", "real.txt"), []byte("inside\n"), 0o644))
	links := map[string]string{
		"in-link":       "sub/deep/real.txt",
		"sub/up-link":   "../sub/deep/real.txt",
		"dir-link":      "sub",
		"abs-out":       secret,
		"rel-out":       "../secret.txt",
		"proc-stdout":   "/proc/self/fd/1",
		"dev-zero":      "/dev/zero",
		"loop-a":        "loop-b",
		"loop-b":        "loop-a",
		"dangling":      "nowhere",
		"sub/climb-out": "../../secret.txt",
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(root, name)))
	}
	must(t, mkfifo(filepath.Join(root, "fifo")))
	must(t, os.Symlink("fifo", filepath.Join(root, "fifo-link")))
	return root, secret
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withTimeout fails the test instead of hanging when fn blocks.
func withTimeout(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("read blocked for 10 s")
	}
}

func TestRootReadFile(t *testing.T) {
	root, _ := hostileTree(t)
	for _, beneath := range []bool{true, false} {
		r, err := Open(root)
		must(t, err)
		defer r.Close()
		if !beneath {
			forcePortable(r)
		}
		tests := []struct {
			name string
			rel  string
			want string
			err  error
		}{
			{"regular", "sub/deep/real.txt", "inside\n", nil},
			{"link_inside", "in-link", "inside\n", nil},
			{"link_up_and_back", "sub/up-link", "inside\n", nil},
			{"through_dir_link", "dir-link/deep/real.txt", "inside\n", nil},
			{"absolute_link_out", "abs-out", "", ErrOutside},
			{"relative_link_out", "rel-out", "", ErrOutside},
			{"nested_link_out", "sub/climb-out", "", ErrOutside},
			{"proc_fd", "proc-stdout", "", ErrOutside},
			{"dev_zero", "dev-zero", "", ErrOutside},
			{"dot_dot", "../secret.txt", "", ErrOutside},
			{"loop", "loop-a", "", syscall.ELOOP},
			{"dangling", "dangling", "", fs.ErrNotExist},
			{"directory", "sub", "", ErrNotRegular},
			{"fifo", "fifo", "", ErrNotRegular},
			{"fifo_link", "fifo-link", "", ErrNotRegular},
		}
		for _, tt := range tests {
			withTimeout(t, func() {
				got, err := r.ReadFile(context.Background(), tt.rel, 1<<20)
				// OpenListed must fail or succeed alike.
				if f, lerr := r.OpenListed(tt.rel); (lerr == nil) != (err == nil) || (tt.err != nil && !errors.Is(lerr, tt.err)) {
					t.Errorf("beneath=%v %s: OpenListed(%q) error = %v, ReadFile's %v", beneath, tt.name, tt.rel, lerr, err)
				} else if lerr == nil {
					f.Close()
				}
				if tt.err == nil {
					if err != nil || string(got) != tt.want {
						t.Errorf("beneath=%v %s: ReadFile(%q) = %q, %v; want %q", beneath, tt.name, tt.rel, got, err, tt.want)
					}
					return
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("beneath=%v %s: ReadFile(%q) error = %v, want %v", beneath, tt.name, tt.rel, err, tt.err)
				}
				if len(got) != 0 {
					t.Errorf("beneath=%v %s: ReadFile(%q) returned data %q with an error", beneath, tt.name, tt.rel, got)
				}
			})
		}
	}
}

func TestRootStat(t *testing.T) {
	root, _ := hostileTree(t)
	r, err := Open(root)
	must(t, err)
	defer r.Close()
	info, err := r.Stat("dir-link")
	if err != nil || !info.IsDir() {
		t.Errorf("Stat(dir-link) = %+v, %v; want a directory", info, err)
	}
	sub, err := r.Stat("sub")
	must(t, err)
	if sub.Ino == 0 || sub.Ino != info.Ino || sub.Dev != info.Dev {
		t.Errorf("Stat(dir-link) identity %d/%d, Stat(sub) %d/%d: want equal and known", info.Dev, info.Ino, sub.Dev, sub.Ino)
	}
	if info, err := r.Stat("fifo"); err != nil || info.Mode&fs.ModeNamedPipe == 0 {
		t.Errorf("Stat(fifo) = %+v, %v; want a named pipe", info, err)
	}
	if _, err := r.Stat("abs-out"); !errors.Is(err, ErrOutside) {
		t.Errorf("Stat(abs-out) error = %v, want ErrOutside", err)
	}
}

func TestReadFileLimitAndCancel(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, 100), 0o644))
	r, err := Open(dir)
	must(t, err)
	defer r.Close()
	_, err = r.ReadFile(context.Background(), "big", 99)
	var se *SizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) || se.Size != 100 || se.Limit != 99 {
		t.Errorf("ReadFile over the limit: %v, want *SizeError{100, 99}", err)
	}
	if got, err := r.ReadFile(context.Background(), "big", 100); err != nil || len(got) != 100 {
		t.Errorf("ReadFile at the limit: %d bytes, %v", len(got), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.ReadFile(ctx, "big", 100); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestUserFileReadFile(t *testing.T) {
	root, secret := hostileTree(t)
	withTimeout(t, func() {
		if _, err := ReadFile(context.Background(), filepath.Join(root, "fifo"), 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(fifo) error = %v, want ErrNotRegular", err)
		}
		if _, err := ReadFile(context.Background(), "/dev/zero", 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(/dev/zero) error = %v, want ErrNotRegular", err)
		}
		// An explicit path may lie anywhere and be a link.
		if got, err := ReadFile(context.Background(), filepath.Join(root, "abs-out"), 1<<20); err != nil || string(got) == "" {
			t.Errorf("ReadFile(link to %s) = %q, %v", secret, got, err)
		}
	})
	if runtime.GOOS == "linux" {
		if _, err := ReadFile(context.Background(), "/proc/self/status", 1<<20); !errors.Is(err, ErrSpecialFS) {
			t.Errorf("ReadFile(/proc/self/status) error = %v, want ErrSpecialFS", err)
		}
		if _, err := Open("/proc/self"); !errors.Is(err, ErrSpecialFS) {
			t.Errorf("Open(/proc/self) error = %v, want ErrSpecialFS", err)
		}
	}
}
