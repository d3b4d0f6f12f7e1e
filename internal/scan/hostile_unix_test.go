//go:build unix

package scan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/npm"
)

// runBounded runs Run and fails the test instead of hanging.
func runBounded(t *testing.T, ctx context.Context, opts Options) (*Result, error) {
	t.Helper()
	if opts.Defaults == nil {
		opts.Defaults = lockcheck.StaticDefaults("https://registry.example/")
	}
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := Run(ctx, opts)
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(20 * time.Second):
		t.Fatal("scan did not return in 20 s")
		return nil, nil
	}
}

const secret = "OUTSIDE-SECRET-3f9a"

// TestHostileConfigFiles plants each registry configuration file and the
// lockfile as a link to the process's stdout, a FIFO, /dev/zero and a file
// outside the root, and as a FIFO itself: the scan never blocks, never reads
// them, and reports each as unscanned-path with a reason.
func TestHostileConfigFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses /proc and FIFOs")
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("registry=https://"+secret+".example/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{
		"stdout":   "/proc/self/fd/1",
		"devzero":  "/dev/zero",
		"outside":  outside,
		"fifolink": "fifo",
		"fifo":     "", // the file itself is a FIFO
	}
	names := []string{".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", "package-lock.json"}
	for _, name := range names {
		for kind, target := range targets {
			t.Run(strings.TrimPrefix(name, ".")+"_"+kind, func(t *testing.T) {
				files := map[string]string{"package.json": testManifest}
				if name != "package-lock.json" {
					files["package-lock.json"] = lock
				}
				dir := writeTree(t, files)
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, name)
				var err error
				if target == "" {
					err = syscall.Mkfifo(p, 0o644)
				} else {
					err = os.Symlink(target, p)
				}
				if err != nil {
					t.Fatal(err)
				}
				res, err := runBounded(t, context.Background(), Options{Paths: []string{dir}})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, f := range res.Findings {
					if strings.Contains(f.Message, secret) {
						t.Errorf("finding quotes the outside file: %s", f.Message)
					}
					if f.Rule == "unscanned-path" {
						got = append(got, f.Path)
						if !strings.Contains(f.Message, "was not scanned: ") {
							t.Errorf("unscanned-path without a reason: %s", f.Message)
						}
					}
				}
				if diff := cmp.Diff([]string{name}, got); diff != "" {
					t.Errorf("unscanned-path findings (-want +got):\n%s", diff)
				}
				if slices.Contains(res.Files, name) {
					t.Errorf("%s counted among the files scanned: %q", name, res.Files)
				}
			})
		}
	}
}

// TestSymlinksInsideRoot: a link to a lockfile inside the root is scanned
// under the link's name (not lockfile-missing); a link to a directory of
// the tree is not walked twice; link loops are reported, never followed
// forever.
func TestSymlinksInsideRoot(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"store/lock.json":                    lock,
		"app/package.json":                   testManifest,
		"lib/pkg/package.json":               testManifest,
		"lib/pkg/package-lock.json":          lock,
		"node_modules/web/package.json":      testManifest,
		"node_modules/web/package-lock.json": lock,
	})
	links := map[string]string{
		"app/package-lock.json":  "../store/lock.json",
		"lib-again":              "lib",
		"lib/pkg/self":           "..",
		"loop/package-lock.json": "package-lock.json",
		// A project hidden in a skipped directory is walked under the
		// link's name, once, loops included.
		"web":                    "node_modules/web",
		"node_modules/web/again": ".",
		"node_modules/web/up":    "../web",
	}
	if err := os.MkdirAll(filepath.Join(dir, "loop"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	res, err := runBounded(t, context.Background(), Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app/package-lock.json:3 missing-integrity",
		"lib/pkg/package-lock.json:3 missing-integrity",
		"loop/package-lock.json:0 unscanned-path",
		"web/package-lock.json:3 missing-integrity",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestExplicitSymlinkedLockfile: a lockfile named on the command line that
// is a link is scanned under the name given.
func TestExplicitSymlinkedLockfile(t *testing.T) {
	dir := writeTree(t, map[string]string{"store/abc123": lock, "app/package.json": testManifest})
	link := filepath.Join(dir, "app", "package-lock.json")
	if err := os.Symlink("../store/abc123", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := runBounded(t, context.Background(), Options{Paths: []string{link}})
	if err != nil {
		t.Fatal(err)
	}
	// The repository (.git) is the base: the path is the link's, from the top.
	if diff := cmp.Diff([]string{"app/package-lock.json:3 missing-integrity"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestUnreadableDirectory: a directory the scanning user cannot list is an
// unscanned-path finding (it used to be a warning and exit 0).
func TestUnreadableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything; the CLI test runs this case as nobody")
	}
	dir := writeTree(t, map[string]string{"package.json": testManifest, "package-lock.json": lock, "secret/package-lock.json": lock})
	if err := os.Chmod(filepath.Join(dir, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "secret"), 0o755) })
	res := run(t, Options{Paths: []string{dir}})
	want := []string{"package-lock.json:3 missing-integrity", "secret:0 unscanned-path"}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// blockingParser is an npm parser that never returns for files named
// package-lock.json under a directory called "stuck": a stand-in for any
// parser or rule that takes too long on hostile input.
type blockingParser struct {
	npm.Parser
	release chan struct{}
	entered atomic.Int32
}

func (p *blockingParser) Parse(path string, data []byte) (*lockfile.Lockfile, error) {
	if strings.HasPrefix(path, "stuck/") {
		p.entered.Add(1)
		<-p.release
	}
	return p.Parser.Parse(path, data)
}

// TestCancelReturnsPartialResult: cancelling a scan stuck in a parser
// returns within a second with the findings finished so far, marked
// incomplete.
func TestCancelReturnsPartialResult(t *testing.T) {
	files := map[string]string{"package.json": testManifest, "package-lock.json": lock}
	for i := range 8 {
		files[fmt.Sprintf("stuck/%d/package-lock.json", i)] = lock
	}
	dir := writeTree(t, files)
	bp := &blockingParser{release: make(chan struct{})}
	defer close(bp.release)
	ctx, cancel := context.WithCancel(context.Background())
	var res *Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = runBounded(t, ctx, Options{Paths: []string{dir}, Parsers: []lockfile.Parser{bp}})
	}()
	for bp.entered.Load() < int32(min(runtime.GOMAXPROCS(0), 8)) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	<-done
	if took := time.Since(start); took > time.Second {
		t.Errorf("Run returned %v after cancel, want within a second", took)
	}
	if !errors.Is(err, context.Canceled) || res == nil || !res.Incomplete {
		t.Fatalf("Run = %+v, %v; want an incomplete result and context.Canceled", res, err)
	}
	// The root lockfile was parsed before the workers got stuck.
	if !slices.Contains(res.Files, "package-lock.json") {
		t.Errorf("partial Files = %q, want package-lock.json among them", res.Files)
	}
}
