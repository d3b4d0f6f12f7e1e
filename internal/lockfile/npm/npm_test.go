package npm

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
	"github.com/buildwall/buildwall/internal/testutil"
)

// integrity is how the fixtures' sha512 values were made: the SRI hash of
// "name@version" (not of a real tarball).
func integrity(nameVersion string) string {
	sum := sha512.Sum512([]byte(nameVersion))
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

var generate = npmtest.Generate

func parseFile(t *testing.T, path string) (*lockfile.Lockfile, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := Parser{}.Parse(filepath.Base(path), data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return lf, data
}

// TestParseGolden parses every fixture in testdata/lockfiles and compares
// the whole model with its .golden file (go test -update rewrites them).
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lockfiles/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			lf, _ := parseFile(t, f)
			testutil.Golden(t, strings.TrimSuffix(f, ".json")+".golden", render(lf))
		})
	}
	testutil.CheckUnusedGoldens(t, "testdata/lockfiles/*.golden")
}

// render prints the model one package per line: position, path, then the
// fields that are set; then the importers, sorted.
func render(lf *lockfile.Lockfile) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "format=%s version=%s packages=%d\n", lf.Format, lf.Version, len(lf.Packages))
	for _, p := range lf.Packages {
		fmt.Fprintf(&b, "%d:%d %s name=%s", p.Line, p.Column, p.Path, p.Name)
		for _, f := range []struct{ k, v string }{{"alias", p.Alias}, {"version", p.Version}, {"source", p.Source.String()}, {"resolved", p.Resolved}, {"integrity", p.Integrity}} {
			if f.v != "" {
				fmt.Fprintf(&b, " %s=%q", f.k, f.v)
			}
		}
		for _, f := range []struct {
			k string
			v bool
		}{{"dev", p.Dev}, {"optional", p.Optional}, {"install-script", p.InstallScript}} {
			if f.v {
				fmt.Fprintf(&b, " %s", f.k)
			}
		}
		b.WriteByte('\n')
	}
	for _, dir := range slices.Sorted(maps.Keys(lf.Importers)) {
		fmt.Fprintf(&b, "importer %s\n", dir)
		deps := lf.Importers[dir]
		for _, name := range slices.Sorted(maps.Keys(deps)) {
			fmt.Fprintf(&b, "  %s spec=%q version=%q\n", name, deps[name].Spec, deps[name].Version)
		}
	}
	return b.Bytes()
}

// TestPositionsPointAtKeys checks every package position against the
// fixture text, independently of the parser: the JSON string that starts
// at Line:Column must be the entry's key.
func TestPositionsPointAtKeys(t *testing.T) {
	files, _ := filepath.Glob("testdata/lockfiles/*.json")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			lf, data := parseFile(t, f)
			lines := strings.Split(string(data), "\n")
			for _, pkg := range lf.Packages {
				if pkg.Line < 1 || pkg.Line > len(lines) || pkg.Column < 1 {
					t.Errorf("%s: position %d:%d out of range", pkg.Path, pkg.Line, pkg.Column)
					continue
				}
				runes := []rune(lines[pkg.Line-1])
				if pkg.Column > len(runes) {
					t.Errorf("%s: column %d beyond line end", pkg.Path, pkg.Column)
					continue
				}
				var key string
				if err := json.NewDecoder(strings.NewReader(string(runes[pkg.Column-1:]))).Decode(&key); err != nil {
					t.Errorf("%s: no JSON string at %d:%d: %v", pkg.Path, pkg.Line, pkg.Column, err)
					continue
				}
				want := pkg.Path
				if lf.Version == "1" { // v1 keys are names; the path is rebuilt
					want = pkg.Path[strings.LastIndex(pkg.Path, "node_modules/")+len("node_modules/"):]
				}
				if key != want {
					t.Errorf("%s: key at %d:%d is %q, want %q", pkg.Path, pkg.Line, pkg.Column, key, want)
				}
			}
		})
	}
}

// TestParseEntries spells out selected entries field by field.
func TestParseEntries(t *testing.T) {
	tests := []struct {
		file, path string
		want       lockfile.Package
	}{
		{
			file: "v3.json", path: "node_modules/aliased",
			want: lockfile.Package{Name: "real-pkg", Alias: "aliased", Version: "1.2.3",
				Resolved: "https://registry.example/real-pkg/-/real-pkg-1.2.3.tgz", Integrity: integrity("real-pkg@1.2.3"),
				Source: lockfile.SourceRegistry, Path: "node_modules/aliased", Line: 46, Column: 5},
		},
		{
			file: "v3.json", path: "node_modules/@scope/pkg/node_modules/left-pad",
			want: lockfile.Package{Name: "left-pad", Version: "1.0.0",
				Resolved: "https://registry.example/left-pad/-/left-pad-1.0.0.tgz", Integrity: "sha1-0iJ9Zm4U2WmGpA3AVJ6h3/xg7KU=",
				Source: lockfile.SourceRegistry, Path: "node_modules/@scope/pkg/node_modules/left-pad", Line: 41, Column: 5},
		},
		{
			file: "v3.json", path: "node_modules/bundler/node_modules/inner",
			want: lockfile.Package{Name: "inner", Version: "0.1.0", Source: lockfile.SourceUnknown,
				Path: "node_modules/bundler/node_modules/inner", Line: 60, Column: 5},
		},
		{
			file: "v3.json", path: "node_modules/esbuild",
			want: lockfile.Package{Name: "esbuild", Version: "0.20.2",
				Resolved: "https://registry.example/esbuild/-/esbuild-0.20.2.tgz", Integrity: integrity("esbuild@0.20.2"),
				Source: lockfile.SourceRegistry, Path: "node_modules/esbuild", Line: 65, Column: 5, Dev: true, InstallScript: true},
		},
		{
			file: "v3.json", path: "node_modules/escaped-é",
			want: lockfile.Package{Name: "escaped-é", Version: "1.0.0",
				Resolved: "https://registry.example/escaped-é/-/escaped-é-1.0.0.tgz", Integrity: integrity("escaped@1.0.0"),
				Source: lockfile.SourceRegistry, Path: "node_modules/escaped-é", Line: 78, Column: 5},
		},
		{
			file: "v3.json", path: "node_modules/from-git",
			want: lockfile.Package{Name: "from-git", Version: "1.0.0",
				Resolved: "git+ssh://git@git.example/owner/repo.git#0123456789abcdef0123456789abcdef01234567",
				Source:   lockfile.SourceGit, Path: "node_modules/from-git", Line: 88, Column: 5},
		},
		{
			file: "v3.json", path: "node_modules/shared",
			want: lockfile.Package{Name: "shared", Version: "1.0.0",
				Resolved:  "https://registry.example/shared/-/shared-1.0.0.tgz",
				Integrity: integrity("shared@1.0.0") + " sha256-" + "HalEnxr+IKq4hr9SRs54vnEWhAH92CmkM3S89wWHOVo=",
				Source:    lockfile.SourceRegistry, Path: "node_modules/shared", Line: 131, Column: 5, Dev: true, Optional: true},
		},
		{
			file: "workspaces_v3.json", path: "node_modules/@mono/b",
			want: lockfile.Package{Name: "@mono/b", Version: "2.0.0", Resolved: "packages/b",
				Source: lockfile.SourceLink, Path: "node_modules/@mono/b", Line: 17, Column: 5},
		},
		{
			file: "v1.json", path: "node_modules/aliased",
			want: lockfile.Package{Name: "real-pkg", Alias: "aliased", Version: "1.2.3",
				Resolved: "https://registry.example/real-pkg/-/real-pkg-1.2.3.tgz", Integrity: integrity("real-pkg@1.2.3"),
				Source: lockfile.SourceRegistry, Path: "node_modules/aliased", Line: 22, Column: 5},
		},
		{
			file: "v1.json", path: "node_modules/@scope/pkg/node_modules/left-pad",
			want: lockfile.Package{Name: "left-pad", Version: "1.0.0",
				Resolved: "https://registry.example/left-pad/-/left-pad-1.0.0.tgz", Integrity: "sha1-0iJ9Zm4U2WmGpA3AVJ6h3/xg7KU=",
				Source: lockfile.SourceRegistry, Path: "node_modules/@scope/pkg/node_modules/left-pad", Line: 15, Column: 9},
		},
		{
			file: "v1.json", path: "node_modules/from-git",
			want: lockfile.Package{Name: "from-git", Version: "git+ssh://git@git.example/owner/repo.git#0123456789abcdef0123456789abcdef01234567",
				Resolved: "git+ssh://git@git.example/owner/repo.git#0123456789abcdef0123456789abcdef01234567",
				Source:   lockfile.SourceGit, Path: "node_modules/from-git", Line: 44, Column: 5},
		},
		{
			file: "v1.json", path: "node_modules/from-file",
			want: lockfile.Package{Name: "from-file", Version: "file:vendor/local", Resolved: "file:vendor/local",
				Source: lockfile.SourceLink, Path: "node_modules/from-file", Line: 41, Column: 5},
		},
		{
			file: "v1.json", path: "node_modules/from-file-tgz",
			want: lockfile.Package{Name: "from-file-tgz", Version: "file:vendor/local-1.0.0.tgz", Resolved: "file:vendor/local-1.0.0.tgz",
				Integrity: integrity("local@1.0.0"), Source: lockfile.SourceFile, Path: "node_modules/from-file-tgz", Line: 67, Column: 5},
		},
		{
			file: "v1.json", path: "node_modules/old-registry",
			want: lockfile.Package{Name: "old-registry", Version: "0.5.0",
				Source: lockfile.SourceRegistry, Path: "node_modules/old-registry", Line: 64, Column: 5},
		},
		{
			file: "shrinkwrap_minified.json", path: "node_modules/jest",
			want: lockfile.Package{Name: "jest", Version: "29.0.0",
				Resolved: "https://registry.example/jest/-/jest-29.0.0.tgz", Integrity: integrity("jest@29.0.0"),
				Source: lockfile.SourceRegistry, Path: "node_modules/jest", Line: 1, Column: 414, Dev: true},
		},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer("/", "_", ".", "_").Replace(tt.file+"_"+tt.path), func(t *testing.T) {
			lf, _ := parseFile(t, filepath.Join("testdata/lockfiles", tt.file))
			var got *lockfile.Package
			for i := range lf.Packages {
				if lf.Packages[i].Path == tt.path {
					got = &lf.Packages[i]
				}
			}
			if got == nil {
				t.Fatalf("no package at %s", tt.path)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("package mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImporters(t *testing.T) {
	tests := []struct {
		file string
		want map[string]map[string]lockfile.Direct
	}{
		{
			file: "workspaces_v3.json",
			want: map[string]map[string]lockfile.Direct{
				".": {"typescript": {Name: "typescript", Spec: "^5.0.0", Version: "5.4.5"}},
				"packages/a": {
					"@mono/b": {Name: "@mono/b", Spec: "^2.0.0", Version: "2.0.0"},
					"lodash":  {Name: "lodash", Spec: "^4.0.0", Version: "4.17.21"},
				},
				"packages/b": {"lodash": {Name: "lodash", Spec: "^3.0.0", Version: "3.10.1"}},
			},
		},
		{
			file: "v3.json",
			want: map[string]map[string]lockfile.Direct{".": {
				"@scope/pkg":    {Name: "@scope/pkg", Spec: "^2.0.0", Version: "2.1.0"},
				"aliased":       {Name: "aliased", Spec: "npm:real-pkg@^1.0.0", Version: "1.2.3"},
				"bundler":       {Name: "bundler", Spec: "^1.0.0", Version: "1.0.0"},
				"esbuild":       {Name: "esbuild", Spec: "^0.20.0", Version: "0.20.2"},
				"from-file":     {Name: "from-file", Spec: "file:vendor/local-1.0.0.tgz", Version: "1.0.0"},
				"from-git":      {Name: "from-git", Spec: "github:owner/repo#v1", Version: "1.0.0"},
				"from-tarball":  {Name: "from-tarball", Spec: "https://cdn.example/tarballs/tb-3.0.0.tgz", Version: "3.0.0"},
				"fsevents":      {Name: "fsevents", Spec: "^2.3.0", Version: "2.3.3"},
				"left-pad":      {Name: "left-pad", Spec: "^1.3.0", Version: "1.3.0"}, // dependencies wins over devDependencies
				"not-installed": {Name: "not-installed", Spec: "^1.0.0"},
				"react":         {Name: "react", Spec: ">=18", Version: "18.2.0"},
			}},
		},
		{
			file: "v1.json",
			want: map[string]map[string]lockfile.Direct{".": {
				"@scope/pkg":    {Name: "@scope/pkg", Version: "2.1.0"},
				"aliased":       {Name: "aliased", Version: "1.2.3"},
				"bundler":       {Name: "bundler", Version: "1.0.0"},
				"from-file":     {Name: "from-file", Version: "file:vendor/local"},
				"from-file-tgz": {Name: "from-file-tgz", Version: "file:vendor/local-1.0.0.tgz"},
				"from-git":      {Name: "from-git", Version: "git+ssh://git@git.example/owner/repo.git#0123456789abcdef0123456789abcdef01234567"},
				"from-tarball":  {Name: "from-tarball", Version: "https://cdn.example/tarballs/tb-3.0.0.tgz"},
				"fsevents":      {Name: "fsevents", Version: "2.3.3"},
				"jest":          {Name: "jest", Version: "29.0.0"},
				"old-registry":  {Name: "old-registry", Version: "0.5.0"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			lf, _ := parseFile(t, filepath.Join("testdata/lockfiles", tt.file))
			if diff := cmp.Diff(tt.want, lf.Importers); diff != "" {
				t.Errorf("importers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     lockfile.ParseError
	}{
		{"empty", ``, lockfile.ParseError{Line: 1, Column: 1, Msg: "unexpected end of input, expected a value"}},
		{"not_an_object", "[1]", lockfile.ParseError{Line: 1, Column: 1, Msg: "lockfile must be a JSON object, found array"}},
		{"truncated", "{\n  \"packages\": {\n    \"node_modules/a\": {\"version\": \"1.0", lockfile.ParseError{Line: 3, Column: 35, Msg: "unterminated string"}},
		{"truncated_after_value", "{\"lockfileVersion\": 3", lockfile.ParseError{Line: 1, Column: 22, Msg: "unexpected end of input, expected ',' or '}' after object member"}},
		{"trailing_comma", "{\"packages\": {},\n}", lockfile.ParseError{Line: 2, Column: 1, Msg: "unexpected character '}', expected a string key"}},
		{"trailing_garbage", "{}\n{}", lockfile.ParseError{Line: 2, Column: 1, Msg: "unexpected character '{' after top-level value"}},
		{"version_not_string", "{\"packages\": {\"node_modules/a\": {\n  \"version\": 1}}}", lockfile.ParseError{Line: 2, Column: 14, Msg: `"version" must be a string, found number`}},
		{"dev_not_bool", "{\"packages\": {\"node_modules/a\": {\"dev\": \"yes\"}}}", lockfile.ParseError{Line: 1, Column: 41, Msg: `"dev" must be a boolean, found string`}},
		{"entry_not_object", "{\"packages\": {\"node_modules/a\": []}}", lockfile.ParseError{Line: 1, Column: 33, Msg: `"node_modules/a" must be an object, found array`}},
		{"packages_not_object", "{\"packages\": null}", lockfile.ParseError{Line: 1, Column: 14, Msg: `"packages" must be an object, found null`}},
		{"no_name_after_node_modules", "{\"packages\": {\n\t\"node_modules/\": {}}}", lockfile.ParseError{Line: 2, Column: 2, Msg: `invalid package path "node_modules/": no package name after node_modules/`}},
		{"v1_empty_name", "{\"dependencies\": {\"\": {}}}", lockfile.ParseError{Line: 1, Column: 19, Msg: "empty package name in dependencies"}},
		{"lockfile_version_string", "{\"lockfileVersion\": \"3\"}", lockfile.ParseError{Line: 1, Column: 21, Msg: `"lockfileVersion" must be a number, found string`}},
		{"bad_escape", "{\"packages\": {\"node_modules/\\x\": {}}}", lockfile.ParseError{Line: 1, Column: 29, Msg: "invalid escape character 'x' in string"}},
		{"control_char", "{\"name\": \"a\tb\"}", lockfile.ParseError{Line: 1, Column: 12, Msg: "invalid control character byte 0x09 in string"}},
		{"bad_number", "{\"lockfileVersion\": 03}", lockfile.ParseError{Line: 1, Column: 22, Msg: "unexpected character '3', expected ',' or '}' after object member"}},
		{"column_counts_code_points", "{\"name\": \"ééé\", x}", lockfile.ParseError{Line: 1, Column: 17, Msg: "unexpected character 'x', expected a string key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lf, err := Parser{}.Parse("package-lock.json", []byte(tt.in))
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, %v; want a *lockfile.ParseError", lf, err)
			}
			tt.want.Path = "package-lock.json"
			if diff := cmp.Diff(tt.want, *pe); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	for _, in := range []string{
		`{"packages": {"node_modules/a": {"x": ` + strings.Repeat("[", 100000),
		`{"dependencies": ` + strings.Repeat(`{"a": {"dependencies": `, 100000),
	} {
		_, err := Parser{}.Parse("package-lock.json", []byte(in))
		var pe *lockfile.ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "nesting deeper than 512 levels") || pe.Line != 1 {
			t.Errorf("Parse(deep) = %v; want a nesting ParseError on line 1", err)
		}
	}
}

// TestRepeatedKeys: a repeated top-level key replaces the earlier value
// (JavaScript semantics) without leaving state from the first behind.
func TestRepeatedKeys(t *testing.T) {
	in := `{"packages": {"node_modules/a": {"link": true, "resolved": "a"}, "a": {"version": "1.0.0"}},
	        "packages": {"node_modules/b": {"version": "2.0.0"}}}`
	lf, err := Parser{}.Parse("package-lock.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []lockfile.Package{{Name: "b", Version: "2.0.0", Source: lockfile.SourceRegistry, Path: "node_modules/b", Line: 2, Column: 23}}
	if diff := cmp.Diff(want, lf.Packages); diff != "" {
		t.Errorf("packages mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]map[string]lockfile.Direct{".": {}}, lf.Importers); diff != "" {
		t.Errorf("importers mismatch (-want +got):\n%s", diff)
	}
	// The link recorded by the first "packages" must not index the second.
	lf, err = Parser{}.Parse("package-lock.json", []byte(`{"packages": {"node_modules/a": {"link": true}}, "packages": {}}`))
	if err != nil || len(lf.Packages) != 0 {
		t.Errorf("Parse = %+v, %v; want no packages", lf, err)
	}
}

func TestMatch(t *testing.T) {
	for base, want := range map[string]bool{
		"package-lock.json": true, "npm-shrinkwrap.json": true, "package.json": false,
		"yarn.lock": false, "package-lock.json.bak": false, "Package-Lock.json": false,
	} {
		if got := (Parser{}).Match(base); got != want {
			t.Errorf("Match(%q) = %v, want %v", base, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want lockfile.Source
	}{
		{"https://registry.example/a/-/a-1.0.0.tgz", lockfile.SourceRegistry},
		{"https://registry.example/@s/b/-/b-1.0.0.tgz", lockfile.SourceRegistry},
		{"https://registry.example/@s%2fb/-/b-1.0.0.tgz", lockfile.SourceRegistry},
		{"https://mirror.example/npm/prefix/a/-/a-1.0.0.tgz?token=x#frag", lockfile.SourceRegistry},
		{"http://registry.example/a/-/a-1.0.0.tgz", lockfile.SourceRegistry},
		{"HTTPS://REGISTRY.EXAMPLE/a/-/a-1.0.0.tgz", lockfile.SourceRegistry},
		{"https://cdn.example/a-1.0.0.tgz", lockfile.SourceTarball},
		{"https://cdn.example/a/-/a-1.0.0.zip", lockfile.SourceTarball},
		{"https://cdn.example/-/a-1.0.0.tgz", lockfile.SourceTarball},
		{"https://cdn.example/@s/-/a-1.0.0.tgz", lockfile.SourceTarball},
		{"https://cdn.example", lockfile.SourceTarball},
		{"git+https://git.example/o/r.git#abc", lockfile.SourceGit},
		{"git+ssh://git@git.example/o/r.git#abc", lockfile.SourceGit},
		{"git://git.example/o/r.git", lockfile.SourceGit},
		{"git@git.example:o/r.git", lockfile.SourceGit},
		{"github:o/r#v1", lockfile.SourceGit},
		{"gitlab:o/r", lockfile.SourceGit},
		{"file:../x", lockfile.SourceFile},
		{"link:../x", lockfile.SourceLink},
		{"packages/a", lockfile.SourceUnknown},
		{"", lockfile.SourceUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.in); got != tt.want {
			t.Errorf("Classify(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestGeneratedLockfile parses the benchmark's generated lockfile and
// checks it against the generator's own manifest.
func TestGeneratedLockfile(t *testing.T) {
	lock, manifest := generate(2000)
	lf, err := Parser{}.Parse("package-lock.json", lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(lf.Packages) != 2000 {
		t.Errorf("got %d packages, want 2000", len(lf.Packages))
	}
	var m struct{ Dependencies map[string]string }
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	root := lf.Importers["."]
	if len(root) != len(m.Dependencies) {
		t.Errorf("root importer has %d dependencies, manifest %d", len(root), len(m.Dependencies))
	}
	for name, spec := range m.Dependencies {
		d := root[name]
		if d.Spec != spec || "^"+d.Version != spec {
			t.Errorf("importer %s = %+v, manifest spec %q", name, d, spec)
		}
	}
	lines := bytes.Split(lock, []byte("\n"))
	for _, p := range lf.Packages[:50] {
		if !bytes.HasPrefix(bytes.TrimSpace(lines[p.Line-1]), []byte(`"`+p.Path+`"`)) {
			t.Errorf("%s: line %d is %q", p.Path, p.Line, lines[p.Line-1])
		}
	}
}

// TestTruncatedLarge cuts a generated lockfile at several points: each cut
// is an error positioned on the last line of what remains.
func TestTruncatedLarge(t *testing.T) {
	lock := npmtest.GenerateLockfile(5000)
	for _, cut := range []int{1, len(lock) / 3, len(lock) / 2, len(lock) - 3} {
		in := lock[:cut]
		_, err := Parser{}.Parse("package-lock.json", in)
		var pe *lockfile.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("cut at %d: got %v, want a *lockfile.ParseError", cut, err)
		}
		if lines := bytes.Count(in, []byte("\n")) + 1; pe.Line != lines {
			t.Errorf("cut at %d: error on line %d, want the last line %d: %v", cut, pe.Line, lines, err)
		}
	}
}
