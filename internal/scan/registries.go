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
	"github.com/buildwall/buildwall/internal/treefs"
)

// registryFiles are the project files that may name a registry, read from
// a lockfile's directory and its ancestors up to the repository root.
var registryFiles = []struct {
	name string
	// parse returns the default (unscoped) registries and the scoped ones.
	parse func([]byte) (defaults, scoped []string)
}{
	{".npmrc", npmrcRegistries},
	{".yarnrc.yml", yarnrcYMLRegistries},
	{".yarnrc", yarnrcRegistries},
	{"pnpm-workspace.yaml", pnpmWorkspaceRegistries},
}

// maxRegistryFile bounds the size of each registry configuration file read.
const maxRegistryFile = 1 << 20

// projectRegistries caches, per directory, the registries named by the
// project's configuration files. Safe for concurrent use.
type projectRegistries struct {
	root string // absolute scan root
	top  string // absolute directory where the upward search stops
	tree *treefs.Root
	mu   sync.Mutex
	dirs map[string]dirRegistries
	// unscanned are unscanned-path findings for configuration files that
	// exist but could not be read, by absolute path.
	unscanned map[string]finding.Finding
}

// dirRegistries are the registries one directory's files name.
type dirRegistries struct {
	urls       []string
	hasDefault bool // an unscoped registry is configured
}

// newProjectRegistries searches from each lockfile's directory up to the
// scan root and, when the scan root lies inside a git repository, on up to
// the repository root top (never above it, so files outside the project are
// not read). Files are read through a treefs.Root at top.
func newProjectRegistries(root, top string) (*projectRegistries, error) {
	tree, err := treefs.Open(top)
	if err != nil {
		return nil, err
	}
	return &projectRegistries{root: root, top: tree.Dir(), tree: tree, dirs: map[string]dirRegistries{}, unscanned: map[string]finding.Finding{}}, nil
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
// (slash-separated, relative to the scan root).
func (p *projectRegistries) forDir(ctx context.Context, dir string) []string {
	var out []string
	p.visit(ctx, dir, func(d dirRegistries) { out = append(out, d.urls...) })
	return out
}

// hasDefault reports whether the project configures an unscoped registry
// for the lockfile directory dir, so that the package managers' default
// registry is probably not needed.
func (p *projectRegistries) hasDefault(ctx context.Context, dir string) bool {
	found := false
	p.visit(ctx, dir, func(d dirRegistries) { found = found || d.hasDefault })
	return found
}

// visit calls fn for dir and each ancestor up to the search's top.
func (p *projectRegistries) visit(ctx context.Context, dir string, fn func(dirRegistries)) {
	d := filepath.Join(p.root, filepath.FromSlash(dir))
	for {
		fn(p.inDir(ctx, d))
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

func (p *projectRegistries) inDir(ctx context.Context, dir string) dirRegistries {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.dirs[dir]; ok {
		return r
	}
	var r dirRegistries
	for _, rf := range registryFiles {
		data := p.readLocked(ctx, filepath.Join(dir, rf.name))
		if data == nil {
			continue // absent or unreadable: names no registry
		}
		defaults, scoped := rf.parse(data)
		r.urls = append(r.urls, defaults...)
		r.urls = append(r.urls, scoped...)
		r.hasDefault = r.hasDefault || len(defaults) > 0
	}
	p.dirs[dir] = r
	return r
}

// read returns the configuration file at abs (inside top), nil when it is
// absent; one that exists but cannot be read (outside the tree through a
// link, not a regular file, too large, unreadable) is recorded as an
// unscanned-path finding and returns nil.
func (p *projectRegistries) read(ctx context.Context, abs string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readLocked(ctx, abs)
}

func (p *projectRegistries) readLocked(ctx context.Context, abs string) []byte {
	rel, ok := p.tree.Rel(abs)
	if !ok {
		return nil
	}
	data, err := p.tree.ReadFile(ctx, rel, maxRegistryFile)
	switch {
	case err == nil:
		return data
	case errors.Is(err, fs.ErrNotExist) && !isLink(abs), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	}
	shown, ok := within(p.root, abs)
	if !ok {
		shown = filepath.ToSlash(abs)
		if r, err := filepath.Rel(p.root, abs); err == nil {
			shown = filepath.ToSlash(r)
		}
	}
	if _, seen := p.unscanned[abs]; !seen {
		var se *treefs.SizeError
		if errors.As(err, &se) {
			err = se
		} else {
			err = readReason(err)
		}
		p.unscanned[abs] = unscanned(shown, err)
	}
	return nil
}

// findings returns the unscanned-path findings of configuration files.
func (p *projectRegistries) findings() []finding.Finding {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// npmrcRegistries reads `registry=` and `@scope:registry=` from .npmrc
// (also pnpm's settings file). Values with ${ENV} references are skipped:
// they are not known at scan time.
func npmrcRegistries(data []byte) (defaults, scoped []string) {
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
		if k != "registry" && !(strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry")) {
			continue
		}
		if v = unquote(strings.TrimSpace(v)); v != "" && !strings.Contains(v, "${") {
			if k == "registry" {
				defaults = append(defaults, v)
			} else {
				scoped = append(scoped, v)
			}
		}
	}
	return defaults, scoped
}

// yarnrcRegistries reads yarn classic's .yarnrc: `registry "url"` and
// `"@scope:registry" "url"`.
func yarnrcRegistries(data []byte) (defaults, scoped []string) {
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
		if k != "registry" && !(strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry")) {
			continue
		}
		if v = unquote(strings.TrimSpace(v)); v != "" && !strings.Contains(v, "${") {
			if k == "registry" {
				defaults = append(defaults, v)
			} else {
				scoped = append(scoped, v)
			}
		}
	}
	return defaults, scoped
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// yarnrcYMLRegistries reads yarn berry's npmRegistryServer, npmScopes and
// npmRegistries keys.
func yarnrcYMLRegistries(data []byte) (defaults, scoped []string) {
	var rc struct {
		NpmRegistryServer string `yaml:"npmRegistryServer"`
		NpmScopes         map[string]struct {
			NpmRegistryServer string `yaml:"npmRegistryServer"`
		} `yaml:"npmScopes"`
		NpmRegistries map[string]yaml.Node `yaml:"npmRegistries"`
	}
	if yaml.Unmarshal(data, &rc) != nil {
		return nil, nil
	}
	add := func(list *[]string, u string) {
		if strings.HasPrefix(u, "//") {
			u = "https:" + u
		}
		if u != "" && !strings.Contains(u, "${") {
			*list = append(*list, u)
		}
	}
	add(&defaults, rc.NpmRegistryServer)
	for _, s := range sortedKeys(rc.NpmScopes) {
		add(&scoped, rc.NpmScopes[s].NpmRegistryServer)
	}
	// npmRegistries only holds per-registry settings (auth); its keys name
	// registries the project uses but select none by default.
	for _, u := range sortedKeys(rc.NpmRegistries) {
		add(&scoped, u)
	}
	return defaults, scoped
}

// pnpmWorkspaceRegistries reads `registry` and `registries` (scope -> URL)
// from pnpm-workspace.yaml settings.
func pnpmWorkspaceRegistries(data []byte) (defaults, scoped []string) {
	var ws struct {
		Registry   string            `yaml:"registry"`
		Registries map[string]string `yaml:"registries"`
	}
	if yaml.Unmarshal(data, &ws) != nil {
		return nil, nil
	}
	if ws.Registry != "" {
		defaults = append(defaults, ws.Registry)
	}
	for _, k := range sortedKeys(ws.Registries) {
		if k == "default" {
			defaults = append(defaults, ws.Registries[k])
		} else {
			scoped = append(scoped, ws.Registries[k])
		}
	}
	return defaults, scoped
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
