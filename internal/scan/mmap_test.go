package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile/npm"
	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
	"github.com/buildwall/buildwall/internal/treefs"
)

// TestMappedFilesSameFindings scans the same generated project with every
// file read and with every file mapped: the findings must not differ.
func TestMappedFilesSameFindings(t *testing.T) {
	lock, manifest := npmtest.Generate(3000)
	root := writeTree(t, map[string]string{"package-lock.json": string(lock), "package.json": string(manifest)})
	scanWith := func(min int64) []string {
		t.Helper()
		old := mapMin
		mapMin = min
		defer func() { mapMin = old }()
		res, err := Run(context.Background(), Options{Paths: []string{root}, Advisories: advisory.Embedded(), Defaults: lockcheck.StaticDefaults(npmtest.Registry)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range res.Findings {
			out = append(out, fmt.Sprintf("%s:%d:%d %s %v %s", f.Path, f.Line, f.Column, f.Rule, f.Package, f.Message))
		}
		return out
	}
	read, mapped := scanWith(1<<62), scanWith(0)
	if len(read) == 0 {
		t.Fatal("the generated project has no findings; the comparison would prove nothing")
	}
	if diff := cmp.Diff(read, mapped); diff != "" {
		t.Errorf("findings of mapped files differ (-read +mapped):\n%s", diff)
	}
}

// TestMappedFileTruncated maps a lockfile, truncates it and parses the
// stale mapping: the fault must come back as an error, not kill the process.
func TestMappedFileTruncated(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are mapped on linux only")
	}
	lock, _ := npmtest.Generate(200)
	dir := t.TempDir()
	path := filepath.Join(dir, "package-lock.json")
	if err := os.WriteFile(path, lock, 0o644); err != nil {
		t.Fatal(err)
	}
	old := mapMin
	mapMin = 0
	defer func() { mapMin = old }()
	tree, err := treefs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	data, release, err := loadFile(context.Background(), tree, "package-lock.json", true, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	f := &file{rel: "package-lock.json", parser: npm.Parser{}}
	err = parseGuarded(f, &Options{}, data)
	if err == nil || !strings.Contains(err.Error(), "parser crashed") {
		t.Errorf("parse of a truncated mapping: err = %v, want the recovered fault", err)
	}
}
