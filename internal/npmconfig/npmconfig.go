// Package npmconfig reads which registries npm is configured to use on this
// machine without starting npm: the default registry and every
// `@scope:registry`, from npm's configuration sources in npm's order of
// precedence. It imports only the standard library.
package npmconfig

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// maxFile bounds each npmrc (and the cache file) read.
const maxFile = 1 << 20

// Registries are the registries npm would use.
type Registries struct {
	// Default is the `registry` setting; "" when no source names one.
	Default string
	// Scopes maps "@scope" to its `@scope:registry` setting.
	Scopes map[string]string
}

// Options say where to look. The zero value reads the process environment
// and no project npmrc.
type Options struct {
	// Environ lists the environment as KEY=VALUE; nil means os.Environ().
	// npm_config_* variables are found by name here.
	Environ []string
	// Getenv reads a variable; nil reads Environ (or, with Environ nil,
	// os.Getenv).
	Getenv func(string) string
	// Dir is the directory npm would run in; its project npmrc applies.
	// "" means no project npmrc (what a run outside any project sees).
	Dir string
	// Home is the home directory; "" means os.UserHomeDir.
	Home string
	// NPM is the npm executable (its builtin npmrc applies); "" means
	// exec.LookPath("npm"), and none found means no builtin npmrc.
	NPM string
	// Project, when set, supplies the project npmrc in place of the file
	// at <root>/.npmrc: it is given the project root (npm's local prefix
	// of Dir) and returns the content, or an error (fs.ErrNotExist) for
	// none. `buildwall run --config-from` reads it from a trusted git
	// revision, so that a pull request's .npmrc adds no registry.
	Project func(root string) ([]byte, error)
}

// Read returns the registries named by npm's configuration sources, highest
// precedence first, as npm reads them:
//
//  1. the environment: npm_config_<key> in any letter case, the key being
//     the rest lowercased with "_" (except a leading one) turned into "-",
//     so npm_config_registry and npm_config_@scope:registry both count;
//  2. the project npmrc: .npmrc in the project root, which is the nearest
//     directory at or above Dir holding package.json or node_modules, else
//     Dir itself (npm's local prefix, ignoring workspaces); skipped when it
//     is the user npmrc;
//  3. the user npmrc: npm_config_userconfig, else ~/.npmrc;
//  4. the global npmrc: npm_config_globalconfig, else the user npmrc's
//     globalconfig, else etc/npmrc under the prefix (npm_config_prefix, the
//     user npmrc's prefix, $PREFIX, or the directory above node's bin);
//  5. npm's builtin npmrc in npm's package root.
//
// ${VAR} in values is replaced from the environment as npm does; a value
// naming an unset variable is skipped (npm would fail on it). files lists
// every npmrc consulted, existing or not, so callers can key a cache on
// their state. Read never runs npm and never fails: unreadable files count
// as empty.
func Read(o Options) (r Registries, files []string) {
	getenv := o.getenv()
	home := o.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	r.Scopes = map[string]string{}
	// Sources are merged lowest precedence first, so later ones win.
	var layers []map[string]string
	read := func(path string) map[string]string {
		if path == "" {
			return nil
		}
		files = append(files, path)
		data, err := readLimited(path)
		if err != nil {
			return nil
		}
		return parse(data)
	}
	env := envValues(environ(o, getenv))
	userPath := env["userconfig"]
	if userPath == "" && home != "" {
		userPath = filepath.Join(home, ".npmrc")
	}
	var project map[string]string
	switch {
	case o.Dir != "" && o.Project != nil:
		root := localPrefix(o.Dir)
		if data, err := o.Project(root); err == nil && len(data) <= maxFile {
			project = parse(data)
		}
		// A project in the home directory: the user npmrc is the tree's
		// file, which the supplied content replaces.
		if sameFile(filepath.Join(root, ".npmrc"), userPath) {
			userPath = ""
		}
	case o.Dir != "":
		p := filepath.Join(localPrefix(o.Dir), ".npmrc")
		if !sameFile(p, userPath) {
			project = read(p)
		}
	}
	user := read(userPath)
	global := env["globalconfig"]
	if global == "" {
		global = user["globalconfig"]
	}
	if global == "" {
		if prefix := npmPrefix(getenv, env, user); prefix != "" {
			global = filepath.Join(prefix, "etc", "npmrc")
		}
	}
	globalValues := read(global)
	var builtin map[string]string
	exe := o.NPM
	if exe == "" {
		exe, _ = exec.LookPath("npm")
	}
	if exe != "" {
		// npm's builtin config sits in its package root: <root>/bin/npm-cli.js.
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			builtin = read(filepath.Join(filepath.Dir(filepath.Dir(real)), "npmrc"))
		}
	}
	layers = append(layers, builtin, globalValues, user, project, env)
	for _, l := range layers {
		for k, v := range l {
			if v = expand(v, getenv); v == "" {
				continue
			}
			switch {
			case k == "registry":
				r.Default = v
			case strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry"):
				r.Scopes[strings.TrimSuffix(k, ":registry")] = v
			}
		}
	}
	return r, files
}

func (o Options) getenv() func(string) string {
	switch {
	case o.Getenv != nil:
		return o.Getenv
	case o.Environ == nil:
		return os.Getenv
	}
	m := map[string]string{}
	for _, kv := range o.Environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// envValues returns npm's settings from the environment.
func envValues(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if len(k) <= len("npm_config_") || !strings.EqualFold(k[:len("npm_config_")], "npm_config_") || v == "" {
			continue
		}
		key := k[len("npm_config_"):]
		key = key[:1] + strings.ReplaceAll(key[1:], "_", "-")
		out[strings.ToLower(key)] = strings.TrimSpace(v)
	}
	return out
}

// environ lists the variables to consider: the names in Environ (nil
// means the process's) and npm's usual ones, with values from getenv.
func environ(o Options, getenv func(string) string) []string {
	names := map[string]bool{}
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	for _, n := range []string{"registry", "userconfig", "globalconfig", "prefix"} {
		names["npm_config_"+n] = true
		names["NPM_CONFIG_"+strings.ToUpper(n)] = true
	}
	var out []string
	for n := range names {
		if v := getenv(n); v != "" {
			out = append(out, n+"="+v)
		}
	}
	// Sorted, so that of two spellings of one key the result is stable.
	slices.Sort(out)
	return out
}

// localPrefix is npm's project root for dir: the nearest directory at or
// above dir with package.json or node_modules, else dir.
func localPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for p := abs; ; p = filepath.Dir(p) {
		for _, n := range []string{"package.json", "node_modules"} {
			if _, err := os.Stat(filepath.Join(p, n)); err == nil {
				return p
			}
		}
		if filepath.Dir(p) == p {
			return abs
		}
	}
}

// npmPrefix returns npm's global prefix.
func npmPrefix(getenv func(string) string, env, user map[string]string) string {
	if p := env["prefix"]; p != "" {
		return p
	}
	if p := user["prefix"]; p != "" {
		return p
	}
	if p := strings.TrimSpace(getenv("PREFIX")); p != "" {
		return p
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(node); err == nil {
		node = real
	}
	return filepath.Dir(filepath.Dir(node))
}

var envRef = regexp.MustCompile(`(\\*)\$\{([^${}]+)\}`)

// expand replaces ${VAR} as npm does ("\${VAR}" stays literal); "" when a
// referenced variable is unset.
func expand(v string, getenv func(string) string) string {
	missing := false
	out := envRef.ReplaceAllStringFunc(v, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		esc, name := sub[1], sub[2]
		if len(esc)%2 == 1 {
			return esc[:len(esc)-1] + "${" + name + "}"
		}
		val := getenv(name)
		if val == "" {
			missing = true
		}
		return esc + val
	})
	if missing {
		return ""
	}
	return out
}

// parse reads an npmrc's keys; a later line wins, as in npm.
func parse(data []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[unquote(strings.TrimSpace(k))] = unquote(strings.TrimSpace(v))
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}

var (
	errTooLarge   = errors.New("file too large")
	errNotRegular = errors.New("not a regular file")
)

// readLimited reads an npmrc or the cache file. Only a regular file is
// opened: a FIFO, socket or device (an npmrc linked to /proc/self/fd/1 or
// /dev/zero) is refused before opening, the open never blocks, and fstat
// checks afterwards that the same regular file was opened. The project
// npmrc of a scanned tree is read by package scan through treefs; this is
// for the machine's own files, which a build step may have replaced.
func readLimited(path string) ([]byte, error) {
	want, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !want.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	got, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !got.Mode().IsRegular() || !os.SameFile(want, got) {
		return nil, errNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, errTooLarge
	}
	return data, nil
}

// Resolve is Read plus the default registry npm falls back to: when no
// source names one it uses the answer cached in cache for the npm
// executable and the npmrc files' state, else runs `npm config get
// registry` once (outside the project, network features off) and caches
// the answer.
// cache nil disables caching.
func Resolve(ctx context.Context, o Options, cache *Cache) Registries {
	if o.NPM == "" {
		o.NPM, _ = exec.LookPath("npm")
	}
	r, files := Read(o)
	if r.Default != "" || o.NPM == "" {
		return r
	}
	// The project npmrc names no registry (else Default would be set), so
	// the answer depends only on the other sources: key on them and ask
	// npm outside the project, so that runs in different projects and
	// scans share one cache entry.
	if o.Dir != "" {
		project := filepath.Join(localPrefix(o.Dir), ".npmrc")
		files = slices.DeleteFunc(files, func(f string) bool { return f == project })
	}
	key, ok := CacheKey(o.NPM, files)
	if ok && cache != nil {
		if u, ok := cache.Get("npm", key); ok {
			r.Default = u
			return r
		}
	}
	r.Default = ClientRegistry(ctx, o.NPM, "")
	if ok && cache != nil && r.Default != "" {
		cache.Put("npm", key, r.Default)
	}
	return r
}
