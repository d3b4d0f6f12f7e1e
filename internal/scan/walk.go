package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/treefs"
)

// DefaultSkipDirs are the directory names the walk does not descend unless
// Options.IncludeVendored is set: installed and vendored packages, VCS data
// and test fixtures are not the project's own declarations.
var DefaultSkipDirs = []string{".git", "node_modules", "testdata", "vendor"}

var skipDirs = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range DefaultSkipDirs {
		m[d] = true
	}
	return m
}()

// walker collects the lockfiles and manifests under root.
type walker struct {
	root string // absolute; paths are reported relative to it
	// tree confines every read; sub is root relative to tree's directory
	// ("." for a directory scan, which roots the tree at the scan root).
	tree      *treefs.Root
	sub       string
	parsers   []lockfile.Parser
	locks     []*file
	manifests []*file
	manifest  map[string]bool // rel of every manifest recorded
	ci        []*ciFile       // CI configuration files (see ciKinds)
	// unscanned are the unscanned-path findings of the walk.
	unscanned []finding.Finding
	// dirLinks are links to directories of the tree found by the walk.
	dirLinks []string
	// skipNames are the directory names not descended (skipDirs, or none
	// with IncludeVendored); exclude are the --exclude and scan.exclude
	// globs.
	skipNames map[string]bool
	exclude   []config.Glob
}

func newWalker(root string, tree *treefs.Root, parsers []lockfile.Parser) *walker {
	w := &walker{root: root, tree: tree, sub: ".", parsers: parsers, manifest: map[string]bool{}, skipNames: skipDirs}
	if rel, ok := tree.Rel(root); ok {
		w.sub = rel
	}
	return w
}

// treePath returns the path of rel (relative to the walker's root) in the
// tree.
func (w *walker) treePath(rel string) string { return path.Join(w.sub, rel) }

// walk visits the real directories of the tree in lexical order, in time
// linear in the number of entries. Symbolic links are resolved inside the
// tree: a link to a file is scanned under the link's name. A link to a
// directory is not descended when its target is walked under its own name
// anyway; when the target lies in a directory the walk skips (node_modules,
// .git, vendor: `app -> node_modules/x` would otherwise hide app's
// lockfile), it is walked once under the link's name, each real directory
// at most once, so loops end. A link that leaves the tree, a link loop and
// a directory that cannot be listed become unscanned-path findings. Only
// cancellation is an error.
func (w *walker) walk(ctx context.Context) error {
	if err := w.walkDir(ctx, "."); err != nil {
		return err
	}
	visited := map[string]bool{}
	for len(w.dirLinks) > 0 {
		link := w.dirLinks[0]
		w.dirLinks = w.dirLinks[1:]
		real, err := filepath.EvalSymlinks(filepath.Join(w.root, filepath.FromSlash(link)))
		if err != nil {
			w.skip(link, linkReason(err))
			continue
		}
		target, ok := within(w.root, real)
		if !ok {
			w.skip(link, linkReason(treefs.ErrOutside))
			continue
		}
		if w.excluded(link) || !w.underSkipped(target) || visited[target] {
			continue
		}
		visited[target] = true
		if err := w.walkDir(ctx, link); err != nil {
			return err
		}
	}
	return nil
}

// underSkipped reports whether the slash path rel lies in a directory the
// walk does not descend (by name or by an exclude glob).
func (w *walker) underSkipped(rel string) bool {
	end := 0
	for seg := range strings.SplitSeq(rel, "/") {
		end += len(seg)
		if w.skipNames[seg] || w.excluded(rel[:end]) {
			return true
		}
		end++ // the slash
	}
	return false
}

// excluded reports whether the slash path rel matches an exclude glob.
func (w *walker) excluded(rel string) bool {
	for _, g := range w.exclude {
		if g.Match(rel) {
			return true
		}
	}
	return false
}

func (w *walker) walkDir(ctx context.Context, rel string) error {
	entries, err := os.ReadDir(filepath.Join(w.root, filepath.FromSlash(rel)))
	if err != nil {
		w.skip(rel, fmt.Errorf("cannot list the directory: %w", unwrapPath(err)))
		if len(entries) == 0 {
			return nil
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		crel := name
		if rel != "." {
			crel = rel + "/" + name
		}
		if w.excluded(crel) {
			continue
		}
		switch t := e.Type(); {
		case t.IsDir():
			if w.skipNames[name] {
				continue
			}
			if err := w.walkDir(ctx, crel); err != nil {
				return err
			}
		case t.IsRegular():
			w.add(crel, name, true)
		case t&fs.ModeSymlink != 0:
			w.link(crel, name)
		default:
			if w.wants(crel, name) {
				w.skip(crel, fmt.Errorf("it is %s, not a regular file; it was not opened", describeType(t)))
			}
		}
	}
	return nil
}

// link handles a symbolic link found by the walk.
func (w *walker) link(rel, base string) {
	info, err := w.tree.Stat(w.treePath(rel))
	if err == nil {
		switch {
		case info.IsRegular():
			w.add(rel, base, false)
		case info.IsDir():
			w.dirLinks = append(w.dirLinks, rel) // see walk
		case w.wants(rel, base):
			w.skip(rel, fmt.Errorf("it links to %s, not a regular file; it was not opened", describeType(info.Mode)))
		}
		return
	}
	wanted := w.wants(rel, base)
	if !wanted && errors.Is(err, treefs.ErrOutside) {
		// A link out of the tree matters when it could hold files to scan.
		st, serr := os.Stat(filepath.Join(w.root, filepath.FromSlash(rel)))
		wanted = serr == nil && st.IsDir()
	}
	if wanted {
		w.skip(rel, linkReason(err))
	}
}

// linkReason explains why a symbolic link was not followed.
func linkReason(err error) error {
	err = unwrapPath(err)
	switch {
	case errors.Is(err, treefs.ErrOutside):
		return errors.New("it is a symbolic link whose target is outside the scanned root; the target was not read")
	case errors.Is(err, syscall.ELOOP):
		return errors.New("it is a symbolic link in a loop (or into /proc); nothing was read")
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("it is a symbolic link to a file that does not exist")
	}
	return fmt.Errorf("its symbolic link cannot be resolved: %w", err)
}

// describeType names a non-regular file type.
func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// skip records an unscanned-path finding for rel.
func (w *walker) skip(rel string, reason error) {
	w.unscanned = append(w.unscanned, unscanned(rel, reason))
}

// single adds one file named by the user; a lockfile brings its sibling
// package.json along so drift can be checked. base is the name as the user
// gave it (a link named package-lock.json is a lockfile whatever its
// target is called).
func (w *walker) single(base string) {
	if !w.wants(base, base) {
		return
	}
	info, err := w.tree.Stat(w.treePath(base))
	switch {
	case err != nil:
		w.skip(base, linkReason(err))
		return
	case !info.IsRegular():
		w.skip(base, fmt.Errorf("it is %s, not a regular file; it was not opened", describeType(info.Mode)))
		return
	}
	if w.add(base, base, false) {
		if info, err := w.tree.Stat(w.treePath(ManifestName)); err == nil && info.IsRegular() {
			w.add(ManifestName, ManifestName, false)
		}
	}
}

// wants reports whether a file at rel named base would be scanned.
func (w *walker) wants(rel, base string) bool {
	if base == ManifestName || w.ciKind(rel, base) != nil {
		return true
	}
	for _, p := range w.parsers {
		if p.Match(base) {
			return true
		}
	}
	return false
}

// add records rel, a regular file (possibly through a link inside the
// tree), when its base name is a lockfile, manifest or CI file, and reports
// whether it was a lockfile. listed says the directory listing showed rel
// itself as a regular file (treefs.Root.OpenListed).
func (w *walker) add(rel, base string, listed bool) bool {
	if w.addCI(rel, base, listed) {
		return false
	}
	if base == ManifestName {
		if !w.manifest[rel] {
			w.manifest[rel] = true
			w.manifests = append(w.manifests, w.newFile(rel, nil, listed))
		}
		return false
	}
	for _, p := range w.parsers {
		if p.Match(base) {
			w.locks = append(w.locks, w.newFile(rel, p, listed))
			return true
		}
	}
	return false
}

func (w *walker) newFile(rel string, p lockfile.Parser, listed bool) *file {
	return &file{
		abs:    filepath.Join(w.root, filepath.FromSlash(rel)),
		tree:   w.treePath(rel),
		listed: listed,
		rel:    rel,
		dir:    parentDir(rel),
		parser: p,
	}
}
