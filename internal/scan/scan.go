// Package scan walks repository trees, finds JavaScript lockfiles and
// package.json manifests and CI configuration (GitHub Actions workflows and
// action.yml files; see ciKinds), parses them (in parallel, with size
// limits), runs the lockcheck and cicheck rules and returns deterministic
// findings.
//
// scan owns all file I/O of a scan: parsers get bytes, rules get parsed
// models. One bad file becomes a finding; it never aborts the scan.
package scan

import (
	"context"
	"errors"
	"fmt"
	"github.com/buildwall/buildwall/internal/termsafe"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/treefs"
	"github.com/buildwall/buildwall/internal/trust"
)

// DefaultMaxFileSize bounds each lockfile and manifest read (512 MiB).
const DefaultMaxFileSize = 512 << 20

// ManifestName is the base name of the manifests scan looks for.
const ManifestName = "package.json"

// Options configure Run. The zero value scans "." with no configuration, no
// advisory database and no default registries.
type Options struct {
	// Paths are the directories (or single files) to scan; empty means ".".
	Paths []string
	// Config is the repository configuration; nil means none.
	Config *config.Config
	// Advisories answers malicious-package lookups; nil skips that rule.
	Advisories lockcheck.Advisories
	// Defaults are the package managers' default registries (see
	// ClientDefaults); nil allows only project-configured registries.
	Defaults *lockcheck.Defaults
	// MaxFileSize bounds each file in bytes; 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// Parsers replaces LockfileParsers (tests); nil means LockfileParsers().
	Parsers []lockfile.Parser
	// ParseManifest replaces the package.json parser (tests); nil means the
	// default.
	ParseManifest func(path string, data []byte) (*lockfile.Manifest, error)
	// Trust compares the tree's registry configuration files with a
	// trusted revision's; nil reads them from the tree and compares
	// nothing.
	Trust *Trust
	// Base is the directory paths in the Result are relative to, as
	// returned by Base(Paths); "" computes it.
	Base string
	// NoIgnores reports every finding: neither buildwall.yml's ignores
	// nor inline ignore comments suppress anything (--no-ignores).
	NoIgnores bool
	// ConfigPath names the configuration file in findings about its
	// ignores (slash-separated, as finding paths); "" means buildwall.yml.
	ConfigPath string
	// Exclude are globs of paths the walk skips (--exclude), besides the
	// configuration's scan.exclude.
	Exclude []config.Glob
	// IncludeVendored walks the directories skipped by default
	// (DefaultSkipDirs).
	IncludeVendored bool
	// Now is the clock for ignore expiry; nil means time.Now.
	Now func() time.Time
}

// Trust is a trusted revision of the repository being scanned (the base
// branch of a pull request) for the registry configuration files
// (RegistryFileNames). Every registry a file in the tree adds for a
// lockfile, compared with the revision's files for the same directory and
// its ancestors, is a gate-weakened finding; then, or always with Apply,
// the revision's files decide which registries are allowed instead of the
// tree's.
type Trust struct {
	// Ref names the revision in findings ("origin/main").
	Ref string
	// Top is the absolute, symlink-resolved top of the repository's work
	// tree; paths given to ReadFile are relative to it.
	Top string
	// ReadFile returns the revision's file at the slash path rel; any
	// error means the revision has no such file (it names no registry).
	// It must be safe for concurrent use.
	ReadFile func(rel string) ([]byte, error)
	// Registries are allowed for every package by the trusted
	// configuration (its scan.registries).
	Registries []string
	// Apply uses the revision's files even when the tree's weaken nothing.
	Apply bool
}

// Result is the outcome of a scan. Findings are sorted with finding.Sort.
// Paths are relative to Base (the repository's top, see Base); when Base is
// "" they are relative to each root and, when several roots are scanned,
// prefixed with the root as given, so that they stay distinct.
type Result struct {
	// Roots are the scan roots as given.
	Roots []string
	// Base is the absolute directory paths are relative to, or "".
	Base string
	// Files are the lockfiles, manifests and CI files scanned, slash-separated and
	// relative to their root, sorted.
	Files []string
	// Findings include those an ignore suppressed, marked with
	// Suppressed.
	Findings []finding.Finding
	// Suppressed counts the suppressed findings.
	Suppressed int
	// Rules is the metadata of every rule that ran.
	Rules []finding.Rule
	// Warnings are problems that did not produce a finding, for the user's
	// attention.
	Warnings []string
	// Incomplete is set when the scan was cancelled: Findings and Files
	// hold only what was finished.
	Incomplete bool
}

// Errors wrapped by Run's error for a path that cannot be scanned.
var (
	ErrNoSuchPath = errors.New("no such file or directory")
	ErrNotRegular = errors.New("not a directory or regular file")
)

// file is one lockfile or manifest to parse.
type file struct {
	abs    string // absolute OS path
	tree   string // slash-separated, relative to the walker's tree
	listed bool   // a regular file in its directory's listing
	rel    string // slash-separated, relative to the root
	dir    string // slash-separated directory of rel ("." at the root)
	parser lockfile.Parser
	// outputs
	lock     *lockfile.Lockfile
	manifest *lockfile.Manifest
	bad      *finding.Finding // unparseable or too large
}

// Run scans opts.Paths. It returns an error only when a path cannot be
// scanned at all (ErrNoSuchPath, ErrNotRegular), when a rule crashed, or
// when ctx is cancelled; problems with individual files are findings. On
// cancellation it returns promptly, without waiting for a file being
// parsed or checked, both ctx's error and the partial Result (Incomplete
// set); work still in progress is abandoned and finishes in the background.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Paths) == 0 {
		opts.Paths = []string{"."}
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Parsers == nil {
		opts.Parsers = LockfileParsers()
	}
	if opts.ParseManifest == nil {
		opts.ParseManifest = defaultManifestParser
	}
	res := &Result{Roots: opts.Paths, Rules: slices.Concat(lockcheck.Metadata(), cicheck.Metadata(), trust.Metadata(), Rules()), Findings: []finding.Finding{}}
	var scanCfg *config.Scan
	if opts.Config != nil {
		scanCfg = &opts.Config.Scan
	}
	if opts.Base == "" {
		opts.Base = Base(opts.Paths)
	}
	res.Base = opts.Base
	var cancelled error
	for _, p := range opts.Paths {
		r, err := scanRoot(ctx, p, &opts, scanCfg)
		if err != nil && (r == nil || ctx.Err() == nil) {
			return nil, err
		}
		if err != nil {
			cancelled = err
			res.Incomplete = true
		}
		switch {
		case opts.Base != "":
			r.prefixWith(r.prefix)
		case len(opts.Paths) > 1:
			r.prefixPaths()
		}
		res.Files = append(res.Files, r.files...)
		if len(res.Findings) == 0 && r.findings != nil {
			res.Findings = r.findings // the common single root: no copy
		} else {
			res.Findings = append(res.Findings, r.findings...)
		}
		res.Warnings = append(res.Warnings, r.warnings...)
		if cancelled != nil {
			break
		}
	}
	if scanCfg != nil && !opts.NoIgnores {
		// gate-weakened cannot be ignored: the branch that weakens the
		// gate could otherwise ignore the finding too.
		res.Findings = append(res.Findings, applyConfigIgnores(res.Findings, scanCfg, &opts)...)
	}
	res.Suppressed = finding.CountSuppressed(res.Findings)
	res.Findings = finding.Sort(res.Findings)
	slices.Sort(res.Files)
	res.Files = slices.Compact(res.Files)
	return res, cancelled
}

type rootResult struct {
	dir      string // the root directory as the caller named it
	prefix   string // the root's real directory relative to Options.Base
	files    []string
	findings []finding.Finding
	warnings []string
}

// prefixPaths makes the paths of one root's results start with the root as
// the caller named it, so that a scan of several roots stays unambiguous
// ("a/package-lock.json", "b/package-lock.json").
func (r *rootResult) prefixPaths() {
	r.prefixWith(filepath.ToSlash(filepath.Clean(r.dir)))
}

// prefixWith makes the paths of one root's results start with prefix.
func (r *rootResult) prefixWith(prefix string) {
	if prefix == "." || prefix == "" {
		return
	}
	for i := range r.files {
		r.files[i] = path.Join(prefix, r.files[i])
	}
	for i := range r.findings {
		f := &r.findings[i]
		p := path.Join(prefix, f.Path)
		if f.Rule == unscannedPathRule.ID {
			// The message names the path too: keep it the same as Path.
			if rest, ok := strings.CutPrefix(f.Message, termsafe.String(f.Path)+unscannedSep); ok {
				f.Message = termsafe.String(p) + unscannedSep + rest
			}
		}
		f.Path = p
		if f.Suppressed != nil && f.Suppressed.Kind == finding.SuppressionInSource {
			sup := *f.Suppressed // inline suppressions are one per finding
			sup.Source = path.Join(prefix, sup.Source)
			f.Suppressed = &sup
		}
	}
}

// scanRoot scans one path: a directory tree or a single file. On
// cancellation it returns what was finished with ctx's error.
func scanRoot(ctx context.Context, p string, opts *Options, cfg *config.Scan) (*rootResult, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scan %q: %w", p, ErrNoSuchPath)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, unwrapPath(err))
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("scan %q: %w", p, ErrNotRegular)
	}
	// A directory is its own tree. A single file is named as the user gave
	// it (a link called package-lock.json is a lockfile) and may link
	// anywhere inside its repository.
	dir, base := abs, ""
	if !st.IsDir() {
		dir, base = filepath.Dir(abs), filepath.Base(abs)
	}
	// Resolve a symlinked directory (macOS /tmp, a linked checkout) so that
	// the walk starts inside the real tree.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, unwrapPath(err))
	}
	top := repoTop(dir)
	treeDir := dir
	if !st.IsDir() {
		treeDir = top
	}
	tree, err := treefs.Open(treeDir)
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, err)
	}
	// After a cancellation abandoned workers may still open files through
	// the roots: closing them could let a reused descriptor number stand
	// for another directory, so they are then left to the process's exit.
	defer closeUnlessCancelled(ctx, tree)
	w := newWalker(dir, tree, opts.Parsers)
	if opts.IncludeVendored {
		w.skipNames = nil
	}
	w.exclude = opts.Exclude
	if cfg != nil {
		w.exclude = slices.Concat(opts.Exclude, cfg.Exclude)
	}
	out := &rootResult{dir: p}
	if rel, ok := RelTo(opts.Base, dir); ok {
		out.prefix = rel
	}
	if !st.IsDir() {
		out.dir = filepath.Dir(p)
		w.single(base)
	} else if err := w.walk(ctx); err != nil {
		out.findings = w.unscanned
		return out, err
	}
	out.findings = w.unscanned
	treeRegs, err := newProjectRegistries(ctx, dir, top)
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, err)
	}
	defer closeUnlessCancelled(ctx, treeRegs.tree)
	regs := treeRegs
	if opts.Trust != nil {
		var weak []finding.Finding
		regs, weak = trustedRegistries(w, treeRegs, opts.Trust)
		out.findings = append(out.findings, weak...)
	}
	prefetchDefaults(w, regs, opts)
	all := make([]*file, 0, len(w.locks)+len(w.manifests))
	all = append(all, w.locks...)
	all = append(all, w.manifests...)
	parsed, err := parseAll(ctx, w.tree, all, opts)
	for i, f := range all {
		if !parsed[i] {
			continue
		}
		if f.bad == nil || f.bad.Rule != unscannedPathRule.ID {
			out.files = append(out.files, f.rel) // read, if not parsed
		}
		if f.bad != nil {
			out.findings = append(out.findings, *f.bad)
		}
	}
	if err != nil {
		return out, err
	}
	fs, err := check(ctx, w, regs, treeRegs, opts, cfg)
	out.findings = append(out.findings, fs...)
	out.findings = append(out.findings, treeRegs.findings()...)
	if err != nil {
		return out, err
	}

	ci, done, err := checkCI(ctx, w.tree, w.ci, opts)
	for i, f := range w.ci {
		if done[i] && !f.unread {
			out.files = append(out.files, f.rel)
		}
	}
	out.findings = slices.Concat(out.findings, ci) // one allocation, not a doubling series
	return out, err
}

func closeUnlessCancelled(ctx context.Context, r *treefs.Root) {
	if ctx.Err() == nil {
		r.Close()
	}
}

// prefetchDefaults starts resolving the package managers' default
// registries (which may run `npm config get registry`, a few hundred
// milliseconds) in the background, overlapping parsing, when some lockfile
// has no project-configured default registry and so will probably need
// them. Otherwise they stay lazy: resolved only if a rule asks.
func prefetchDefaults(w *walker, regs *projectRegistries, opts *Options) {
	if opts.Defaults == nil {
		return
	}
	for _, l := range w.locks {
		if !regs.hasDefault(l.dir) {
			opts.Defaults.Prefetch()
			return
		}
	}
}

// parseAll reads and parses files with GOMAXPROCS workers and reports
// which files were finished (all of them unless ctx is cancelled).
// Per-file problems end up in file.bad; only cancellation is an error.
func parseAll(ctx context.Context, tree *treefs.Root, files []*file, opts *Options) ([]bool, error) {
	return forEach(ctx, len(files), func(i int) { parseOne(ctx, tree, files[i], opts) })
}

func parseOne(ctx context.Context, tree *treefs.Root, f *file, opts *Options) {
	data, release, err := loadFile(ctx, tree, f.tree, f.listed, opts.MaxFileSize)
	defer release()
	var se *treefs.SizeError
	switch {
	case errors.As(err, &se):
		bad := unscanned(f.rel, tooLarge(se))
		f.bad = &bad
		return
	case err != nil:
		bad := unscanned(f.rel, readReason(err))
		f.bad = &bad
		return
	}
	err = parseGuarded(f, opts, data)
	if err == nil && f.lock == nil && f.manifest == nil {
		err = errors.New("parser returned nothing")
	}
	if err != nil {
		f.lock, f.manifest = nil, nil
		bad := lockcheck.Unparseable(f.rel, err)
		f.bad = &bad
	}
}

// readReason explains why a file found by the walk could not be read.
// tooLarge is the unscanned-path reason of a file over the size limit:
// not read at all, so nothing in it was checked.
func tooLarge(se *treefs.SizeError) error {
	return fmt.Errorf("it is %d bytes, over the %d-byte limit, and was not read (a lockfile or CI file that large is generated or tampered with)", se.Size, se.Limit)
}

func readReason(err error) error {
	err = unwrapPath(err)
	switch {
	case errors.Is(err, treefs.ErrOutside), errors.Is(err, syscall.ELOOP), errors.Is(err, fs.ErrNotExist):
		return linkReason(err)
	case errors.Is(err, treefs.ErrNotRegular):
		return fmt.Errorf("%w; it was not opened", err)
	}
	return fmt.Errorf("cannot read it: %w", err)
}

// forEach calls fn(i) for every i in [0, n) on GOMAXPROCS goroutines and
// reports which calls finished. When ctx is cancelled it returns at once
// with ctx's error, without waiting for the calls in progress: they go on
// in the background, and the caller must use only the results of calls
// reported finished (done[i] is set after fn(i) returns).
func forEach(ctx context.Context, n int, fn func(i int)) ([]bool, error) {
	done := make([]bool, n)
	if n == 0 {
		return done, ctx.Err()
	}
	finished := make([]atomic.Bool, n)
	var wg sync.WaitGroup
	// One goroutine per call, at most GOMAXPROCS at a time, as errgroup
	// with a limit did: GOMAXPROCS long-lived workers measured 8-13% more
	// CPU on the 2,000-workflow benchmark (interleaved runs), all of it in
	// allocation and GC marking; why fresh goroutines fare better was not
	// pinned down.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	wg.Go(func() {
		for i := range n {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				if ctx.Err() != nil {
					return
				}
				fn(i)
				finished[i].Store(true)
			})
		}
	})
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
	}
	complete := true
	for i := range finished {
		done[i] = finished[i].Load()
		complete = complete && done[i]
	}
	if complete {
		return done, nil
	}
	return done, ctx.Err()
}

// parseGuarded runs the file's parser and turns a parser panic (a bug: parsers
// promise never to panic) into an error, so one hostile file cannot crash
// the scan of the others.
func parseGuarded(f *file, opts *Options, data []byte) (err error) {
	// data may be a file mapping: if the file shrinks under us, reading
	// past its end faults, and this turns the fault into a panic that the
	// recover below reports instead of killing the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser crashed on this input (a buildwall bug, please report it): %v", r)
		}
	}()
	if f.parser != nil {
		f.lock, err = f.parser.Parse(f.rel, data)
	} else {
		f.manifest, err = opts.ParseManifest(f.rel, data)
	}
	return err
}

// unwrapPath drops the absolute path from *fs.PathError so messages stay
// relative to the scan root.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// mapMin is the size from which loadFile maps a file instead of reading
// it; smaller files are cheaper to read. A variable for tests.
var mapMin int64 = 1 << 20

// loadFile returns the contents of the file at rel in tree for parsing,
// failing like treefs.Root.ReadFile. Large files are mapped where the
// platform allows (mapFile), which spares zeroing and copying a 24 MB
// buffer; parsers do not retain their input, so the mapping is released by
// calling release once parsing is done. release is never nil.
func loadFile(ctx context.Context, tree *treefs.Root, rel string, listed bool, limit int64) (data []byte, release func(), err error) {
	release = func() {}
	f, err := openTreeFile(tree, rel, listed)
	if err != nil {
		return nil, release, err
	}
	defer f.Close() // a mapping outlives its descriptor
	if f.Size() > limit {
		return nil, release, &treefs.SizeError{Size: f.Size(), Limit: limit}
	}
	if f.Size() >= mapMin {
		if data, unmap, ok := mapFile(f.Fd(), f.Size()); ok {
			return data, unmap, nil
		}
	}
	data, err = f.ReadAll(ctx, limit)
	return data, release, err
}

// openTreeFile opens rel in tree, with OpenListed when the walk saw it as a
// regular file.
func openTreeFile(tree *treefs.Root, rel string, listed bool) (*treefs.File, error) {
	if listed {
		return tree.OpenListed(rel)
	}
	return tree.Open(rel)
}

// readTreeFile reads rel like treefs.Root.ReadFile, through openTreeFile.
func readTreeFile(ctx context.Context, tree *treefs.Root, rel string, listed bool, limit int64) ([]byte, error) {
	f, err := openTreeFile(tree, rel, listed)
	if err != nil {
		return nil, err
	}
	data, err := f.ReadAll(ctx, limit)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: err}
	}
	return data, nil
}

// parentDir returns the slash directory of a slash path, "." at the top.
func parentDir(p string) string {
	d := path.Dir(p)
	if d == "" {
		return "."
	}
	return d
}

// relTo returns target relative to dir, both slash-separated and relative
// to the same root; ok is false when target is not inside dir.
func relTo(dir, target string) (string, bool) {
	if dir == "." {
		return target, true
	}
	if target == dir {
		return ".", true
	}
	if strings.HasPrefix(target, dir+"/") {
		return target[len(dir)+1:], true
	}
	return "", false
}
