package npmconfig

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// layout writes files (path relative to root -> content, with ROOT in the
// content replaced by root) and returns root.
func layout(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "ROOT", root)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// expandRoot replaces ROOT in each KEY=VALUE with root.
func expandRoot(env []string, root string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = strings.ReplaceAll(kv, "ROOT", root)
	}
	return out
}

var readTests = []struct {
	name  string
	files map[string]string
	env   []string
	dir   string // relative to root; "" = no project
	want  Registries
}{
	{
		name: "nothing",
		env:  []string{"npm_config_prefix=ROOT/prefix"},
		want: Registries{Scopes: map[string]string{}},
	},
	{
		name:  "user_npmrc",
		files: map[string]string{"home/.npmrc": "; comment\nregistry = \"https://user.example/\"\n@u:registry=https://u.example/\n"},
		env:   []string{"npm_config_prefix=ROOT/prefix"},
		want:  Registries{Default: "https://user.example/", Scopes: map[string]string{"@u": "https://u.example/"}},
	},
	{
		name: "precedence_env_project_user_global_builtin",
		files: map[string]string{
			"npmpkg/bin/npm-cli.js": "",
			"npmpkg/npmrc":          "registry=https://builtin.example/\n@b:registry=https://b.example/\n@g:registry=https://b.example/\n",
			"prefix/etc/npmrc":      "registry=https://global.example/\n@g:registry=https://g.example/\n@u:registry=https://g.example/\n",
			"home/.npmrc":           "registry=https://user.example/\n@u:registry=https://u.example/\n@p:registry=https://u.example/\n",
			"proj/package.json":     "{}",
			"proj/.npmrc":           "registry=https://project.example/\n@p:registry=https://p.example/\n@e:registry=https://p.example/\n",
		},
		env: []string{"npm_config_prefix=ROOT/prefix", "NPM_CONFIG_@E:REGISTRY=https://e.example/"},
		dir: "proj/src/deep",
		want: Registries{Default: "https://project.example/", Scopes: map[string]string{
			"@b": "https://b.example/", "@g": "https://g.example/", "@u": "https://u.example/", "@p": "https://p.example/", "@e": "https://e.example/",
		}},
	},
	{
		name:  "env_registry_wins",
		files: map[string]string{"home/.npmrc": "registry=https://user.example/\n"},
		env:   []string{"npm_config_prefix=ROOT/prefix", "npm_config_registry=https://env.example/"},
		want:  Registries{Default: "https://env.example/", Scopes: map[string]string{}},
	},
	{
		name:  "project_root_is_nearest_package_json",
		files: map[string]string{"a/.npmrc": "registry=https://outer.example/\n", "a/b/package.json": "{}", "a/b/c/.npmrc": "registry=https://inner.example/\n"},
		env:   []string{"npm_config_prefix=ROOT/prefix"},
		dir:   "a/b/c",
		want:  Registries{Scopes: map[string]string{}},
	},
	{
		name:  "no_package_json_means_dir_itself",
		files: map[string]string{"x/.npmrc": "registry=https://x.example/\n"},
		env:   []string{"npm_config_prefix=ROOT/prefix"},
		dir:   "x",
		want:  Registries{Default: "https://x.example/", Scopes: map[string]string{}},
	},
	{
		name:  "userconfig_and_globalconfig_from_env",
		files: map[string]string{"u.npmrc": "@u:registry=https://u.example/\n", "g.npmrc": "registry=https://g.example/\n"},
		env:   []string{"NPM_CONFIG_USERCONFIG=ROOT/u.npmrc", "npm_config_globalconfig=ROOT/g.npmrc"},
		want:  Registries{Default: "https://g.example/", Scopes: map[string]string{"@u": "https://u.example/"}},
	},
	{
		name:  "prefix_from_user_npmrc",
		files: map[string]string{"home/.npmrc": "prefix=ROOT/p2\n", "p2/etc/npmrc": "registry=https://p2.example/\n"},
		env:   []string{},
		want:  Registries{Default: "https://p2.example/", Scopes: map[string]string{}},
	},
	{
		name:  "env_references",
		files: map[string]string{"home/.npmrc": "registry=https://${MIRROR_HOST}/npm/\n@x:registry=https://${UNSET_VAR}/\n"},
		env:   []string{"npm_config_prefix=ROOT/prefix", "MIRROR_HOST=mirror.example"},
		want:  Registries{Default: "https://mirror.example/npm/", Scopes: map[string]string{}},
	},
}

func TestRead(t *testing.T) {
	for _, tt := range readTests {
		t.Run(tt.name, func(t *testing.T) {
			root := layout(t, tt.files)
			o := Options{Environ: expandRoot(tt.env, root), Home: filepath.Join(root, "home"), NPM: filepath.Join(root, "npmpkg/bin/npm-cli.js")}
			if tt.dir != "" {
				o.Dir = filepath.Join(root, tt.dir)
				if err := os.MkdirAll(o.Dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, files := Read(o)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
			if len(files) == 0 {
				t.Errorf("Read consulted no files")
			}
		})
	}
}

// TestResolveCachesFallback checks that a default registry no source names
// comes from the executable once and then from the cache, keyed by the
// npmrc files' state. The "npm" is a script printing a made-up URL and
// counting its runs.
func TestResolveCachesFallback(t *testing.T) {
	root := layout(t, map[string]string{"home/.npmrc": "@s:registry=https://s.example/\n"})
	count := filepath.Join(root, "runs")
	exe := filepath.Join(root, "bin", "npm")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho x >> " + count + "\necho https://fallback.example/\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Environ: []string{"npm_config_prefix=" + filepath.Join(root, "prefix")}, Home: filepath.Join(root, "home"), NPM: exe}
	cache := &Cache{Path: filepath.Join(root, "cache", "npm-registry.json")}
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "x")
	}
	want := Registries{Default: "https://fallback.example/", Scopes: map[string]string{"@s": "https://s.example/"}}
	for i, wantRuns := range []int{1, 1} {
		if diff := cmp.Diff(want, Resolve(context.Background(), o, cache)); diff != "" {
			t.Errorf("Resolve %d mismatch (-want +got):\n%s", i, diff)
		}
		if got := runs(); got != wantRuns {
			t.Errorf("after Resolve %d npm ran %d times, want %d", i, got, wantRuns)
		}
	}
	// A project whose npmrc names only a scope shares the cached answer.
	proj := Options{Environ: o.Environ, Home: o.Home, NPM: exe, Dir: filepath.Join(root, "proj")}
	if err := os.MkdirAll(proj.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj.Dir, ".npmrc"), []byte("@p:registry=https://p.example/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantProj := Registries{Default: "https://fallback.example/", Scopes: map[string]string{"@s": "https://s.example/", "@p": "https://p.example/"}}
	if diff := cmp.Diff(wantProj, Resolve(context.Background(), proj, cache)); diff != "" {
		t.Errorf("Resolve in a project mismatch (-want +got):\n%s", diff)
	}
	if got := runs(); got != 1 {
		t.Errorf("after Resolve in a project npm ran %d times, want 1 (cached)", got)
	}
	// A new global npmrc changes the key, so npm runs again.
	if err := os.MkdirAll(filepath.Join(root, "prefix", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "prefix", "etc", "npmrc"), []byte("; nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Resolve(context.Background(), o, cache)
	if got := runs(); got != 2 {
		t.Errorf("after a new npmrc npm ran %d times, want 2", got)
	}
	// A named registry never runs npm.
	o.Environ = append(o.Environ, "npm_config_registry=https://named.example/")
	if got := Resolve(context.Background(), o, cache).Default; got != "https://named.example/" {
		t.Errorf("Default = %q, want the named registry", got)
	}
	if got := runs(); got != 2 {
		t.Errorf("npm ran %d times with a named registry, want 2", got)
	}
}

// TestReadMatchesNPM compares Read with the real `npm config list --json`
// for the registry keys. npm only reads its configuration: no network.
func TestReadMatchesNPM(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not installed")
	}
	cases := []struct {
		name  string
		files map[string]string
		env   []string
		dir   string
	}{
		{"user_npmrc", map[string]string{"home/.npmrc": "registry=https://user.example/\n@u:registry=https://u.example:8443/x/\n"}, nil, "."},
		{"scoped_in_project", map[string]string{
			"home/.npmrc": "registry=https://user.example/\n", "proj/package.json": "{}",
			"proj/.npmrc": "@corp:registry=https://corp.example/\nregistry=http://127.0.0.1:4873/\n",
		}, nil, "proj/lib"},
		{"env_override", map[string]string{
			"home/.npmrc": "registry=https://user.example/\n@a:registry=https://a.example/\n", "prefix/etc/npmrc": "@g:registry=https://g.example/\n",
		}, []string{"npm_config_registry=https://env.example/", "npm_config_@a:registry=https://a-env.example/"}, "."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := layout(t, tc.files)
			dir := filepath.Join(root, tc.dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			env := append([]string{
				"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(root, "home"),
				"npm_config_prefix=" + filepath.Join(root, "prefix"), "npm_config_update_notifier=false",
			}, tc.env...)
			cmd := exec.Command(npm, "config", "list", "--json")
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("npm config list: %v", err)
			}
			var all map[string]any
			if err := json.Unmarshal(out, &all); err != nil {
				t.Fatal(err)
			}
			want := Registries{Scopes: map[string]string{}}
			for k, v := range all {
				s, _ := v.(string)
				switch {
				case k == "registry":
					want.Default = s
				case strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry"):
					want.Scopes[strings.TrimSuffix(k, ":registry")] = s
				}
			}
			got, _ := Read(Options{Environ: env, Home: filepath.Join(root, "home"), Dir: dir, NPM: npm})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Read differs from npm config list (-npm +Read):\n%s", diff)
			}
		})
	}
}

// TestReadProjectFromSupplier: with Options.Project the tree's project
// npmrc is never read; the supplied content takes its place (and its
// precedence), and a supplier error means no project npmrc.
func TestReadProjectFromSupplier(t *testing.T) {
	root := layout(t, map[string]string{
		"home/.npmrc":      "registry=https://user.example/\n",
		"app/package.json": "{}\n",
		"app/.npmrc":       "registry=https://evil.example/\n@evil:registry=https://evil.example/\n",
	})
	base := Options{Environ: []string{"npm_config_prefix=" + root + "/prefix"}, Home: filepath.Join(root, "home"), NPM: filepath.Join(root, "none"), Dir: filepath.Join(root, "app", "sub")}
	if err := os.MkdirAll(base.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		project func(string) ([]byte, error)
		want    Registries
	}{
		{"trusted_content", func(r string) ([]byte, error) {
			if r != filepath.Join(root, "app") {
				t.Errorf("Project asked for %q, want the project root", r)
			}
			return []byte("@acme:registry=https://npm.acme.example/\n"), nil
		}, Registries{Default: "https://user.example/", Scopes: map[string]string{"@acme": "https://npm.acme.example/"}}},
		{"none", func(string) ([]byte, error) { return nil, os.ErrNotExist },
			Registries{Default: "https://user.example/", Scopes: map[string]string{}}},
		{"overrides_user", func(string) ([]byte, error) { return []byte("registry=https://npm.corp.example/\n"), nil },
			Registries{Default: "https://npm.corp.example/", Scopes: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.Project = tt.project
			got, _ := Read(o)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// The project is the home directory: its .npmrc (the tree's) is also
	// the user npmrc, and must not come back through that layer.
	t.Run("project_is_home", func(t *testing.T) {
		o := base
		o.Home = filepath.Join(root, "app")
		o.Dir = o.Home
		o.Project = func(string) ([]byte, error) { return []byte("registry=https://npm.corp.example/\n"), nil }
		got, _ := Read(o)
		if diff := cmp.Diff(Registries{Default: "https://npm.corp.example/", Scopes: map[string]string{}}, got); diff != "" {
			t.Errorf("Read mismatch (-want +got):\n%s", diff)
		}
	})
}
