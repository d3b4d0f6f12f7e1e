// Package archtest checks the import directions that docs/architecture.md
// promises, so the plan cannot rot silently.
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/buildwall/buildwall/"

// imports returns the import paths of the non-test Go files of the package
// in dir (relative to the module root).
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[p] = true
		}
	}
	return out
}

// packages lists every package directory under internal/ and cmd/.
func packages(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, top := range []string{"internal", "cmd"} {
		root := filepath.Join("..", "..", top)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if d.IsDir() {
				rel, _ := filepath.Rel(filepath.Join("..", ".."), p)
				dirs = append(dirs, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// allowedThirdParty are the small parsing libraries and the std-only
// packages of this module the std-only packages may use.
var allowedThirdParty = map[string]bool{
	"go.yaml.in/yaml/v3":          true,
	module + "internal/npmconfig": true,
	module + "internal/spelling":  true,
}

func TestStdlibOnlyPackages(t *testing.T) {
	for _, dir := range []string{"internal/finding", "internal/event", "internal/policy", "internal/npmconfig", "internal/spelling", "internal/termsafe"} {
		for imp := range imports(t, dir) {
			if !isStd(imp) && !allowedThirdParty[imp] {
				t.Errorf("%s imports %s; it may import only the standard library and small parsing libraries", dir, imp)
			}
		}
	}
}

func TestForbiddenDirections(t *testing.T) {
	forbidden := map[string][]string{
		// Interceptors know policy and event, never the sandbox or the report.
		"internal/dnsproxy": {"internal/sandbox", "internal/report", "internal/session", "internal/netfilter", "internal/cli"},
		"internal/tcpproxy": {"internal/sandbox", "internal/report", "internal/session", "internal/netfilter", "internal/cli"},
		// The sandbox knows nothing about policy.
		"internal/sandbox":   {"internal/policy", "internal/dnsproxy", "internal/tcpproxy", "internal/session", "internal/report", "internal/cli"},
		"internal/netfilter": {"internal/policy", "internal/dnsproxy", "internal/tcpproxy", "internal/session", "internal/report", "internal/cli"},
		// Parsers never report findings; rules never read files; output never decides.
		"internal/lockfile":  {"internal/lockcheck", "internal/scan", "internal/output", "internal/cli", "internal/advisory"},
		"internal/lockcheck": {"internal/scan", "internal/output", "internal/cli"},
		"internal/output":    {"internal/lockcheck", "internal/cicheck", "internal/scan", "internal/cli"},
		"internal/ciconfig":  {"internal/cicheck", "internal/scan", "internal/output", "internal/cli"},
		"internal/cicheck":   {"internal/scan", "internal/output", "internal/cli"},
		"internal/advisory":  {"internal/scan", "internal/lockcheck", "internal/cicheck", "internal/output", "internal/cli"},
	}
	for _, dir := range packages(t) {
		for prefix, bad := range forbidden {
			if dir != prefix && !strings.HasPrefix(dir, prefix+"/") {
				continue
			}
			for imp := range imports(t, dir) {
				for _, b := range bad {
					if imp == module+b || strings.HasPrefix(imp, module+b+"/") {
						t.Errorf("%s imports %s, which the architecture forbids", dir, imp)
					}
				}
			}
		}
	}
}

// TestOnlyMainExits keeps os.Exit in cmd/buildwall alone.
func TestOnlyMainExits(t *testing.T) {
	for _, dir := range packages(t) {
		if strings.HasPrefix(dir, "cmd/") {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "os.Exit(") {
				t.Errorf("%s calls os.Exit; only cmd/buildwall may", f)
			}
		}
	}
}
