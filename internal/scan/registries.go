package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/treefs"
)

// registryFiles are the project files that may name a registry, read from
// a lockfile's directory and its ancestors up to the repository root.
var registryFiles = []struct {
	name string
	// parse returns the registries the file configures, unscoped and
	// scoped.
	parse func([]byte) []lockcheck.Registry
}{
	{".npmrc", npmrcRegistries},
	{".yarnrc.yml", yarnrcYMLRegistries},
	{".yarnrc", yarnrcRegistries},
	{"pnpm-workspace.yaml", pnpmWorkspaceRegistries},
}

// RegistryFileNames are the base names of the project files that configure
// registries, as read from each lockfile's directory and its ancestors.
func RegistryFileNames() []string {
	names := make([]string, len(registryFiles))
	for i, rf := range registryFiles {
		names[i] = rf.name
	}
	return names
}

// maxRegistryFile bounds the size of each registry configuration file read.
const maxRegistryFile = 1 << 20

// projectRegistries caches, per directory, the registries named by the
// project's configuration files. Safe for concurrent use.
type projectRegistries struct {
	root string // absolute scan root
	top  string // absolute directory where the upward search stops
	// read returns the file at an absolute path under top; an error means
	// it names no registry.
	read func(abs string) ([]byte, error)
	mu   sync.Mutex
	dirs map[string]dirRegistries

	// tree reads the scanned tree's files (nil for a trusted revision);
	// files that exist but cannot be read safely are recorded in unscanned
	// (by absolute path) as unscanned-path findings.
	tree      *treefs.Root
	umu       sync.Mutex
	unscanned map[string]finding.Finding
}

// dirRegistries are the registries one directory's files name.
type dirRegistries struct {
	entries    []registryEntry
	hasDefault bool // an unscoped registry is configured
}

// registryEntry is one registry a configuration file names.
type registryEntry struct {
	lockcheck.Registry
	file string // absolute path of the file that names it
}

// newProjectRegistries searches from each lockfile's directory up to the
// scan root and, when the scan root lies inside a git repository, on up to
// the repository root top (never above it, so files outside the project
// are not read). The files are read from the tree through a treefs.Root at
// top: one that is a link leaving it, a FIFO, a device, too large or
// unreadable names no registry and is reported (findings).
func newProjectRegistries(ctx context.Context, root, top string) (*projectRegistries, error) {
	tree, err := treefs.Open(top)
	if err != nil {
		return nil, err
	}
	p := &projectRegistries{root: root, top: tree.Dir(), tree: tree, dirs: map[string]dirRegistries{}, unscanned: map[string]finding.Finding{}}
	p.read = func(abs string) ([]byte, error) { return p.readTree(ctx, abs) }
	return p, nil
}

// readTree reads the configuration file at abs (inside top) through the
// tree; one that exists but cannot be read is recorded as an
// unscanned-path finding.
func (p *projectRegistries) readTree(ctx context.Context, abs string) ([]byte, error) {
	rel, ok := p.tree.Rel(abs)
	if !ok {
		return nil, fs.ErrNotExist
	}
	data, err := p.tree.ReadFile(ctx, rel, maxRegistryFile)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist) && !isLink(abs), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	}
	p.umu.Lock()
	defer p.umu.Unlock()
	if _, seen := p.unscanned[abs]; !seen {
		reason := err
		var se *treefs.SizeError
		if errors.As(err, &se) {
			reason = se
		} else {
			reason = readReason(err)
		}
		p.unscanned[abs] = unscanned(relPath(p.root, abs), reason)
	}
	return nil, err
}

// findings returns the unscanned-path findings of configuration files.
func (p *projectRegistries) findings() []finding.Finding {
	p.umu.Lock()
	defer p.umu.Unlock()
	out := make([]finding.Finding, 0, len(p.unscanned))
	for _, k := range sortedKeys(p.unscanned) {
		out = append(out, p.unscanned[k])
	}
	return out
}

// isLink reports whether abs is a symbolic link (a dangling one is
// reported; a missing file is not).
func isLink(abs string) bool {
	st, err := os.Lstat(abs)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// within returns abs relative to dir, slash-separated, when it lies inside.
func within(dir, abs string) (string, bool) {
	rel, ok := relTo(filepath.ToSlash(dir), filepath.ToSlash(abs))
	if !ok && dir == "/" {
		return strings.TrimPrefix(filepath.ToSlash(abs), "/"), true
	}
	return rel, ok
}

// repoTop returns the nearest directory at or above root that holds .git,
// or root itself when there is none.
func repoTop(root string) string {
	for d := root; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return root
		}
		d = parent
	}
}

// forDir returns the registries configured for the lockfile directory dir
// (slash-separated, relative to the scan root), nearest file first.
func (p *projectRegistries) forDir(dir string) []registryEntry {
	var out []registryEntry
	p.visit(dir, func(d dirRegistries) { out = append(out, d.entries...) })
	return out
}

// allowed returns the registries configured for the lockfile directory dir
// plus the unscoped extra ones (scan.registries), for lockcheck.
func (p *projectRegistries) allowed(dir string, extra []string) []lockcheck.Registry {
	entries := p.forDir(dir)
	out := make([]lockcheck.Registry, 0, len(entries)+len(extra))
	for _, e := range entries {
		out = append(out, e.Registry)
	}
	for _, u := range extra {
		out = append(out, lockcheck.Registry{URL: u})
	}
	return out
}

// hasDefault reports whether the project configures an unscoped registry
// for the lockfile directory dir, so that the package managers' default
// registry is probably not needed.
func (p *projectRegistries) hasDefault(dir string) bool {
	found := false
	p.visit(dir, func(d dirRegistries) { found = found || d.hasDefault })
	return found
}

// visit calls fn for dir and each ancestor up to the search's top.
func (p *projectRegistries) visit(dir string, fn func(dirRegistries)) {
	d := filepath.Join(p.root, filepath.FromSlash(dir))
	for {
		fn(p.inDir(d))
		if d == p.top || !strings.HasPrefix(d, p.top) {
			return
		}
		parent := filepath.Dir(d)
		if parent == d {
			return
		}
		d = parent
	}
}

func (p *projectRegistries) inDir(dir string) dirRegistries {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.dirs[dir]; ok {
		return r
	}
	var r dirRegistries
	for _, rf := range registryFiles {
		file := filepath.Join(dir, rf.name)
		data, err := p.read(file)
		if err != nil {
			continue // absent or unreadable: names no registry
		}
		for _, reg := range rf.parse(data) {
			r.entries = append(r.entries, registryEntry{Registry: reg, file: file})
			r.hasDefault = r.hasDefault || reg.Scope == ""
		}
	}
	p.dirs[dir] = r
	return r
}

// npmrcRegistries reads `registry=` and `@scope:registry=` from .npmrc
// (also pnpm's settings file). Values with ${ENV} references are skipped:
// they are not known at scan time.
func npmrcRegistries(data []byte) []lockcheck.Registry {
	var out []lockcheck.Registry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxRegistryFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		scope, ok := registryKey(k)
		if !ok {
			continue
		}
		if v = unquote(strings.TrimSpace(v)); v != "" && !strings.Contains(v, "${") {
			out = append(out, lockcheck.Registry{URL: v, Scope: scope})
		}
	}
	return out
}

// yarnrcRegistries reads yarn classic's .yarnrc: `registry "url"` and
// `"@scope:registry" "url"`.
func yarnrcRegistries(data []byte) []lockcheck.Registry {
	var out []lockcheck.Registry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxRegistryFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		k = unquote(k)
		scope, ok := registryKey(k)
		if !ok {
			continue
		}
		if v = unquote(strings.TrimSpace(v)); v != "" && !strings.Contains(v, "${") {
			out = append(out, lockcheck.Registry{URL: v, Scope: scope})
		}
	}
	return out
}

// registryKey reports whether key selects a registry: "registry" (scope
// "") or "@scope:registry".
func registryKey(key string) (scope string, ok bool) {
	if key == "registry" {
		return "", true
	}
	scope, ok = strings.CutSuffix(key, ":registry")
	if !ok || len(scope) < 2 || scope[0] != '@' {
		return "", false
	}
	return scope, true
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// yarnrcYMLRegistries reads yarn berry's npmRegistryServer and npmScopes
// (keys are scope names without the "@"). npmRegistries is not read: it
// holds per-registry settings (auth) and makes yarn fetch nothing from the
// registries it names, so it allows none.
func yarnrcYMLRegistries(data []byte) []lockcheck.Registry {
	var rc struct {
		NpmRegistryServer string `yaml:"npmRegistryServer"`
		NpmScopes         map[string]struct {
			NpmRegistryServer string `yaml:"npmRegistryServer"`
		} `yaml:"npmScopes"`
	}
	if yaml.Unmarshal(data, &rc) != nil {
		return nil
	}
	var out []lockcheck.Registry
	add := func(scope, u string) {
		if strings.HasPrefix(u, "//") {
			u = "https:" + u
		}
		if u != "" && !strings.Contains(u, "${") {
			out = append(out, lockcheck.Registry{URL: u, Scope: scope})
		}
	}
	add("", rc.NpmRegistryServer)
	for _, s := range sortedKeys(rc.NpmScopes) {
		if name := strings.TrimPrefix(s, "@"); name != "" {
			add("@"+name, rc.NpmScopes[s].NpmRegistryServer)
		}
	}
	return out
}

// pnpmWorkspaceRegistries reads `registry` and `registries` (scope -> URL,
// "default" for every package) from pnpm-workspace.yaml settings.
func pnpmWorkspaceRegistries(data []byte) []lockcheck.Registry {
	var ws struct {
		Registry   string            `yaml:"registry"`
		Registries map[string]string `yaml:"registries"`
	}
	if yaml.Unmarshal(data, &ws) != nil {
		return nil
	}
	var out []lockcheck.Registry
	if ws.Registry != "" {
		out = append(out, lockcheck.Registry{URL: ws.Registry})
	}
	for _, k := range sortedKeys(ws.Registries) {
		scope := k
		switch {
		case k == "default":
			scope = ""
		case len(k) < 2 || k[0] != '@':
			continue // pnpm selects registries only by scope
		}
		if u := ws.Registries[k]; u != "" {
			out = append(out, lockcheck.Registry{URL: u, Scope: scope})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
