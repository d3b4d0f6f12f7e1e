package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/testutil"
)

// TestRealWorld scans the lockfiles and package.json files of real public
// repositories (testdata/realworld/<name>/, with SOURCE naming the
// repository, commit and licence) and compares every lockfile finding with
// expected.golden, reviewed by hand. The clients' documented built-in
// registries are the defaults (no npm or yarn is asked). A new finding
// fails the test; so does any unparseable-lockfile, any lockfile-drift, or
// any high or critical finding, which the corpus of clean projects must not
// have, unless REVIEWED in the repository's directory lists it
// ("<rule> <path>:<line> <reason>") as a true positive.
func TestRealWorld(t *testing.T) {
	isolateClientConfig(t)
	t.Setenv("PATH", t.TempDir()) // no npm, no yarn: the built-ins stand in
	dirs, err := filepath.Glob(filepath.Join("testdata", "realworld", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 15 {
		t.Fatalf("%d real-world repositories, want at least 15", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "SOURCE")); err != nil {
				t.Fatalf("no SOURCE file: %v", err)
			}
			res, err := Run(context.Background(), Options{
				Paths:    []string{dir},
				Base:     dir,
				Defaults: clientDefaults(context.Background(), func(string) string { return "" }, corpusRegistries),
			})
			if err != nil {
				t.Fatal(err)
			}
			reviewed := reviewedHigh(t, dir)
			var b strings.Builder
			for _, f := range res.Findings {
				key := fmt.Sprintf("%s %s:%d", f.Rule, f.Path, f.Line)
				if f.Rule == "unparseable-lockfile" || f.Rule == "lockfile-drift" || f.Severity >= finding.SeverityHigh && !reviewed[key] {
					t.Errorf("clean project has %s %s at %s:%d: %s", f.Severity, f.Rule, f.Path, f.Line, f.Message)
				}
				pkg := "-"
				if f.Package != nil {
					pkg = f.Package.String()
				}
				fmt.Fprintf(&b, "%s:%d %s %s %s\n  %s\n", f.Path, f.Line, f.Severity, f.Rule, pkg, f.Message)
			}
			if b.Len() == 0 {
				b.WriteString("no findings\n")
			}
			testutil.Golden(t, filepath.Join(dir, "expected.golden"), []byte(b.String()))
		})
	}
}

// reviewedHigh reads dir/REVIEWED: high findings judged true positives.
func reviewedHigh(t *testing.T, dir string) map[string]bool {
	data, err := os.ReadFile(filepath.Join(dir, "REVIEWED"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		out[f[0]+" "+f[1]] = true
	}
	return out
}

// corpusRegistries stand in for the clients' built-in registries: the
// corpus lockfiles were stored with the registry hosts replaced by these
// made-up ones, and whatever npm or yarn is installed here is not asked.
var corpusRegistries = clientBuiltins{npm: "https://registry.npm.example/", yarn: "https://registry.yarn.example/"}
