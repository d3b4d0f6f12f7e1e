package scan

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/trust"
)

// trustedRegistries compares the tree's registry configuration (tree) for
// the scan root and every lockfile directory with the trusted revision's,
// and returns the registries to check lockfiles against with a
// gate-weakened finding per registry the tree adds: the revision's
// registries when t.Apply is set or the tree weakened anything, else the
// tree's (which then allow nothing more).
func trustedRegistries(w *walker, tree *projectRegistries, t *Trust) (*projectRegistries, []finding.Finding) {
	trusted := &projectRegistries{
		root: w.root,
		top:  t.Top,
		read: func(abs string) ([]byte, error) {
			rel, err := filepath.Rel(t.Top, abs)
			if err != nil || !filepath.IsLocal(rel) {
				return nil, fs.ErrNotExist // outside the revision's repository
			}
			return t.ReadFile(filepath.ToSlash(rel))
		},
		dirs: map[string]dirRegistries{},
	}
	dirs := []string{"."}
	for _, l := range w.locks {
		dirs = append(dirs, l.dir)
	}
	type key struct{ file, scope, url string }
	seen := map[key]bool{}
	var out []finding.Finding
	for _, dir := range dirs {
		allowed := trusted.allowed(dir, t.Registries)
		for _, e := range tree.forDir(dir) {
			k := key{e.file, e.Scope, e.URL}
			if seen[k] || trust.CoversRegistry(allowed, e.Registry) {
				continue
			}
			seen[k] = true
			what := filepath.Base(e.file) + " adds registry " + e.URL + " for " + registryFor(e.Scope) + ", which " + t.Ref + " does not allow"
			loc := finding.Location{Path: relPath(w.root, e.file), Line: tree.lineOf(e)}
			out = append(out, trust.Weakened(loc, t.Ref, what))
		}
	}
	if t.Apply || len(out) > 0 {
		return trusted, out
	}
	return tree, out
}

// lineOf returns the 1-based line of the file that names e's URL (the
// first one), 0 when it cannot be found again.
func (p *projectRegistries) lineOf(e registryEntry) int {
	data, err := p.read(e.file)
	if err != nil {
		return 0
	}
	i := bytes.Index(data, []byte(e.URL))
	if i < 0 {
		// yarn's "//host/path" is read as "https://host/path".
		i = bytes.Index(data, []byte(strings.TrimPrefix(e.URL, "https:")))
	}
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

func registryFor(scope string) string {
	if scope == "" {
		return "every package"
	}
	return scope + "/*"
}

// relPath names the file at the absolute path abs relative to the scan root
// (with ".." for a file above it), slash-separated.
func relPath(root, abs string) string {
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}
