package pin

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/resolve"
	"github.com/buildwall/buildwall/internal/testutil"
)

// fakeResolver answers deterministically: the SHA is sha1("owner/repo@ref"),
// the digest sha256("name:tag"); refs and tags named "missing" do not exist.
type fakeResolver struct{}

func (fakeResolver) Commit(_ context.Context, owner, repo, ref string) (string, error) {
	if ref == "missing" {
		return "", fmt.Errorf("resolve %s/%s@%s: %w", owner, repo, ref, resolve.ErrNotFound)
	}
	sum := sha1.Sum([]byte(owner + "/" + repo + "@" + ref))
	return hex.EncodeToString(sum[:]), nil
}

func (fakeResolver) Digest(_ context.Context, name, tag string) (string, error) {
	if strings.Contains(name, "missing") {
		return "", fmt.Errorf("resolve image %s:%s: %w", name, tag, resolve.ErrNotFound)
	}
	sum := sha256.Sum256([]byte(name + ":" + tag))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// copyTree copies testdata dir src to dst, keeping modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGolden pins testdata/golden/<case>/in with the fake resolver: every
// file must match out/<same path> byte for byte, the report (outcomes and
// the dry-run diff) report.golden; files with nothing to pin must be
// identical to their input.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := filepath.Join(dir, "in")
			work := t.TempDir()
			copyTree(t, in, work)
			rel := func(p string) string {
				r, _ := filepath.Rel(work, p)
				return filepath.ToSlash(r)
			}
			var diff bytes.Buffer
			dry, err := Run(context.Background(), Options{Paths: []string{work}, Resolver: fakeResolver{}, DryRun: true, Diff: &diff, Rel: rel})
			if err != nil {
				t.Fatal(err)
			}
			var report bytes.Buffer
			for _, o := range dry.Outcomes {
				fmt.Fprintln(&report, o)
			}
			fmt.Fprintf(&report, "files=%d changed=%d unpinned=%d\n\n", dry.Files, dry.Changed, dry.Unpinned())
			report.Write(diff.Bytes())
			testutil.Golden(t, filepath.Join(dir, "report.golden"), report.Bytes())

			// The dry run wrote nothing.
			assertTree(t, in, work, true, nil)
			patched := applyDiff(t, in, diff.Bytes())

			wet, err := Run(context.Background(), Options{Paths: []string{work}, Resolver: fakeResolver{}, Rel: rel})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(dry.Outcomes, wet.Outcomes, cmp.Comparer(func(a, b error) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
				t.Errorf("dry run and run disagree (-dry +run):\n%s", diff)
			}
			assertTree(t, in, work, true, func(rel string, got []byte) {
				// Flat names: out/.github__workflows__ci.yml.
				testutil.Golden(t, filepath.Join(dir, "out", strings.ReplaceAll(rel, "/", "__")), got)
			})
			// The dry-run diff, applied with git apply, gives the same files.
			if patched != "" {
				assertTree(t, work, patched, false, nil)
			}
			// Pinning again changes nothing (idempotent).
			again, err := Run(context.Background(), Options{Paths: []string{work}, Resolver: fakeResolver{}, Rel: rel})
			if err != nil {
				t.Fatal(err)
			}
			if again.Changed != 0 {
				t.Errorf("second run changed %d files", again.Changed)
			}
		})
	}
	testutil.CheckUnusedGoldens(t, "testdata/golden/*/report.golden")
	testutil.CheckUnusedGoldens(t, "testdata/golden/*/out/*")
}

// assertTree walks in and compares each file with its copy under work:
// changed files go to changed (nil: no file may change); unchanged files
// must be byte-identical; with checkMode, modes must be 0640 (as copied).
func assertTree(t *testing.T, in, work string, checkMode bool, changed func(rel string, got []byte)) {
	t.Helper()
	err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(in, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(work, rel))
		if err != nil {
			return err
		}
		if st, err := os.Stat(filepath.Join(work, rel)); checkMode && err == nil && st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", rel, st.Mode().Perm())
		}
		switch {
		case bytes.Equal(want, got):
		case changed == nil:
			t.Errorf("%s changed", rel)
		default:
			changed(filepath.ToSlash(rel), got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".pin-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// applyDiff copies in to a new directory and applies diff there with
// git apply; it returns the directory ("" when git is not installed).
func applyDiff(t *testing.T, in string, diff []byte) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Log("git is not installed: the dry-run diff is not applied")
		return ""
	}
	dir := t.TempDir()
	copyTree(t, in, dir)
	if len(diff) == 0 {
		return dir
	}
	cmd := exec.Command("git", "apply", "--whitespace=nowarn", "-")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply of the dry-run diff: %v\n%s", err, out)
	}
	return dir
}
