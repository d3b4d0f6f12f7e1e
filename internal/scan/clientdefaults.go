package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/lockcheck"
)

// clientTimeout bounds each `npm config get registry` style call.
const clientTimeout = 5 * time.Second

// ClientDefaults returns the default registries of the package managers on
// this machine, resolved lazily on first use. For npm it reads npm's own
// configuration sources in npm's order of precedence without starting npm:
// npm_config_registry / NPM_CONFIG_REGISTRY, the user npmrc
// (npm_config_userconfig or ~/.npmrc), the global npmrc
// (npm_config_globalconfig, or etc/npmrc under npm_config_prefix, the user
// npmrc's prefix, $PREFIX, or the prefix node is installed in) and npm's
// builtin npmrc. Only when none names a registry does it run `npm config
// get registry`, and it keeps that answer in the user cache directory
// (buildwall/npm-registry.json), keyed by the npm executable's resolved
// path, size and mtime and the mtimes of the npmrc files consulted, so a
// later scan does not start npm again. Yarn, when installed, is treated the
// same way (YARN_REGISTRY and friends, else `yarn config get registry`,
// cached). When nothing is known the Defaults carry a note that findings
// quote. getenv nil means os.Getenv; the home and cache directories come
// from the process environment. No registry host is compiled into
// buildwall.
func ClientDefaults(ctx context.Context, getenv func(string) string) *lockcheck.Defaults {
	if getenv == nil {
		getenv = os.Getenv
	}
	return lockcheck.NewDefaults(func() ([]string, string) {
		c := newClientConfig(getenv)
		var urls []string
		note := ""
		if u := c.registry(ctx, "npm", c.npmConfig); u != "" {
			urls = append(urls, u)
		} else {
			note = "npm's default registry is unknown (npm_config_registry is unset, no npmrc names one and npm is not installed or gave no answer), so only registries configured by the project or in buildwall.yml are allowed"
		}
		if u := c.registry(ctx, "yarn", c.yarnConfig); u != "" {
			urls = append(urls, u)
		}
		return urls, note
	})
}

// clientConfig is what ClientDefaults reads from the machine.
type clientConfig struct {
	getenv func(string) string
	home   string // "" when unknown
	cache  string // path of the cache file; "" disables caching
}

func newClientConfig(getenv func(string) string) *clientConfig {
	c := &clientConfig{getenv: getenv}
	if h, err := os.UserHomeDir(); err == nil {
		c.home = h
	}
	if d, err := os.UserCacheDir(); err == nil {
		c.cache = filepath.Join(d, "buildwall", "npm-registry.json")
	}
	return c
}

// configSource reads a tool's configuration without running the tool. It
// returns the registry it names, or "" and the files whose change could
// change the tool's answer (they key the cached answer).
type configSource func(exe string) (registry string, files []string)

// registry returns tool's default registry from its configuration, else
// from the cache, else by running it (and caching the answer). "" when
// unknown.
func (c *clientConfig) registry(ctx context.Context, tool string, src configSource) string {
	exe, err := exec.LookPath(tool)
	if err != nil {
		exe = ""
	}
	u, files := src(exe)
	if u != "" || exe == "" {
		return u
	}
	key, ok := cacheKey(exe, files)
	if !ok {
		return clientRegistry(ctx, exe)
	}
	if u, ok := c.cached(tool, key); ok {
		return u
	}
	u = clientRegistry(ctx, exe)
	if u != "" {
		c.store(tool, key, u)
	}
	return u
}

// npmConfig reads npm's environment and npmrc files in npm's order.
func (c *clientConfig) npmConfig(exe string) (string, []string) {
	if u := firstEnv(c.getenv, "npm_config_registry", "NPM_CONFIG_REGISTRY"); u != "" {
		return u, nil
	}
	var files []string
	read := func(path string) map[string]string {
		if path == "" {
			return nil
		}
		files = append(files, path)
		data, _, err := readLimited(path, maxRegistryFile)
		if err != nil {
			return nil
		}
		return npmrcValues(data)
	}
	userPath := firstEnv(c.getenv, "npm_config_userconfig", "NPM_CONFIG_USERCONFIG")
	if userPath == "" && c.home != "" {
		userPath = filepath.Join(c.home, ".npmrc")
	}
	user := read(userPath)
	if u := user["registry"]; u != "" {
		return u, files
	}
	global := firstEnv(c.getenv, "npm_config_globalconfig", "NPM_CONFIG_GLOBALCONFIG")
	if global == "" {
		global = user["globalconfig"]
	}
	if global == "" {
		if prefix := c.npmPrefix(user); prefix != "" {
			global = filepath.Join(prefix, "etc", "npmrc")
		}
	}
	if u := read(global)["registry"]; u != "" {
		return u, files
	}
	// npm's builtin config sits in its package root: <root>/bin/npm-cli.js.
	if exe != "" {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			if u := read(filepath.Join(filepath.Dir(filepath.Dir(real)), "npmrc"))["registry"]; u != "" {
				return u, files
			}
		}
	}
	return "", files
}

// npmPrefix returns npm's global prefix: npm_config_prefix, the user
// npmrc's prefix, $PREFIX, or the directory above node's bin directory.
func (c *clientConfig) npmPrefix(user map[string]string) string {
	if p := firstEnv(c.getenv, "npm_config_prefix", "NPM_CONFIG_PREFIX"); p != "" {
		return p
	}
	if p := user["prefix"]; p != "" {
		return p
	}
	if p := firstEnv(c.getenv, "PREFIX"); p != "" {
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

// yarnConfig reads yarn's registry variables; yarn's own files key the
// cache (yarn classic also reads the user npmrc).
func (c *clientConfig) yarnConfig(string) (string, []string) {
	if u := firstEnv(c.getenv, "YARN_REGISTRY", "yarn_registry", "YARN_NPM_REGISTRY_SERVER"); u != "" {
		return u, nil
	}
	if c.home == "" {
		return "", nil
	}
	return "", []string{filepath.Join(c.home, ".yarnrc"), filepath.Join(c.home, ".yarnrc.yml"), filepath.Join(c.home, ".npmrc")}
}

// npmrcValues reads an npmrc's keys; a later line wins, as in npm. Values
// with ${ENV} references are left out: npm expands them, so running npm
// answers better than guessing.
func npmrcValues(data []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		if strings.Contains(v, "${") {
			continue
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// cacheKey identifies the executable (resolved path, size, mtime) and the
// state of files (mtime, or absence). ok is false when the executable
// cannot be examined.
func cacheKey(exe string, files []string) (string, bool) {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %d", real, fi.Size(), fi.ModTime().UnixNano())
	for _, f := range files {
		mtime := int64(-1)
		if fi, err := os.Stat(f); err == nil {
			mtime = fi.ModTime().UnixNano()
		}
		fmt.Fprintf(&b, "\n%s %d", f, mtime)
	}
	return b.String(), true
}

// registryCache is the cache file: per tool, the key its answer is valid
// for and the answer.
type registryCache map[string]struct {
	Key      string `json:"key"`
	Registry string `json:"registry"`
}

func (c *clientConfig) load() registryCache {
	m := registryCache{}
	if c.cache == "" {
		return m
	}
	data, _, err := readLimited(c.cache, maxRegistryFile)
	if err != nil || json.Unmarshal(data, &m) != nil {
		return registryCache{}
	}
	return m
}

func (c *clientConfig) cached(tool, key string) (string, bool) {
	e, ok := c.load()[tool]
	if !ok || e.Key != key || e.Registry == "" {
		return "", false
	}
	return e.Registry, true
}

// store records tool's answer. The cache is an optimisation: failing to
// write it only means npm runs again next time, so errors are dropped.
func (c *clientConfig) store(tool, key, registry string) {
	if c.cache == "" {
		return
	}
	m := c.load()
	m[tool] = struct {
		Key      string `json:"key"`
		Registry string `json:"registry"`
	}{key, registry}
	_ = writeCache(c.cache, m)
}

// writeCache replaces the cache file atomically (temporary file + rename),
// so a concurrent scan reads the old or the new answer, never half of one.
func writeCache(path string, m registryCache) (err error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".npm-registry-*.json")
	if err != nil {
		return fmt.Errorf("create registry cache: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	if _, err := f.Write(data); err != nil {
		return errors.Join(fmt.Errorf("write registry cache: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write registry cache: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replace registry cache: %w", err)
	}
	return nil
}

func firstEnv(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// clientRegistry runs `<exe> config get registry` with a timeout, outside
// the scanned tree, and returns the URL it prints or "".
func clientRegistry(ctx context.Context, exe string) string {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "config", "get", "registry")
	// Outside the scanned tree, so only the user's and global settings
	// count (the project's files are read separately), and with every
	// network feature off: a scan never touches the network, and npm's
	// update check or a corepack shim fetching yarn would.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(),
		"npm_config_update_notifier=false",
		"NO_UPDATE_NOTIFIER=1",
		"COREPACK_ENABLE_NETWORK=0",
		"COREPACK_ENABLE_DOWNLOAD_PROMPT=0",
	)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	u := strings.TrimSpace(string(out))
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}
