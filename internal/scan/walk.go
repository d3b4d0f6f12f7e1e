package scan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// skipDirs are never descended into: installed packages and VCS data are
// not the project's own declarations.
var skipDirs = map[string]bool{"node_modules": true, ".git": true, "vendor": true}

// walker collects the lockfiles and manifests under root.
type walker struct {
	root      string // absolute
	parsers   []lockfile.Parser
	locks     []*file
	manifests []*file
	ci        []*ciFile // CI configuration files (see ciKinds)
	warnings  []string
}

// walk visits the tree in lexical order. Symbolic links are never followed
// (a link could lead out of the tree), and unreadable directories become
// warnings.
func (w *walker) walk(ctx context.Context) error {
	return filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, relErr := filepath.Rel(w.root, p)
		if relErr != nil {
			return fmt.Errorf("walk %q: %w", p, relErr)
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			w.warnings = append(w.warnings, fmt.Sprintf("%s: not scanned: %v", rel, unwrapPath(err)))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel != "." && skipDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks, sockets, devices
		}
		w.add(rel, d.Name())
		return nil
	})
}

// single adds one file named by the user; a lockfile brings its sibling
// package.json along so drift can be checked.
func (w *walker) single(base string) {
	if w.add(base, base) {
		w.add(ManifestName, ManifestName)
	}
}

// add records rel when its base name is a lockfile or manifest and reports
// whether it was a lockfile.
func (w *walker) add(rel, base string) bool {
	if w.addCI(rel, base) {
		return false
	}
	if base == ManifestName {
		for _, m := range w.manifests {
			if m.rel == rel {
				return false
			}
		}
		if fileExists(filepath.Join(w.root, filepath.FromSlash(rel))) {
			w.manifests = append(w.manifests, w.newFile(rel, nil))
		}
		return false
	}
	for _, p := range w.parsers {
		if p.Match(base) {
			w.locks = append(w.locks, w.newFile(rel, p))
			return true
		}
	}
	return false
}

func (w *walker) newFile(rel string, p lockfile.Parser) *file {
	return &file{
		abs:    filepath.Join(w.root, filepath.FromSlash(rel)),
		rel:    rel,
		dir:    parentDir(rel),
		parser: p,
	}
}

// fileExists reports whether p is a regular file, without following a
// final symbolic link.
func fileExists(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}
