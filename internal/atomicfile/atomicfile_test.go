package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/testutil"
)

func TestWriteFileReplacesKeepingMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(data) != "new" || st.Mode().Perm() != 0o640 {
		t.Errorf("got %q mode %v, want \"new\" mode 0640", data, st.Mode().Perm())
	}
	assertOnly(t, dir, "report.json")
}

func TestAbortLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	os.WriteFile(p, []byte("old"), 0o644)
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "old" {
		t.Errorf("content = %q, want old", data)
	}
	assertOnly(t, dir, "out")
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "new.sarif")); err != nil {
		t.Errorf("Check of a creatable file: %v", err)
	}
	assertOnly(t, dir)
	for _, bad := range []string{filepath.Join(dir, "missing", "x.sarif"), dir} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%s) = nil, want an error", bad)
		}
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := Check(filepath.Join(ro, "x")); err == nil {
			t.Errorf("Check in a read-only directory = nil")
		}
	}
}

// TestFullDiskKeepsOldFile: on a full file system the replacement fails
// and the old file is intact, with no temporary file left behind.
func TestFullDiskKeepsOldFile(t *testing.T) {
	dir := testutil.SmallTmpfs(t, 256<<10)
	p := filepath.Join(dir, "findings.sarif")
	old := strings.Repeat("old report\n", 100)
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, dir)
	err := WriteFile(p, []byte(strings.Repeat("new report\n", 50000)), 0o644)
	if err == nil {
		t.Fatal("WriteFile on a full disk succeeded")
	}
	if data, _ := os.ReadFile(p); string(data) != old {
		t.Errorf("old file changed: %d bytes", len(data))
	}
	assertOnly(t, dir, "filler", "findings.sarif")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		if e.Name() != "ro" {
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}

// TestLinksAndDevices: a link is replaced, its target (which could lie
// outside the repository) left alone; a device such as /dev/null is written
// directly, never replaced.
func TestLinksAndDevices(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	os.WriteFile(target, []byte("old"), 0o644)
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the link was not replaced by a regular file: %v %v", st, err)
	}
	if data, _ := os.ReadFile(target); string(data) != "old" {
		t.Errorf("the link's target was written: %q", data)
	}
	if data, _ := os.ReadFile(link); string(data) != "new" {
		t.Errorf("link.json = %q, want new", data)
	}
	if err := Check(os.DevNull); err != nil {
		t.Errorf("Check(%s): %v", os.DevNull, err)
	}
	if err := WriteFile(os.DevNull, []byte("x"), 0o644); err != nil {
		t.Errorf("WriteFile(%s): %v", os.DevNull, err)
	}
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode().IsRegular() {
		t.Fatalf("%s was replaced by a regular file!", os.DevNull)
	}
}
