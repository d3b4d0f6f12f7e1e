package scan

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/treefs"
)

// ciKind is one kind of CI configuration file: how to recognize it and how
// to parse and check it. Owners of further kinds (Dockerfile, GitLab CI)
// add an entry to ciKinds.
type ciKind struct {
	name string
	// match reports whether the file at slash path p (absolute, so that a
	// scan rooted inside .github/workflows still knows where it is) with
	// base name base is of this kind.
	match func(p, base string) bool
	// check parses data and runs the rules; a parse error becomes an
	// unparseable-config finding, never an error.
	check func(c *cicheck.Context, data []byte) []finding.Finding
}

// ciKinds is the explicit list of CI configuration kinds scan looks for,
// tried in order; the first match wins.
var ciKinds = []ciKind{
	{name: "workflow", match: isWorkflowPath, check: checkWorkflow},
	{name: "action", match: isActionPath, check: checkAction},
	{name: "dockerfile", match: isDockerfilePath, check: checkDockerfile},
	{name: "gitlab-ci", match: isGitLabCIPath, check: checkGitLabCI},
}

// ciFile is one CI configuration file to check.
type ciFile struct {
	tree, rel string // relative to the walker's tree and root
	abs       string // absolute OS path
	listed    bool   // a regular file in its directory's listing
	unread    bool   // could not be read: reported unscanned-path
	kind      *ciKind
	findings  []finding.Finding
}

// isWorkflowPath: .github/workflows/*.yml|yaml (GitHub ignores
// subdirectories of workflows/).
func isWorkflowPath(p, base string) bool {
	if !strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".yaml") {
		return false
	}
	return strings.HasSuffix(path.Dir(p), "/.github/workflows") || path.Dir(p) == ".github/workflows"
}

// isActionPath: action.yml|yaml anywhere (local composite and Docker
// actions).
func isActionPath(_, base string) bool {
	return base == "action.yml" || base == "action.yaml"
}

// isDockerfilePath: Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*
// and Containerfile.* (but not Dockerfile.dockerignore).
func isDockerfilePath(_, base string) bool {
	switch {
	case base == "Dockerfile" || base == "Containerfile" || strings.HasSuffix(base, ".Dockerfile"):
		return true
	case strings.HasSuffix(base, ".dockerignore"):
		return false
	}
	return strings.HasPrefix(base, "Dockerfile.") || strings.HasPrefix(base, "Containerfile.")
}

// isGitLabCIPath: .gitlab-ci.yml anywhere, and *.gitlab-ci.yml (the usual
// name of files it includes).
func isGitLabCIPath(_, base string) bool {
	return strings.HasSuffix(base, ".gitlab-ci.yml")
}

func checkDockerfile(c *cicheck.Context, data []byte) []finding.Finding {
	d, err := ciconfig.ParseDockerfile(data)
	if err != nil {
		return []finding.Finding{cicheck.Unparseable(c.Path, err)}
	}
	return cicheck.CheckDockerfile(c, d)
}

func checkGitLabCI(c *cicheck.Context, data []byte) []finding.Finding {
	g, err := ciconfig.ParseGitLabCI(data)
	var out []finding.Finding
	if err != nil {
		out = append(out, cicheck.Unparseable(c.Path, err))
	}
	if g != nil {
		out = append(out, cicheck.CheckGitLab(c, g)...)
	}
	return out
}

func checkWorkflow(c *cicheck.Context, data []byte) []finding.Finding {
	w, err := ciconfig.ParseWorkflow(data)
	var out []finding.Finding
	if err != nil {
		out = append(out, cicheck.Unparseable(c.Path, err))
	}
	if w != nil {
		out = append(out, cicheck.CheckWorkflow(c, w)...)
	}
	return out
}

func checkAction(c *cicheck.Context, data []byte) []finding.Finding {
	a, err := ciconfig.ParseAction(data)
	var out []finding.Finding
	if err != nil {
		out = append(out, cicheck.Unparseable(c.Path, err))
	}
	if a != nil {
		out = append(out, cicheck.CheckAction(c, a)...)
	}
	return out
}

// ciKind returns the kind of CI configuration file rel is, nil for none.
func (w *walker) ciKind(rel, base string) *ciKind {
	abs := path.Join(filepath.ToSlash(w.root), rel)
	for i := range ciKinds {
		if ciKinds[i].match(abs, base) {
			return &ciKinds[i]
		}
	}
	return nil
}

// addCI records rel when it is a CI configuration file and reports whether
// it was one.
func (w *walker) addCI(rel, base string, listed bool) bool {
	k := w.ciKind(rel, base)
	if k != nil {
		w.ci = append(w.ci, &ciFile{tree: w.treePath(rel), rel: rel, abs: filepath.Join(w.root, filepath.FromSlash(rel)), listed: listed, kind: k})
	}
	return k != nil
}

// ciGCPercent is the GC target once CI files are checked. Parsing
// allocates garbage per workflow (about 95 kB since the fast YAML front
// end, 200 kB before), so the live heap stays small and the default target
// (100) collects often; a higher target trades collections for fresh heap
// pages, and past about 200 the page faults cost more than the collections
// saved (2,000 workflows, five interleaved runs each, median wall / CPU:
// GOGC 100 0.47 s / 0.77 s, 200 0.47 s / 0.79 s, 400 0.54 s / 0.90 s, off
// 0.86 s / 1.44 s with 52,000 minor faults). Before the fast front end the
// best target was 400 (2.85 s -> 2.11 s user+sys at the time).
//
// The target is left raised when checkCI returns: putting 100 back with
// 36,000 findings live forces a collection at once and more during the
// report. Run serves the short-lived `buildwall scan` process, so that is
// the process's target from then on.
const ciGCPercent = 200

// raiseGC raises the GC target to ciGCPercent, unless GOGC is set in the
// environment or the target is already higher or off.
func raiseGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	if old := debug.SetGCPercent(ciGCPercent); old < 0 || old > ciGCPercent {
		debug.SetGCPercent(old)
	}
}

// checkCI reads, parses and checks the CI files with GOMAXPROCS workers
// and returns their findings in file order and which files were finished
// (all unless ctx is cancelled). Only cancellation is an error. It raises
// the GC target for the rest of the process (raiseGC).
func checkCI(ctx context.Context, tree *treefs.Root, files []*ciFile, opts *Options) ([]finding.Finding, []bool, error) {
	if len(files) == 0 {
		return nil, nil, ctx.Err()
	}
	raiseGC()
	done, err := forEach(ctx, len(files), func(i int) {
		files[i].findings = checkCIFile(ctx, tree, files[i], opts)
	})
	n := 0
	for i, f := range files {
		if done[i] {
			n += len(f.findings)
		}
	}
	out := make([]finding.Finding, 0, n)
	for i, f := range files {
		if done[i] {
			out = append(out, f.findings...)
			f.findings = nil
		}
	}
	return out, done, err
}

func checkCIFile(ctx context.Context, tree *treefs.Root, f *ciFile, opts *Options) []finding.Finding {
	data, err := readTreeFile(ctx, tree, f.tree, f.listed, opts.MaxFileSize)
	var se *treefs.SizeError
	switch {
	case errors.As(err, &se):
		return []finding.Finding{cicheck.Unparseable(f.rel, se)}
	case err != nil:
		f.unread = true
		return []finding.Finding{unscanned(f.rel, readReason(err))}
	}
	c := &cicheck.Context{Path: f.rel}
	if opts.Advisories != nil {
		c.Advisories = opts.Advisories
	}
	fs := f.kind.check(c, data)
	if s := readInline(f.rel, f.abs, data, opts); s != nil {
		for i := range fs {
			s.mark(&fs[i])
		}
		fs = append(fs, s.findings()...)
	}
	return fs
}
