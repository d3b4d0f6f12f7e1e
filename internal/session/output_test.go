package session

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutputFileTamperAndRestore covers what a build that gets past the
// sandbox's hiding can do to a run's own file, and that buildwall tells
// each apart and puts its own content back at the path.
func TestOutputFileTamperAndRestore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
		want   string
	}{
		{"untouched", func(*testing.T, string) {}, ""},
		{"deleted", func(t *testing.T, p string) { must(t, os.Remove(p)) }, "deleted"},
		{"replaced", func(t *testing.T, p string) {
			must(t, os.Remove(p))
			must(t, os.WriteFile(p, []byte("forged\n"), 0o644))
		}, "replaced"},
		{"symlinked", func(t *testing.T, p string) {
			must(t, os.Remove(p))
			must(t, os.Symlink("/dev/null", p))
		}, "replaced"},
		{"directory_swapped", func(t *testing.T, p string) {
			d := filepath.Dir(p)
			must(t, os.Rename(d, d+".old"))
			must(t, os.Mkdir(d, 0o755))
		}, "deleted"},
		{"hard_linked", func(t *testing.T, p string) { must(t, os.Link(p, p+".link")) }, "given 1 other names (hard links)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out", "events.jsonl")
			must(t, os.MkdirAll(filepath.Dir(path), 0o755))
			f, err := CreateOutput(path)
			must(t, err)
			defer f.Close()
			f.Write([]byte("line 1\n"))
			tc.tamper(t, path)
			f.Write([]byte("line 2\n"))
			if got := f.tampered(); got != tc.want {
				t.Fatalf("tampered() = %q, want %q", got, tc.want)
			}
			if f.modified() {
				t.Error("modified() without a change to the held file")
			}
			if tc.want == "" {
				return
			}
			must(t, f.restore())
			b, err := os.ReadFile(path)
			must(t, err)
			if string(b) != "line 1\nline 2\n" {
				t.Errorf("restored %q", b)
			}
			if got := f.tampered(); got != "replaced" {
				t.Errorf("after restore the path names a new file; tampered() = %q", got)
			}
		})
	}
}

func TestOutputFileModifiedInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	must(t, os.WriteFile(path, []byte("earlier step\n"), 0o644))
	f, err := AppendOutput(path)
	must(t, err)
	defer f.Close()
	f.Write([]byte("ours\n"))
	if f.modified() {
		t.Fatal("modified() on an untouched file")
	}
	other, err := os.OpenFile(path, os.O_WRONLY, 0) // another path to the same file
	must(t, err)
	other.WriteAt([]byte("OURS"), int64(len("earlier step\n")))
	other.Close()
	if !f.modified() {
		t.Error("an in-place change of the same length was not seen")
	}
}

func TestCreateOutputRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "run.json")))
	if _, err := CreateReport(filepath.Join(dir, "run.json")); err == nil {
		t.Error("a report path that is a symlink was followed")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
