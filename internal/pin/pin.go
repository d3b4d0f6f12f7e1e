// Package pin rewrites mutable references in CI configuration to immutable
// ones: uses: owner/repo[/path]@ref becomes @<40-hex SHA> # <ref>, and
// images (workflow container: and services:, docker:// actions, Dockerfile
// FROM, GitLab image: and services:) gain @sha256:<digest>.
//
// Edits are byte-range splices on the original file at the positions the
// ciconfig parsers report; YAML is never re-serialized, so comments,
// quoting, indentation, line endings and a missing final newline are kept
// byte for byte. Files are written atomically (temporary file + rename,
// file mode kept).
package pin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/buildwall/buildwall/internal/atomicfile"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/resolve"
	"github.com/buildwall/buildwall/internal/termsafe"
	"github.com/buildwall/buildwall/internal/treefs"
)

// Resolver answers what mutable references point at;
// *resolve.Resolver implements it. It must be safe for concurrent use.
type Resolver interface {
	// Commit returns the 40-hex commit SHA of ref in owner/repo.
	Commit(ctx context.Context, owner, repo, ref string) (string, error)
	// Digest returns "sha256:<hex>" for image name at tag ("" = latest).
	Digest(ctx context.Context, name, tag string) (string, error)
}

// Options configure Run.
type Options struct {
	// Paths are the files and directories to pin (directories are walked,
	// skipping .git, node_modules and vendor); empty means ".".
	Paths []string
	// Resolver resolves references; required.
	Resolver Resolver
	// DryRun writes a unified diff to Diff instead of changing files.
	DryRun bool
	Diff   io.Writer
	// Rel turns a file path into the name shown in reports and diffs (nil:
	// the path as found).
	Rel func(path string) string
	// Progress, when set, is called before each reference is resolved
	// (done of total so far) and once more with done == total.
	Progress func(done, total int, what string)
	// Parallel bounds concurrent resolutions (4).
	Parallel int
	// Compromised, when set, is asked about every action reference, first
	// with the ref as written, then with the commit it resolves to; a
	// non-nil answer (wrapping ErrCompromised) leaves the reference
	// unpinned with that error, so that pin never freezes a workflow on a
	// commit the advisory database lists as malicious.
	Compromised func(u ciconfig.Uses, ref string) error
}

// ErrCompromised is wrapped by Options.Compromised's answers.
var ErrCompromised = errors.New("known compromised reference")

// Outcome is what happened to one reference.
type Outcome struct {
	// File is the name Rel gave; Pos where the reference is.
	File string
	Pos  ciconfig.Pos
	// Old is the reference as written; New its pinned form ("" when it
	// was left as it was).
	Old, New string
	// Err says why the reference was left unpinned (nil when pinned).
	Err error
}

// Result lists every reference pin looked at, by file then position.
type Result struct {
	Files    int
	Outcomes []Outcome
	// Changed is how many files were (or, in a dry run, would be) rewritten.
	Changed int
}

// Unpinned counts the references left unpinned.
func (r *Result) Unpinned() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Err != nil {
			n++
		}
	}
	return n
}

// ErrSkipped is wrapped by outcomes of references pin cannot rewrite
// (expressions, variables, escaped values) and files that do not parse.
var ErrSkipped = errors.New("cannot be pinned")

type pinFile struct {
	path, name string
	data       []byte
	refs       []Ref
	results    []string // resolved SHA or digest per ref, "" when failed
	errs       []error
	parseErr   error
}

// maxFile bounds each CI configuration file pin reads (64 MiB).
const maxFile = 64 << 20

// Run finds, resolves and rewrites references. Resolution failures and
// unpinnable references are outcomes, not errors; the error is for I/O
// failures, a missing path and cancellation.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Resolver == nil {
		return nil, errors.New("pin: no resolver")
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	rel := opts.Rel
	if rel == nil {
		rel = func(p string) string { return p }
	}
	paths, err := collect(opts.Paths)
	if err != nil {
		return nil, err
	}
	var files []*pinFile
	total := 0
	for _, p := range paths {
		// Only a regular file, never blocking (a FIFO named like a
		// workflow), bounded.
		data, err := treefs.ReadFile(ctx, p, maxFile)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		f := &pinFile{path: p, name: rel(p), data: data}
		f.refs, f.parseErr = Find(KindOf(filepath.ToSlash(p)), data)
		f.results = make([]string, len(f.refs))
		f.errs = make([]error, len(f.refs))
		total += len(f.refs)
		files = append(files, f)
	}
	if err := resolveAll(ctx, opts, files, total); err != nil {
		return nil, err
	}
	res := &Result{Files: len(files)}
	for _, f := range files {
		if err := finish(opts, f, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func resolveAll(ctx context.Context, opts Options, files []*pinFile, total int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	done := 0
	var progress func(string)
	if opts.Progress != nil {
		ch := make(chan string)
		fin := make(chan struct{})
		go func() {
			for what := range ch {
				opts.Progress(done, total, what)
				done++
			}
			opts.Progress(total, total, "")
			close(fin)
		}()
		progress = func(s string) { ch <- s }
		defer func() { close(ch); <-fin }()
	}
	for _, f := range files {
		for i := range f.refs {
			r := &f.refs[i]
			if r.Skip != "" {
				f.errs[i] = fmt.Errorf("%w: %s", ErrSkipped, r.Skip)
				continue
			}
			g.Go(func() error {
				if progress != nil {
					progress(r.Text)
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				var err error
				switch {
				case r.Kind == ActionRef:
					// Checked here too (the Resolver is an interface), with
					// the path, which Commit does not see.
					if err = resolve.ValidateUses(r.Uses.Owner, r.Uses.Repo, r.Uses.Path, r.Uses.Ref); err == nil {
						err = compromised(opts, r.Uses, r.Uses.Ref)
					}
					if err == nil {
						f.results[i], err = opts.Resolver.Commit(gctx, r.Uses.Owner, r.Uses.Repo, r.Uses.Ref)
						if err == nil {
							err = compromised(opts, r.Uses, f.results[i])
						}
					}
				default:
					f.results[i], err = opts.Resolver.Digest(gctx, r.Image.Name, r.Image.Tag)
				}
				f.errs[i] = err
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func compromised(opts Options, u ciconfig.Uses, ref string) error {
	if opts.Compromised == nil {
		return nil
	}
	return opts.Compromised(u, ref)
}

// finish rewrites (or diffs) one file and records its outcomes.
func finish(opts Options, f *pinFile, res *Result) error {
	if f.parseErr != nil {
		res.Outcomes = append(res.Outcomes, Outcome{File: f.name, Err: fmt.Errorf("%w: parse: %w", ErrSkipped, f.parseErr)})
		var pe *ciconfig.ParseError
		if errors.As(f.parseErr, &pe) {
			res.Outcomes[len(res.Outcomes)-1].Pos = pe.Pos
		}
	}
	var ss []splice
	for i := range f.refs {
		r := &f.refs[i]
		o := Outcome{File: f.name, Pos: r.Pos, Old: r.Text, Err: f.errs[i]}
		if o.Err == nil {
			var add []splice
			if r.Kind == ActionRef {
				add = actionSplices(f.data, r, f.results[i])
			} else {
				add = []splice{imageSplice(r, f.results[i])}
			}
			ss = append(ss, add...)
			o.New = string(apply(f.data[r.start:r.end], shift(add[:1], r.start)))
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	if len(ss) == 0 {
		return nil
	}
	out := apply(f.data, ss)
	res.Changed++
	if opts.DryRun {
		if opts.Diff == nil {
			return nil
		}
		return writeDiff(opts.Diff, filepath.ToSlash(f.name), f.data, out)
	}
	return writeAtomic(f.path, out)
}

// shift moves splices so they apply to a slice starting at base.
func shift(ss []splice, base int) []splice {
	out := make([]splice, len(ss))
	for i, s := range ss {
		out[i] = splice{start: s.start - base, end: s.end - base, text: s.text}
	}
	return out
}

// collect expands the paths to the CI files under them, sorted.
func collect(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []string
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("pin %s: %w", root, err)
		}
		if !st.IsDir() {
			out = append(out, root) // named explicitly: its kind comes from its name
			continue
		}
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "vendor") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && KindOf(filepath.ToSlash(p)) != NotCI {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", root, err)
		}
	}
	sort.Strings(out)
	return dedupe(out), nil
}

func dedupe(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// writeAtomic replaces path with data through a synced temporary file in
// the same directory, keeping the file's mode (atomicfile).
func writeAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

// maxReason bounds the reason String prints for an unpinned reference.
const maxReason = 1024

// String renders an outcome as "file:line:col: old -> new" or
// "file:line:col: old left unpinned: reason", every part from the file or a
// server escaped (termsafe), so the line is safe to print in a CI log.
func (o Outcome) String() string {
	loc := termsafe.String(o.File)
	if o.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", loc, o.Pos.Line, o.Pos.Column)
	}
	if o.Err != nil {
		msg := o.Err.Error()
		if len(msg) > maxReason {
			// Redirect targets and realms come from servers; the resolver
			// cuts bodies, this cuts whatever else a message quotes.
			msg = strings.ToValidUTF8(msg[:maxReason], "") + "…"
		}
		if o.Old == "" {
			return loc + ": " + termsafe.String(msg)
		}
		return fmt.Sprintf("%s: %s left unpinned: %s", loc, termsafe.String(o.Old), termsafe.String(msg))
	}
	return fmt.Sprintf("%s: %s -> %s", loc, termsafe.String(o.Old), termsafe.String(strings.TrimSpace(o.New)))
}
