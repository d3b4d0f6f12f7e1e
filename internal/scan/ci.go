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
	// calls are the local actions the file runs with untrusted inputs.
	calls []cicheck.LocalCall
	// info is the workflow's name and triggers (nil for other files).
	info *cicheck.WorkflowInfo
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
	if err == nil {
		recheckWorkflowRuns(ctx, tree, files, opts)
		traceLocalActions(ctx, tree, files, opts)
	}
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
		f.unread = true
		return []finding.Finding{unscanned(f.rel, tooLarge(se))}
	case err != nil:
		f.unread = true
		return []finding.Finding{unscanned(f.rel, readReason(err))}
	}
	c := &cicheck.Context{Path: f.rel}
	if opts.Advisories != nil {
		c.Advisories = opts.Advisories
	}
	fs := f.kind.check(c, data)
	f.calls = c.Calls
	f.info = c.Info
	return markInline(f, data, fs, opts)
}

// markInline applies the file's inline ignore comments to fs and adds the
// findings about the comments themselves.
func markInline(f *ciFile, data []byte, fs []finding.Finding, opts *Options) []finding.Finding {
	if s := readInline(f.rel, f.abs, data, opts); s != nil {
		for i := range fs {
			s.mark(&fs[i])
		}
		fs = append(fs, s.findings()...)
	}
	return fs
}

// recheckWorkflowRuns checks each workflow that runs on workflow_run again
// once the names and triggers of every workflow are known, so that
// dangerous-trigger can tell whether its upstream workflows run on pull
// requests. Only those files are read twice.
func recheckWorkflowRuns(ctx context.Context, tree *treefs.Root, files []*ciFile, opts *Options) {
	var again []*ciFile
	for _, f := range files {
		if f.info != nil && f.info.NeedsWorkflows {
			again = append(again, f)
		}
	}
	if len(again) == 0 {
		return
	}
	workflows := map[string][]string{}
	for _, f := range files {
		if f.info != nil {
			// Workflows sharing a name all match the filter.
			workflows[f.info.Name] = append(workflows[f.info.Name], f.info.Events...)
		}
	}
	for _, f := range again {
		if f.unread {
			continue // the first check reported it
		}
		data, err := readTreeFile(ctx, tree, f.tree, f.listed, opts.MaxFileSize)
		if err != nil {
			continue // the first check reported it
		}
		c := &cicheck.Context{Path: f.rel, Workflows: workflows}
		if opts.Advisories != nil {
			c.Advisories = opts.Advisories
		}
		f.findings = markInline(f, data, f.kind.check(c, data), opts)
		f.calls = c.Calls
	}
}

// traceLocalActions follows untrusted values that workflows and actions
// pass to local actions (uses: ./dir) and to reusable workflows in the
// repository (jobs' uses: ./.github/workflows/x.yml), relative to the
// scan root, which is taken as the repository root, into the callee's
// steps, and adds the template-injection findings that result to the
// callee's file (or raises the severity of one it has). A callee that
// passes the values on is followed in turn, up to maxTraceDepth levels;
// each callee is traced again only when its callers add inputs, with the
// inputs of all of them.
func traceLocalActions(ctx context.Context, tree *treefs.Root, files []*ciFile, opts *Options) {
	byFile := map[string]map[string]string{} // callee's rel path -> inputs
	callees := map[string]*ciFile{}
	for _, f := range files {
		switch f.kind.name {
		case "action":
			callees["action:"+path.Dir(f.rel)] = f
		case "workflow":
			callees["workflow:"+f.rel] = f
		}
	}
	addCalls := func(calls []cicheck.LocalCall) {
		for _, call := range calls {
			key := "action:" + call.Dir
			if call.Workflow != "" {
				key = "workflow:" + call.Workflow
			}
			in := byFile[key]
			if in == nil {
				in = map[string]string{}
				byFile[key] = in
			}
			for name, from := range call.Inputs {
				if _, ok := in[name]; !ok {
					in[name] = from
				}
			}
		}
	}
	for _, f := range files {
		addCalls(f.calls)
		f.calls = nil
	}
	traced := map[string]int{} // inputs traced so far, per callee
	for depth := 0; depth < maxTraceDepth && len(byFile) > 0; depth++ {
		calls := byFile
		byFile = map[string]map[string]string{}
		for key, inputs := range calls {
			f := callees[key]
			if f == nil || traced[key] >= len(inputs) {
				continue // not scanned, or nothing new to trace
			}
			traced[key] = len(inputs)
			if f.unread {
				continue // reported by the file's own check
			}
			data, err := readTreeFile(ctx, tree, f.tree, f.listed, opts.MaxFileSize)
			if err != nil {
				continue // reported by the file's own check
			}
			c := &cicheck.Context{Path: f.rel, ActionInputs: inputs}
			var fs []finding.Finding
			if f.kind.name == "workflow" {
				if w, _ := ciconfig.ParseWorkflow(data); w != nil {
					fs = cicheck.TraceWorkflow(c, w)
				}
			} else if a, _ := ciconfig.ParseAction(data); a != nil {
				fs = cicheck.TraceAction(c, a)
			}
			if sup := readInline(f.rel, f.abs, data, opts); sup != nil {
				for i := range fs {
					sup.mark(&fs[i])
				}
			}
			f.findings = mergeTraced(f.findings, fs)
			addCalls(c.Calls)
		}
	}
}

// maxTraceDepth bounds how many levels of local callees calling local
// callees traceLocalActions follows.
const maxTraceDepth = 4

// mergeTraced adds the findings of add to fs: one of the same rule at the
// same position replaces the one in fs when it is more severe, else it is
// dropped; the others are appended.
func mergeTraced(fs, add []finding.Finding) []finding.Finding {
	type key struct {
		rule      string
		line, col int
	}
	at := make(map[key]int, len(fs))
	for i, f := range fs {
		at[key{f.Rule, f.Line, f.Column}] = i
	}
	for _, f := range add {
		k := key{f.Rule, f.Line, f.Column}
		if i, ok := at[k]; ok {
			if f.Severity > fs[i].Severity {
				fs[i] = f
			}
			continue
		}
		at[k] = len(fs)
		fs = append(fs, f)
	}
	return fs
}
