package scan

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
)

// check runs the rules over the parsed files of one root: every lockfile
// with the manifests it covers (in parallel), and every manifest that no
// lockfile covers.
func check(ctx context.Context, w *walker, opts *Options, cfg *config.Scan) ([]finding.Finding, error) {
	manifests := map[string]*file{} // dir -> parsed package.json
	for _, m := range w.manifests {
		if m.manifest != nil {
			manifests[m.dir] = m
		}
	}
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
	regs := newProjectRegistries(w.root)
	var extra []string
	if cfg != nil {
		extra = cfg.Registries
	}
	results := make([][]finding.Finding, len(w.locks))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range w.locks {
		if l.lock == nil {
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := &lockcheck.Context{
				Lockfile:   l.lock,
				Path:       l.rel,
				Manifests:  covered(l, manifests, lockDirs),
				Config:     cfg,
				Advisories: opts.Advisories,
				Registries: lockcheck.NewRegistries(opts.Defaults, append(regs.forDir(l.dir), extra...)...),
			}
			results[i] = lockcheck.Check(c)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
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

// covered returns the manifests a lockfile covers, the root importer first.
// Formats that record importers say which directories they cover; for the
// others (yarn classic) the lockfile covers its own directory's manifest
// and the workspaces that manifest declares, unless a nearer lockfile
// covers them.
func covered(l *file, manifests map[string]*file, lockDirs map[string]bool) []lockcheck.Manifest {
	var out []lockcheck.Manifest
	add := func(importer string, m *file) {
		out = append(out, lockcheck.Manifest{Path: m.rel, Importer: importer, Manifest: m.manifest})
	}
	root := manifests[l.dir]
	if l.lock.Importers != nil {
		keys := make([]string, 0, len(l.lock.Importers))
		for k := range l.lock.Importers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if root != nil {
			add(".", root)
		}
		for _, k := range keys {
			if k == "." || k == "" {
				continue
			}
			if m := manifests[path.Join(l.dir, k)]; m != nil {
				add(k, m)
			}
		}
		return out
	}
	if root == nil {
		return nil
	}
	add(".", root)
	if len(root.manifest.Workspaces) == 0 {
		return out
	}
	var dirs []string
	for dir := range manifests {
		if dir == l.dir {
			continue
		}
		rel, ok := relTo(l.dir, dir)
		if !ok || !matchWorkspace(root.manifest.Workspaces, rel) || nearestLock(dir, lockDirs) != l.dir {
			continue
		}
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		rel, _ := relTo(l.dir, dir)
		add(rel, manifests[dir])
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
