package trust

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// Errors Open may wrap.
var (
	// ErrBadRef: the revision name is not one Open accepts (it could be
	// read as an option, or holds characters no branch or tag name needs).
	ErrBadRef = errors.New("invalid revision name")
	// ErrNotRepository: the directory is not inside a git work tree (or git
	// refuses it, e.g. for dubious ownership).
	ErrNotRepository = errors.New("not a git repository")
	// ErrUnknownRef: the revision does not name a commit of the repository
	// (absent from a shallow clone, misspelt, not fetched).
	ErrUnknownRef = errors.New("unknown revision")
	// ErrNoGit: no git executable was found.
	ErrNoGit = errors.New("git not found")
)

// Limits of what Open reads from git.
const (
	// DefaultTimeout bounds each git command.
	DefaultTimeout = 30 * time.Second
	// maxRefLen bounds a revision name.
	maxRefLen = 256
	// maxStderr bounds the git error output kept for messages.
	maxStderr = 4 << 10
)

// Revision is one commit of a git repository whose configuration files are
// trusted (the base branch of a pull request). It reads them with git's
// plumbing commands, never through the work tree, so the branch under scan
// cannot change what it returns. Safe for concurrent use.
type Revision struct {
	// Ref is the revision as the user named it ("origin/main").
	Ref string
	// Commit is the full object name Ref resolved to.
	Commit string
	// Top is the absolute, symlink-resolved top directory of the work tree.
	Top string

	git     string
	timeout time.Duration
	// files maps slash paths (relative to Top) of the revision's entries
	// whose base name was asked for to their mode and object name.
	files map[string]entry
}

type entry struct {
	mode, object string
}

// commandTimeout bounds each git command (a variable for tests).
var commandTimeout = DefaultTimeout

// maxEntries bounds the configuration files listed from a revision (a
// variable for tests).
var maxEntries = 100_000

// CheckRef reports whether ref is a revision name Open accepts: not empty,
// at most 256 bytes, not starting with "-" (git would read it as an
// option, e.g. --upload-pack=...), and made only of letters, digits and
// ". _ / @ { } ~ ^ -" (branch and tag names, object names, origin/main,
// HEAD~1). The error wraps ErrBadRef.
func CheckRef(ref string) error {
	switch {
	case ref == "":
		return fmt.Errorf("%w: empty", ErrBadRef)
	case len(ref) > maxRefLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadRef, maxRefLen)
	case ref[0] == '-':
		return fmt.Errorf("%w %q: must not start with '-'", ErrBadRef, termsafe.String(ref))
	}
	for _, c := range ref {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._/@{}~^-", c)
		if !ok {
			return fmt.Errorf("%w %q: character %q is not allowed", ErrBadRef, termsafe.String(ref), c)
		}
	}
	return nil
}

// Open resolves ref to a commit of the git repository that holds dir and
// lists the revision's regular files whose base name is in names (every
// directory), so that ReadFile can read them. Each git command is bounded by
// DefaultTimeout and by ctx. Errors wrap ErrBadRef, ErrNoGit,
// ErrNotRepository or ErrUnknownRef, with git's own message.
func Open(ctx context.Context, dir, ref string, names []string) (*Revision, error) {
	if err := CheckRef(ref); err != nil {
		return nil, err
	}
	exe, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGit, err)
	}
	r := &Revision{Ref: ref, git: exe, timeout: commandTimeout}
	var out bytes.Buffer
	if err := r.run(ctx, dir, &out, 1<<12, "rev-parse", "--show-toplevel"); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrNotRepository, termsafe.String(dir), err)
	}
	top := strings.TrimSuffix(out.String(), "\n")
	if top, err = r.superproject(ctx, top); err != nil {
		return nil, err
	}
	if top, err = filepath.EvalSymlinks(top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRepository, err)
	}
	r.Top = top
	out.Reset()
	// --end-of-options: whatever ref is, git reads it as a revision.
	if err := r.run(ctx, top, &out, 1<<12, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}"); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%w %q in %s (fetch it first; a shallow clone has only the checked-out commit)", ErrUnknownRef, ref, termsafe.String(top))
	}
	r.Commit = strings.TrimSpace(out.String())
	if r.files, err = r.list(ctx, names); err != nil {
		return nil, err
	}
	return r, nil
}

// maxSubmoduleDepth bounds the submodules nested around a directory.
const maxSubmoduleDepth = 16

// superproject returns the work tree of the outermost repository that
// holds top as a submodule, or top itself. A submodule's revisions (and
// its origin) are not the repository's: a branch that turns the scanned
// or built directory into a submodule of its own must not pick the
// trusted revision from it.
func (r *Revision) superproject(ctx context.Context, top string) (string, error) {
	for range maxSubmoduleDepth {
		var out bytes.Buffer
		if err := r.run(ctx, top, &out, 1<<12, "rev-parse", "--show-superproject-working-tree"); err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrNotRepository, termsafe.String(top), err)
		}
		super := strings.TrimSuffix(out.String(), "\n")
		if super == "" {
			return top, nil
		}
		top = super
	}
	return "", fmt.Errorf("%w: %s: submodules nested more than %d deep", ErrNotRepository, termsafe.String(top), maxSubmoduleDepth)
}

// list reads `git ls-tree -r -z` of the commit as a stream, keeping the
// entries whose base name is in names.
func (r *Revision) list(ctx context.Context, names []string) (map[string]entry, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	files := map[string]entry{}
	pr, pw := io.Pipe()
	var parseErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		sc.Split(splitNUL)
		for sc.Scan() {
			// "<mode> SP <type> SP <object> TAB <path>"
			meta, p, ok := strings.Cut(sc.Text(), "\t")
			if !ok || !want[path.Base(p)] {
				continue
			}
			f := strings.Fields(meta)
			if len(f) != 3 {
				continue
			}
			if len(files) >= maxEntries {
				parseErr = fmt.Errorf("list %s: more than %d configuration files", r.Ref, maxEntries)
				break
			}
			files[p] = entry{mode: f[0], object: f[2]}
		}
		if parseErr == nil {
			parseErr = sc.Err()
		}
		// Stops git if the listing was abandoned early.
		pr.CloseWithError(errStopped)
	}()
	err := r.run(ctx, r.Top, pw, -1, "ls-tree", "-r", "-z", "--full-tree", r.Commit)
	pw.Close()
	<-done
	// A listing stopped early makes git fail too: report why it stopped.
	if parseErr != nil {
		return nil, fmt.Errorf("list files of %s: %w", r.Ref, parseErr)
	}
	if err != nil {
		return nil, fmt.Errorf("list files of %s: %w", r.Ref, err)
	}
	return files, nil
}

func splitNUL(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Has reports whether the revision holds a file at the slash path rel
// (relative to Top) among the names Open listed.
func (r *Revision) Has(rel string) bool {
	_, ok := r.files[rel]
	return ok
}

// FindUp returns the nearest file called name in the slash directory dir
// (relative to Top, "." for the top) or one of its ancestors up to the top;
// ok is false when there is none. name must be one Open listed.
func (r *Revision) FindUp(dir, name string) (rel string, ok bool) {
	for {
		p := path.Join(dir, name)
		if r.Has(p) {
			return p, true
		}
		if dir == "." || dir == "/" || dir == "" {
			return "", false
		}
		dir = path.Dir(dir)
	}
}

// ReadFile returns the content of the file at the slash path rel (relative
// to Top) in the revision, failing when it holds more than limit bytes. A
// path the revision does not hold (or that Open did not list) wraps
// fs.ErrNotExist; a symbolic link or submodule is an error, never followed.
func (r *Revision) ReadFile(ctx context.Context, rel string, limit int64) ([]byte, error) {
	e, ok := r.files[rel]
	if !ok {
		return nil, fmt.Errorf("read %s:%s: %w", r.Ref, rel, fs.ErrNotExist)
	}
	if e.mode != "100644" && e.mode != "100755" {
		return nil, fmt.Errorf("read %s:%s: not a regular file (mode %s)", r.Ref, rel, e.mode)
	}
	var out bytes.Buffer
	if err := r.run(ctx, r.Top, &out, limit, "cat-file", "blob", e.object); err != nil {
		return nil, fmt.Errorf("read %s:%s: %w", r.Ref, rel, err)
	}
	return out.Bytes(), nil
}

var (
	// errTooLarge is returned by run when the output exceeds its limit.
	errTooLarge = errors.New("output too large")
	errStopped  = errors.New("listing stopped")
)

// run runs git with args in dir, writing at most limit bytes (no bound
// when limit < 0) of its standard output to stdout. No shell is involved;
// the environment cannot redirect git to another repository.
func (r *Revision) run(ctx context.Context, dir string, stdout io.Writer, limit int64, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// --no-replace-objects (and GIT_NO_REPLACE_OBJECTS in gitEnv): a
	// refs/replace/* planted by a build step must not swap the base's
	// blobs or trees. Grafts only change commit parents, never the tree
	// a ref names, and GIT_GRAFT_FILE is dropped from the environment.
	cmd := exec.CommandContext(ctx, r.git, append([]string{"--no-replace-objects", "-C", dir}, args...)...)
	cmd.Env = gitEnv(os.Environ())
	cmd.WaitDelay = 250 * time.Millisecond // a child still holding the pipes
	lw := &limitWriter{w: stdout, left: limit}
	cmd.Stdout = lw
	stderr := &capWriter{max: maxStderr}
	cmd.Stderr = stderr
	err := cmd.Run()
	switch {
	case lw.over:
		return fmt.Errorf("git %s: %w (more than %d bytes)", args[0], errTooLarge, limit)
	case ctx.Err() != nil:
		return fmt.Errorf("git %s: %w", args[0], ctx.Err())
	case err != nil:
		msg := strings.TrimSpace(stderr.b.String())
		if msg == "" {
			return fmt.Errorf("git %s: %w", args[0], err)
		}
		return fmt.Errorf("git %s: %s", args[0], termsafe.String(firstLine(msg)))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// gitEnv is the environment for git: the caller's, without the variables
// that would point git at another repository or object store, with
// prompts off, no optional locks and no replace objects (which could make
// a trusted path read another blob).
func gitEnv(env []string) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMON_DIR",
			"GIT_REPLACE_REF_BASE", "GIT_TERMINAL_PROMPT", "GIT_OPTIONAL_LOCKS",
			"GIT_NO_REPLACE_OBJECTS", "GIT_GRAFT_FILE", "GIT_CONFIG_PARAMETERS",
			"GIT_CONFIG_COUNT", "LC_ALL":
			continue
		}
		if strings.HasPrefix(k, "GIT_CONFIG_KEY_") || strings.HasPrefix(k, "GIT_CONFIG_VALUE_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "GIT_NO_REPLACE_OBJECTS=1", "LC_ALL=C")
}

// limitWriter passes through at most left bytes (all when left < 0) and
// then fails, which stops the command.
type limitWriter struct {
	w    io.Writer
	left int64
	over bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left < 0 {
		return l.w.Write(p)
	}
	if int64(len(p)) > l.left {
		l.over = true
		return 0, errTooLarge
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// capWriter keeps the first max bytes written to it and discards the rest.
type capWriter struct {
	b   bytes.Buffer
	max int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
