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
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile"
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
// Paths are relative to the scan root; when several roots are scanned they
// are prefixed with the root as given, so that they stay distinct.
type Result struct {
	// Roots are the scan roots as given.
	Roots []string
	// Files are the lockfiles, manifests and CI files scanned, slash-separated and
	// relative to their root, sorted.
	Files []string
	// Findings exclude those suppressed by configuration ignores.
	Findings []finding.Finding
	// Suppressed counts findings dropped by configuration ignores.
	Suppressed int
	// Rules is the metadata of every rule that ran.
	Rules []finding.Rule
	// Warnings are problems that did not produce a finding (an unreadable
	// directory), for the user's attention.
	Warnings []string
}

// Errors wrapped by Run's error for a path that cannot be scanned.
var (
	ErrNoSuchPath = errors.New("no such file or directory")
	ErrNotRegular = errors.New("not a directory or regular file")
)

// file is one lockfile or manifest to parse.
type file struct {
	abs    string // absolute OS path
	rel    string // slash-separated, relative to the root
	dir    string // slash-separated directory of rel ("." at the root)
	parser lockfile.Parser
	// outputs
	lock     *lockfile.Lockfile
	manifest *lockfile.Manifest
	bad      *finding.Finding // unparseable or too large
}

// Run scans opts.Paths. It returns an error only when a path cannot be
// scanned at all (ErrNoSuchPath, ErrNotRegular) or ctx is cancelled;
// problems with individual files are findings.
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
	res := &Result{Roots: opts.Paths, Rules: slices.Concat(lockcheck.Metadata(), cicheck.Metadata(), trust.Metadata()), Findings: []finding.Finding{}}
	var scanCfg *config.Scan
	if opts.Config != nil {
		scanCfg = &opts.Config.Scan
	}
	for _, p := range opts.Paths {
		r, err := scanRoot(ctx, p, &opts, scanCfg)
		if err != nil {
			return nil, err
		}
		if len(opts.Paths) > 1 {
			r.prefixPaths()
		}
		res.Files = append(res.Files, r.files...)
		if len(res.Findings) == 0 && r.findings != nil {
			res.Findings = r.findings // the common single root: no copy
		} else {
			res.Findings = append(res.Findings, r.findings...)
		}
		res.Warnings = append(res.Warnings, r.warnings...)
	}
	if scanCfg != nil {
		// gate-weakened cannot be ignored: the branch that weakens the
		// gate could otherwise ignore the finding too.
		kept, rest := trust.Split(res.Findings)
		rest, res.Suppressed = scanCfg.Filter(rest)
		res.Findings = append(rest, kept...)
	}
	res.Findings = finding.Sort(res.Findings)
	slices.Sort(res.Files)
	res.Files = slices.Compact(res.Files)
	return res, nil
}

type rootResult struct {
	dir      string // the root directory as the caller named it
	files    []string
	findings []finding.Finding
	warnings []string
}

// prefixPaths makes the paths of one root's results start with the root as
// the caller named it, so that a scan of several roots stays unambiguous
// ("a/package-lock.json", "b/package-lock.json").
func (r *rootResult) prefixPaths() {
	prefix := filepath.ToSlash(filepath.Clean(r.dir))
	if prefix == "." {
		return
	}
	for i := range r.files {
		r.files[i] = path.Join(prefix, r.files[i])
	}
	for i := range r.findings {
		r.findings[i].Path = path.Join(prefix, r.findings[i].Path)
	}
}

// scanRoot scans one path: a directory tree or a single file.
func scanRoot(ctx context.Context, p string, opts *Options, cfg *config.Scan) (*rootResult, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, err)
	}
	// Resolve a symlinked root (macOS /tmp, a linked checkout) so that the
	// walk, which never follows links, starts inside the real tree.
	abs, err = filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scan %q: %w", p, ErrNoSuchPath)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, unwrapPath(err))
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("scan %q: %w", p, unwrapPath(err))
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("scan %q: %w", p, ErrNotRegular)
	}
	w := &walker{root: abs, parsers: opts.Parsers}
	if st.IsDir() {
		if err := w.walk(ctx); err != nil {
			return nil, err
		}
	} else {
		w.root = filepath.Dir(abs)
		w.single(filepath.Base(abs))
	}
	out := &rootResult{dir: p, warnings: w.warnings}
	if !st.IsDir() {
		out.dir = filepath.Dir(p)
	}
	regs := newProjectRegistries(w.root)
	if opts.Trust != nil {
		var weak []finding.Finding
		regs, weak = trustedRegistries(w, regs, opts.Trust)
		out.findings = append(out.findings, weak...)
	}
	prefetchDefaults(w, regs, opts)
	all := make([]*file, 0, len(w.locks)+len(w.manifests))
	all = append(all, w.locks...)
	all = append(all, w.manifests...)
	if err := parseAll(ctx, all, opts); err != nil {
		return nil, err
	}
	for _, f := range all {
		out.files = append(out.files, f.rel)
		if f.bad != nil {
			out.findings = append(out.findings, *f.bad)
		}
	}
	fs, err := check(ctx, w, regs, opts, cfg)
	if err != nil {
		return nil, err
	}
	out.findings = append(out.findings, fs...)
	ci, err := checkCI(ctx, w.ci, opts)
	if err != nil {
		return nil, err
	}
	for _, f := range w.ci {
		out.files = append(out.files, f.rel)
	}
	out.findings = slices.Concat(out.findings, ci) // one allocation, not a doubling series
	return out, nil
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

// parseAll reads and parses files with GOMAXPROCS workers. Per-file
// problems end up in file.bad; only cancellation is an error.
func parseAll(ctx context.Context, files []*file, opts *Options) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, f := range files {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			parseOne(f, opts)
			return nil
		})
	}
	return g.Wait()
}

func parseOne(f *file, opts *Options) {
	data, size, release, err := loadFile(f.abs, opts.MaxFileSize)
	defer release()
	switch {
	case errors.Is(err, errTooLarge):
		bad := lockcheck.TooLarge(f.rel, size, opts.MaxFileSize)
		f.bad = &bad
		return
	case err != nil:
		bad := lockcheck.Unparseable(f.rel, fmt.Errorf("read: %w", unwrapPath(err)))
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

var errTooLarge = errors.New("file too large")

// mapMin is the size from which loadFile maps a file instead of reading
// it; smaller files are cheaper to read. A variable for tests.
var mapMin int64 = 1 << 20

// loadFile returns the contents of the file at path for parsing, failing
// like readLimited. Large files are mapped where the platform allows
// (mapFile), which spares zeroing and copying a 24 MB buffer; parsers do not
// retain their input, so the mapping is released by calling release once
// parsing is done. release is never nil.
func loadFile(path string, limit int64) (data []byte, size int64, release func(), err error) {
	release = func() {}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, release, err
	}
	defer f.Close() // a mapping outlives its descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, 0, release, err
	}
	if st.Size() > limit {
		return nil, st.Size(), release, errTooLarge
	}
	if st.Mode().IsRegular() && st.Size() >= mapMin {
		if data, unmap, ok := mapFile(f, st.Size()); ok {
			return data, st.Size(), unmap, nil
		}
	}
	data, size, err = readOpen(f, st.Size(), limit)
	return data, size, release, err
}

// readLimited reads the file at path, failing with errTooLarge (and the
// size seen) when it holds more than limit bytes.
func readLimited(path string, limit int64) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if st.Size() > limit {
		return nil, st.Size(), errTooLarge
	}
	return readOpen(f, st.Size(), limit)
}

// readOpen reads f, whose size stat reported, failing with errTooLarge
// past limit.
func readOpen(f *os.File, size, limit int64) ([]byte, int64, error) {
	// Size the buffer from stat so a 24 MB lockfile is read in one go; read
	// one byte past the limit to catch files that grew meanwhile.
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 64<<10)
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, int64(len(buf)), errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return buf, int64(len(buf)), nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
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
