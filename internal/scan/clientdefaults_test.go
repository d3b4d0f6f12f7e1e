package scan

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockcheck"
)

// isolateClientConfig points HOME and the cache directory at fresh
// temporary directories, so that the machine's npmrc files and buildwall
// cache neither change a test's outcome nor are written by it. It returns
// the home directory.
func isolateClientConfig(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	return home
}

// fakeNPM writes an npm script into a new PATH directory that appends a
// line to a counter file on every run and prints url for `npm config get
// registry`. runs reads the count.
func fakeNPM(t *testing.T, url string) (bin string, runs func() int) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake npm is a shell script")
	}
	bin = t.TempDir()
	counter := filepath.Join(t.TempDir(), "runs")
	script := "#!/bin/sh\n" +
		"echo run >> '" + counter + "'\n" +
		`[ "$1 $2 $3" = "config get registry" ] || exit 1` + "\n" +
		"echo " + url + "\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return bin, func() int {
		data, err := os.ReadFile(counter)
		if err != nil {
			return 0
		}
		return strings.Count(string(data), "run\n")
	}
}

// defaultsOf resolves ClientDefaults with env and describes the result.
func defaultsOf(env map[string]string) string {
	d := clientDefaults(context.Background(), func(k string) string { return env[k] }, clientBuiltins{})
	return lockcheck.NewRegistries(d).Describe()
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClientDefaultsCachesNPM checks that a second scan does not start npm:
// the first scan runs it once and caches the answer, the second reads the
// cache; a changed npmrc or npm executable invalidates it.
func TestClientDefaultsCachesNPM(t *testing.T) {
	home := isolateClientConfig(t)
	bin, runs := fakeNPM(t, "https://npm-default.example/")
	root := writeTree(t, map[string]string{
		"package.json":      `{"name": "app", "dependencies": {"left-pad": "^1.3.0"}}`,
		"package-lock.json": strings.Replace(lock, "registry.example", "npm-default.example", 1),
	})
	scanOnce := func() []string {
		t.Helper()
		res, err := Run(context.Background(), Options{Paths: []string{root}, Defaults: clientDefaults(context.Background(), func(string) string { return "" }, clientBuiltins{})})
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, f := range res.Findings {
			rules = append(rules, f.Rule)
		}
		return rules
	}
	for i := range 2 {
		if diff := cmp.Diff([]string{"missing-integrity"}, scanOnce()); diff != "" {
			t.Fatalf("scan %d findings mismatch (-want +got):\n%s", i+1, diff)
		}
		if got := runs(); got != 1 {
			t.Fatalf("after scan %d npm ran %d times, want 1", i+1, got)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "cache", "buildwall", "npm-registry.json")); err != nil {
		t.Errorf("cache file: %v", err)
	}

	// A user npmrc appears (naming no registry): npm's answer may differ.
	write(t, filepath.Join(home, ".npmrc"), "fund=false\n")
	scanOnce()
	if got := runs(); got != 2 {
		t.Errorf("after the npmrc changed npm ran %d times in all, want 2", got)
	}
	scanOnce()
	if got := runs(); got != 2 {
		t.Errorf("third scan with an unchanged npmrc: npm ran %d times in all, want 2", got)
	}

	// Another npm executable (same path, other size and mtime).
	script, err := os.ReadFile(filepath.Join(bin, "npm"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(bin, "npm"), string(script)+"# upgraded\n")
	if err := os.Chmod(filepath.Join(bin, "npm"), 0o755); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(bin, "npm"), future, future); err != nil {
		t.Fatal(err)
	}
	scanOnce()
	if got := runs(); got != 3 {
		t.Errorf("after npm changed it ran %d times in all, want 3", got)
	}
}

// TestClientDefaultsReadsNPMConfig checks each configuration source npm
// reads, in npm's precedence, and that none of them starts npm.
func TestClientDefaultsReadsNPMConfig(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative to the temporary home
		env   map[string]string // values may use $HOME
		want  string
	}{
		{
			name: "env_lower",
			env:  map[string]string{"npm_config_registry": "https://env.example/"},
			want: "env.example/",
		},
		{
			name:  "env_upper_beats_user_npmrc",
			files: map[string]string{".npmrc": "registry=https://user.example/\n"},
			env:   map[string]string{"NPM_CONFIG_REGISTRY": "https://env.example/"},
			want:  "env.example/",
		},
		{
			name:  "user_npmrc_last_line_wins",
			files: map[string]string{".npmrc": "registry=https://first.example/\n; comment\nregistry = \"https://user.example/npm/\"\n"},
			want:  "user.example/npm/",
		},
		{
			name:  "userconfig_env",
			files: map[string]string{"conf/my.npmrc": "registry=https://userconfig.example/\n", ".npmrc": "registry=https://user.example/\n"},
			env:   map[string]string{"npm_config_userconfig": "$HOME/conf/my.npmrc"},
			want:  "userconfig.example/",
		},
		{
			name:  "global_from_prefix_env",
			files: map[string]string{"prefix/etc/npmrc": "registry=https://global.example/\n"},
			env:   map[string]string{"PREFIX": "$HOME/prefix"},
			want:  "global.example/",
		},
		{
			name: "global_from_user_prefix",
			files: map[string]string{
				".npmrc":            "prefix=${HOME}/ignored\nprefix=" + "PREFIXDIR" + "\n",
				"p2/etc/npmrc":      "registry=https://global.example/\n",
				"ignored/etc/npmrc": "registry=https://wrong.example/\n",
				"prefix/etc/npmrc":  "registry=https://wrong.example/\n",
			},
			env:  map[string]string{"PREFIX": "$HOME/prefix"},
			want: "global.example/",
		},
		{
			name:  "globalconfig_env",
			files: map[string]string{"g/npmrc": "registry=https://globalconfig.example/\n"},
			env:   map[string]string{"npm_config_globalconfig": "$HOME/g/npmrc"},
			want:  "globalconfig.example/",
		},
		{
			name:  "env_reference_falls_back_to_npm",
			files: map[string]string{".npmrc": "registry=${MY_REGISTRY}\n"},
			want:  "npm-default.example/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateClientConfig(t)
			_, runs := fakeNPM(t, "https://npm-default.example/")
			for name, content := range tt.files {
				write(t, filepath.Join(home, name), strings.ReplaceAll(content, "PREFIXDIR", filepath.Join(home, "p2")))
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "$HOME", home)
			}
			got := defaultsOf(env)
			if !strings.Contains(got, tt.want) || strings.Contains(got, "wrong.example") {
				t.Errorf("allowed registries = %q, want %q", got, tt.want)
			}
			wantRuns := 0
			if tt.want == "npm-default.example/" {
				wantRuns = 1
			}
			if n := runs(); n != wantRuns {
				t.Errorf("npm ran %d times, want %d", n, wantRuns)
			}
		})
	}
}

// TestClientDefaultsNPMFails checks that a failing npm is neither trusted
// nor cached: the next resolution asks it again.
func TestClientDefaultsNPMFails(t *testing.T) {
	isolateClientConfig(t)
	_, runs := fakeNPM(t, "not-a-url")
	for i := range 2 {
		if got := defaultsOf(nil); !strings.Contains(got, "npm's default registry is unknown") {
			t.Errorf("resolution %d: describe = %q, want the unknown-default note", i+1, got)
		}
	}
	if got := runs(); got != 2 {
		t.Errorf("npm ran %d times, want 2 (failures are not cached)", got)
	}
}

// TestClientDefaultsScoped: the machine's @scope:registry allows only that
// scope from its host.
func TestClientDefaultsScoped(t *testing.T) {
	home := isolateClientConfig(t)
	t.Setenv("PATH", t.TempDir()) // no npm, no yarn
	write(t, filepath.Join(home, ".npmrc"), "registry=https://npm-default.example/\n@corp:registry=https://npm.corp.example/\n")
	d := clientDefaults(context.Background(), func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}, clientBuiltins{})
	r := lockcheck.NewRegistries(d)
	for _, tt := range []struct {
		name, url string
		want      bool
	}{
		{"@corp/lib", "https://npm.corp.example/@corp/lib/-/lib-1.0.0.tgz", true},
		{"lodash", "https://npm.corp.example/lodash/-/lodash-1.0.0.tgz", false},
		{"lodash", "https://npm-default.example/lodash/-/lodash-1.0.0.tgz", true},
	} {
		if got := r.AllowedFor(tt.name, tt.url); got != tt.want {
			t.Errorf("AllowedFor(%q, %q) = %v, want %v (%s)", tt.name, tt.url, got, tt.want, r.Describe())
		}
	}
}

// TestClientDefaultsBuiltins: a client that is not installed stands in
// with its documented built-in default; an installed client's own answer
// replaces it. The built-ins are injected *.test hosts.
func TestClientDefaultsBuiltins(t *testing.T) {
	isolateClientConfig(t)
	builtin := clientBuiltins{npm: "https://npm-builtin.test/", yarn: "https://yarn-builtin.test/"}
	t.Setenv("PATH", t.TempDir()) // no npm, no yarn
	r := lockcheck.NewRegistries(clientDefaults(context.Background(), func(string) string { return "" }, builtin))
	for _, u := range []string{"https://npm-builtin.test/a/-/a-1.0.0.tgz", "https://yarn-builtin.test/a/-/a-1.0.0.tgz"} {
		if !r.AllowedFor("a", u) {
			t.Errorf("no client installed: %s not allowed (%s)", u, r.Describe())
		}
	}
	if !strings.Contains(r.Describe(), "built-in default is assumed") {
		t.Errorf("describe = %q, want the assumed-default note", r.Describe())
	}
	if r.AllowedFor("a", "https://elsewhere.test/a/-/a-1.0.0.tgz") {
		t.Error("a host no client names is allowed")
	}

	// An installed yarn that answers replaces yarn's built-in.
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1 $2 $3\" = \"config get registry\" ] || exit 1\necho https://yarn-mirror.test/\n"
	if err := os.WriteFile(filepath.Join(bin, "yarn"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	r = lockcheck.NewRegistries(clientDefaults(context.Background(), func(string) string { return "" }, builtin))
	if !r.AllowedFor("a", "https://yarn-mirror.test/a/-/a-1.0.0.tgz") {
		t.Errorf("yarn's own answer not allowed (%s)", r.Describe())
	}
	if r.AllowedFor("a", "https://yarn-builtin.test/a/-/a-1.0.0.tgz") {
		t.Errorf("yarn's built-in allowed although yarn named another registry (%s)", r.Describe())
	}
}
