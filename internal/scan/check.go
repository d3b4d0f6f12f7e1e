package scan

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
)

// check runs the rules over the parsed files of one root: every lockfile
// with the manifests it covers (in parallel), and every manifest that no
// lockfile covers. regs name the allowed registries (the trusted
// revision's when it applies); treeRegs read the tree's own files.
func check(ctx context.Context, w *walker, regs, treeRegs *projectRegistries, opts *Options, cfg *config.Scan) ([]finding.Finding, error) {
	manifests := newManifestIndex(w.manifests)
	lockDirs := map[string]bool{}
	for _, l := range w.locks {
		lockDirs[l.dir] = true
	}
	var out []finding.Finding
	outerLock := lockAboveRoot(w.root, opts.Parsers)
	for _, m := range w.manifests {
		if m.manifest != nil && !outerLock && !lockAbove(m.dir, lockDirs) {
			out = append(out, lockcheck.CheckOrphan(lockcheck.Manifest{Path: m.rel, Importer: ".", Manifest: m.manifest})...)
		}
	}
	var extra []string
	if cfg != nil {
		extra = cfg.Registries
	}
	results := make([][]finding.Finding, len(w.locks))
	crashes := make([]error, len(w.locks))
	done, err := forEach(ctx, len(w.locks), func(i int) {
		l := w.locks[i]
		if l.lock == nil {
			return
		}
		// A rule bug must fail the scan loudly (exit 3), not crash it or
		// silently drop the lockfile's findings.
		defer func() {
			if r := recover(); r != nil {
				crashes[i] = fmt.Errorf("check %s: rule crashed (a buildwall bug, please report it): %v", l.rel, r)
			}
		}()
		var ws pnpmWorkspace
		if l.lock.Format == "pnpm" {
			ws = readPnpmWorkspace(treeRegs, l.dir)
		}
		c := &lockcheck.Context{
			BuildAllowed: ws.buildAllowed,
			Overrides:    ws.overrides,
			Catalogs:     ws.catalogs,
			Lockfile:     l.lock,
			Path:         l.rel,
			Manifests:    covered(l, manifests, lockDirs),
			Config:       cfg,
			Advisories:   opts.Advisories,
			Registries:   lockcheck.NewScopedRegistries(opts.Defaults, regs.allowed(l.dir, extra)),
		}
		results[i] = lockcheck.Check(c)
	})
	for i, r := range results {
		if !done[i] {
			continue
		}
		if crashes[i] != nil {
			return nil, crashes[i]
		}
		out = append(out, r...)
	}
	return out, err
}

// lockAbove reports whether dir or one of its ancestors (up to the root)
// holds a lockfile.
func lockAbove(dir string, lockDirs map[string]bool) bool {
	for {
		if lockDirs[dir] {
			return true
		}
		if dir == "." || dir == "/" || dir == "" {
			return false
		}
		dir = parentDir(dir)
	}
}

// lockAboveRoot reports whether a directory above the scan root, up to the
// root of the git repository that holds it, contains a lockfile: scanning
// one workspace package of a monorepo must not report lockfile-missing.
// Outside a git repository nothing above the root is looked at.
func lockAboveRoot(root string, parsers []lockfile.Parser) bool {
	top := repoTop(root)
	for d := root; d != top; {
		d = filepath.Dir(d)
		entries, err := os.ReadDir(d)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			for _, p := range parsers {
				if p.Match(e.Name()) {
					return true
				}
			}
		}
	}
	return false
}

// manifestIndex finds parsed manifests by directory, and the manifests
// below a directory without looking at the others.
type manifestIndex struct {
	byDir map[string]*file // dir -> parsed package.json
	dirs  []string         // the keys of byDir, sorted
}

func newManifestIndex(all []*file) *manifestIndex {
	idx := &manifestIndex{byDir: map[string]*file{}}
	for _, m := range all {
		if m.manifest != nil {
			idx.byDir[m.dir] = m
		}
	}
	idx.dirs = sortedKeys(idx.byDir)
	return idx
}

// below returns the directories strictly under dir that hold a manifest:
// one contiguous run of the sorted list, so that checking every lockfile's
// workspaces costs the manifests below each lockfile, not all of them for
// every lockfile.
func (idx *manifestIndex) below(dir string) []string {
	if dir == "." {
		return idx.dirs
	}
	prefix := dir + "/"
	from, _ := slices.BinarySearch(idx.dirs, prefix)
	to := from
	for to < len(idx.dirs) && strings.HasPrefix(idx.dirs[to], prefix) {
		to++
	}
	return idx.dirs[from:to]
}

// covered returns the manifests a lockfile covers, the root importer
// first, then by directory: the root manifest in the lockfile's directory,
// every importer the lockfile records, and every manifest below it that the
// root manifest's workspace globs match and no nearer lockfile covers. A
// workspace the lockfile does not know then shows up as drift.
func covered(l *file, manifests *manifestIndex, lockDirs map[string]bool) []lockcheck.Manifest {
	var out []lockcheck.Manifest
	root := manifests.byDir[l.dir]
	if root != nil {
		out = append(out, lockcheck.Manifest{Path: root.rel, Importer: ".", Manifest: root.manifest})
	}
	importers := map[string]string{} // manifest dir -> importer key
	for k := range l.lock.Importers {
		if k == "." || k == "" {
			continue
		}
		if dir := path.Join(l.dir, k); manifests.byDir[dir] != nil {
			importers[dir] = k
		}
	}
	if root != nil && len(root.manifest.Workspaces) > 0 {
		for _, dir := range manifests.below(l.dir) {
			if dir == l.dir || importers[dir] != "" {
				continue
			}
			rel, ok := relTo(l.dir, dir)
			if ok && matchWorkspace(root.manifest.Workspaces, rel) && nearestLock(dir, lockDirs) == l.dir {
				importers[dir] = rel
			}
		}
	}
	dirs := make([]string, 0, len(importers))
	for dir := range importers {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		m := manifests.byDir[dir]
		out = append(out, lockcheck.Manifest{Path: m.rel, Importer: importers[dir], Manifest: m.manifest})
	}
	return out
}

// nearestLock returns the nearest directory at or above dir holding a
// lockfile.
func nearestLock(dir string, lockDirs map[string]bool) string {
	for {
		if lockDirs[dir] || dir == "." {
			return dir
		}
		dir = parentDir(dir)
	}
}

// matchWorkspace reports whether the slash directory rel matches one of the
// workspace globs of package.json ("packages/*", "apps/**").
func matchWorkspace(globs []string, rel string) bool {
	for _, g := range globs {
		g = strings.TrimSuffix(strings.TrimPrefix(g, "./"), "/")
		if base, ok := strings.CutSuffix(g, "/**"); ok {
			if _, inside := relTo(base, rel); inside && rel != base {
				return true
			}
			continue
		}
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
	}
	return false
}
