package lockcheck

import (
	"strings"
	"sync"
)

// Registries is the set of registry URLs a lockfile may resolve packages
// from: the project's own configuration plus the package managers' default
// registries (Defaults, shared by every lockfile of a scan). A URL is
// allowed when its scheme-less host (and port) equals a registry's and its
// path starts with the registry's path; a scoped registry (npm's
// `@scope:registry=`) allows only the packages of its scope. Safe for
// concurrent use.
type Registries struct {
	list     []registry
	defaults *Defaults
}

// Registry is one allowed registry as configured.
type Registry struct {
	// URL is the registry's http(s) URL.
	URL string
	// Scope is "@scope" for a scoped registry, which serves only the
	// packages named "@scope/..."; "" serves every package.
	Scope string
}

type registry struct {
	host  string // lowercase, default port removed
	path  string // ends in "/"
	scope string // "@scope" (lowercase), or "" for every package
}

func (r registry) String() string {
	if r.scope != "" {
		return r.host + r.path + " (" + r.scope + "/* only)"
	}
	return r.host + r.path
}

// RegistryKey returns the normalised form of a registry URL by which two
// spellings of one registry compare equal (host lowercased, default port
// and scheme dropped, path ending in "/"); ok is false for anything that
// is not an absolute http(s) URL.
func RegistryKey(raw string) (key string, ok bool) {
	r, ok := parseRegistry(raw)
	if !ok {
		return "", false
	}
	return r.host + r.path, true
}

// parseRegistry normalises a registry URL; ok is false for anything that is
// not an absolute http(s) URL.
func parseRegistry(raw string) (registry, bool) {
	scheme, host, path, ok := splitURL(strings.TrimSpace(raw))
	if !ok || !isHTTP(scheme) || host == "" {
		return registry{}, false
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return registry{host: normHost(scheme, host), path: path}, true
}

// normHost lowercases host and drops the scheme's default port.
func normHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case strings.EqualFold(scheme, "https"):
		host = strings.TrimSuffix(host, ":443")
	case strings.EqualFold(scheme, "http"):
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// NewRegistries returns the unscoped registries in urls (invalid ones are
// ignored) plus defaults, which may be nil.
func NewRegistries(defaults *Defaults, urls ...string) *Registries {
	list := make([]Registry, len(urls))
	for i, u := range urls {
		list[i] = Registry{URL: u}
	}
	return NewScopedRegistries(defaults, list)
}

// NewScopedRegistries returns the registries in list (invalid URLs are
// ignored) plus defaults, which may be nil.
func NewScopedRegistries(defaults *Defaults, list []Registry) *Registries {
	r := &Registries{defaults: defaults}
	for _, x := range list {
		reg, ok := parseRegistry(x.URL)
		if !ok {
			continue
		}
		reg.scope = strings.ToLower(x.Scope)
		if !containsRegistry(r.list, reg) {
			r.list = append(r.list, reg)
		}
	}
	return r
}

func containsRegistry(list []registry, reg registry) bool {
	for _, x := range list {
		if x == reg {
			return true
		}
	}
	return false
}

// Allowed reports whether the absolute URL u comes from a registry allowed
// for every package (a scoped registry does not count). The defaults are
// resolved only when the project's own registries do not already allow u.
func (r *Registries) Allowed(u string) bool {
	return r.AllowedFor("", u)
}

// AllowedFor reports whether the package name (the real package, not an
// alias) may be resolved from the absolute URL u: an unscoped registry
// allows any package, a scoped one only names in its scope.
func (r *Registries) AllowedFor(name, u string) bool {
	scheme, host, path, ok := splitURL(u)
	if !ok {
		return false
	}
	host = normHost(scheme, host)
	if r == nil {
		return false
	}
	scope := packageScope(name)
	if matchAny(r.list, host, path, scope) {
		return true
	}
	if r.defaults != nil {
		return matchAny(r.defaults.get(), host, path, scope)
	}
	return false
}

// packageScope returns the lowercased "@scope" of "@scope/name", else "".
func packageScope(name string) string {
	if !strings.HasPrefix(name, "@") {
		return ""
	}
	scope, _, ok := strings.Cut(name, "/")
	if !ok {
		return ""
	}
	return strings.ToLower(scope)
}

func matchAny(list []registry, host, path, scope string) bool {
	for _, reg := range list {
		if reg.scope != "" && reg.scope != scope {
			continue
		}
		if reg.host == host && (reg.path == "/" || strings.HasPrefix(path, reg.path)) {
			return true
		}
	}
	return false
}

// Describe lists the allowed registries for messages, and says when the
// package managers' default registry could not be determined.
func (r *Registries) Describe() string {
	var names []string
	note := ""
	if r != nil {
		for _, reg := range r.list {
			names = append(names, reg.String())
		}
		if r.defaults != nil {
			for _, reg := range r.defaults.get() {
				if !containsRegistry(r.list, reg) {
					names = append(names, reg.String())
				}
			}
			note = r.defaults.note
		}
	}
	s := "allowed: none"
	if len(names) > 0 {
		s = "allowed: " + strings.Join(names, ", ")
	}
	if note != "" {
		s += "; " + note
	}
	return s
}

// Defaults are the package managers' default registries, resolved at most
// once and only when first needed (resolving may run `npm config get
// registry`). Safe for concurrent use.
type Defaults struct {
	once    sync.Once
	resolve func() (list []Registry, note string)
	list    []registry
	note    string
}

// NewDefaults returns Defaults computed by resolve on first use. resolve
// returns the default registry URLs it found and, when some could not be
// determined, a note for finding messages ("npm's default registry is
// unknown: ...").
func NewDefaults(resolve func() (urls []string, note string)) *Defaults {
	return NewScopedDefaults(func() ([]Registry, string) {
		urls, note := resolve()
		list := make([]Registry, len(urls))
		for i, u := range urls {
			list[i] = Registry{URL: u}
		}
		return list, note
	})
}

// NewScopedDefaults is NewDefaults for resolvers that also know scoped
// registries (the machine's `@scope:registry` settings), which allow only
// their scope.
func NewScopedDefaults(resolve func() (list []Registry, note string)) *Defaults {
	return &Defaults{resolve: resolve}
}

// StaticDefaults returns Defaults with a fixed list, for tests and callers
// that already know the registries.
func StaticDefaults(urls ...string) *Defaults {
	return NewDefaults(func() ([]string, string) { return urls, "" })
}

// Prefetch starts resolving the defaults in the background and returns at
// once; a later use waits for that resolution instead of starting another.
// The background work is bounded by the resolver's own timeouts.
func (d *Defaults) Prefetch() {
	go d.get()
}

func (d *Defaults) get() []registry {
	d.once.Do(func() {
		if d.resolve == nil {
			return
		}
		list, note := d.resolve()
		d.note = note
		for _, x := range list {
			if reg, ok := parseRegistry(x.URL); ok {
				reg.scope = strings.ToLower(x.Scope)
				if !containsRegistry(d.list, reg) {
					d.list = append(d.list, reg)
				}
			}
		}
	})
	return d.list
}
