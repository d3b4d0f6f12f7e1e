package scan

import (
	"io/fs"
	"path/filepath"

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
			out = append(out, trust.Weakened(finding.Location{Path: relPath(w.root, e.file)}, t.Ref, what))
		}
	}
	if t.Apply || len(out) > 0 {
		return trusted, out
	}
	return tree, out
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
