package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/npmconfig"
)

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
// cached). The machine's `@scope:registry` settings are defaults for their
// scope only. When nothing is known the Defaults carry a note that findings
// quote. When a client is not installed or gives no answer, its
// documented built-in default (builtinRegistries) stands in for it, since
// that is what the client uses when nothing configures another registry,
// and findings say so. getenv nil means os.Getenv; the home and cache
// directories come from the process environment.
func ClientDefaults(ctx context.Context, getenv func(string) string) *lockcheck.Defaults {
	return clientDefaults(ctx, getenv, builtinRegistries)
}

// clientBuiltins are the registries package managers use when nothing
// configures another one.
type clientBuiltins struct {
	npm, yarn string
}

// builtinRegistries are built-in default registries of npm and yarn, used
// only when the installed client cannot be asked (it is missing, or gives
// no answer) and nothing configures a registry. buildwall's source names no
// registry host: every registry is derived from the clients' own
// configuration, which is also what private mirrors need. A distribution
// that wants fall-backs sets them when it builds buildwall:
//
//	go build -ldflags "-X github.com/buildwall/buildwall/internal/scan.builtinNPM=https://... -X ...builtinYarn=https://..."
//
// Tests inject *.test hosts through clientDefaults instead.
var builtinRegistries = clientBuiltins{npm: builtinNPM, yarn: builtinYarn}

// builtinNPM and builtinYarn are set with -ldflags -X (see
// builtinRegistries); empty in a plain build.
var builtinNPM, builtinYarn string

func clientDefaults(ctx context.Context, getenv func(string) string, builtin clientBuiltins) *lockcheck.Defaults {
	if getenv == nil {
		getenv = os.Getenv
	}
	return lockcheck.NewScopedDefaults(func() ([]lockcheck.Registry, string) {
		c := newClientConfig(getenv)
		var list []lockcheck.Registry
		note := ""
		npm := c.npmRegistries(ctx)
		switch {
		case npm.Default != "":
			list = append(list, lockcheck.Registry{URL: npm.Default})
		case builtin.npm != "":
			list = append(list, lockcheck.Registry{URL: builtin.npm})
			note = "npm's configured registry is unknown (npm_config_registry is unset, no npmrc names one and npm is not installed or gave no answer), so npm's documented built-in default is assumed"
		default:
			note = "npm's default registry is unknown (npm_config_registry is unset, no npmrc names one and npm is not installed or gave no answer), so only registries configured by the project or in buildwall.yml are allowed"
		}
		for _, scope := range sortedKeys(npm.Scopes) {
			list = append(list, lockcheck.Registry{URL: npm.Scopes[scope], Scope: scope})
		}
		if u := c.yarnRegistry(ctx); u != "" {
			list = append(list, lockcheck.Registry{URL: u})
		} else if builtin.yarn != "" {
			list = append(list, lockcheck.Registry{URL: builtin.yarn})
		}
		return list, note
	})
}

// clientConfig is what ClientDefaults reads from the machine.
type clientConfig struct {
	getenv func(string) string
	home   string // "" when unknown
	cache  *npmconfig.Cache
}

func newClientConfig(getenv func(string) string) *clientConfig {
	c := &clientConfig{getenv: getenv, cache: npmconfig.UserCache()}
	if h, err := os.UserHomeDir(); err == nil {
		c.home = h
	}
	return c
}

// npmRegistries returns npm's default and scoped registries as a run
// outside any project sees them (the project's npmrc is read separately);
// Default is "" when unknown.
func (c *clientConfig) npmRegistries(ctx context.Context) npmconfig.Registries {
	return npmconfig.Resolve(ctx, npmconfig.Options{Getenv: c.getenv, Home: c.home}, c.cache)
}

// yarnRegistry returns yarn's default registry from its variables, else
// from the cache, else by running yarn (and caching the answer); yarn's
// own files (and the user npmrc, which yarn classic reads) key the cache.
// "" when unknown.
func (c *clientConfig) yarnRegistry(ctx context.Context) string {
	if u := firstEnv(c.getenv, "YARN_REGISTRY", "yarn_registry", "YARN_NPM_REGISTRY_SERVER"); u != "" {
		return u
	}
	exe, err := exec.LookPath("yarn")
	if err != nil {
		return ""
	}
	var files []string
	if c.home != "" {
		files = []string{filepath.Join(c.home, ".yarnrc"), filepath.Join(c.home, ".yarnrc.yml"), filepath.Join(c.home, ".npmrc")}
	}
	key, ok := npmconfig.CacheKey(exe, files)
	if ok {
		if u, ok := c.cache.Get("yarn", key); ok {
			return u
		}
	}
	u := npmconfig.ClientRegistry(ctx, exe, "")
	if ok && u != "" {
		c.cache.Put("yarn", key, u)
	}
	return u
}

func firstEnv(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}
