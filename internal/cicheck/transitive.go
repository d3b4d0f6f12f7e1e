package cicheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// Fetcher fetches one file of a remote repository at a ref (tag, branch or
// commit SHA). A missing file must give an error matching fs.ErrNotExist.
// Implementations must be safe for concurrent use; *resolve.Resolver is
// the network one.
type Fetcher interface {
	File(ctx context.Context, owner, repo, path, ref string) ([]byte, error)
}

// Defaults of Transitive's bounds.
const (
	// DefaultTransitiveDepth bounds how deep Transitive follows actions
	// that use other actions.
	DefaultTransitiveDepth = 4
	// DefaultTransitiveActions bounds how many distinct actions and
	// reusable workflows Transitive reads below one file.
	DefaultTransitiveActions = 100
	// DefaultTransitiveFetches bounds how many distinct actions one
	// Transitive fetches in all (over every file it checks).
	DefaultTransitiveFetches = 1000
)

var onlineIncompleteRule = finding.Rule{
	ID:       "online-check-incomplete",
	Severity: finding.SeverityHigh,
	Summary:  "scan --online stopped following the actions below a uses: at a bound (depth, actions per file, uses: per action or fetches per scan), so what runs further down was not checked.",
	Fix:      "Review the actions below the reported uses: by hand, or replace an action whose dependencies nest this deep or this wide.",
	Help: "--online fetches the metadata of every action a uses: runs, and of the actions those use in turn, each action@ref once (loops are cut). " +
		"So that a hostile action graph cannot make the scan fetch or report without end, it follows at most " +
		"4 levels, 100 distinct actions per scanned file, 500 uses: inside one action and 1,000 fetches per scan; " +
		"reaching a bound is reported here rather than passed silently.",
}

var onlineIncomplete = Rule{Rule: onlineIncompleteRule}

// Transitive is the --online part of unpinned-action: for every remote
// action or reusable workflow a file uses (pinned or not), it fetches that
// action's action.yml (or action.yaml, or the workflow file) at the
// referenced ref and reports each uses: inside it that is not pinned to a
// full commit SHA (and each docker:// image without a digest), following
// the inner actions in turn, breadth first. The finding points at the
// outer uses: line and names the chain (file → action@ref → inner@tag),
// because a SHA pin only protects the top of the chain: the March 2026
// Trivy compromise reached SHA-pinned trivy-action users through its own
// setup-trivy@<tag>.
//
// The work is bounded whatever the remote files hold: each action@ref is
// fetched once per Transitive, a loop is not followed again, each inner
// reference is reported once per outer uses: (at most
// maxFindingsPerScalar, with a count of the rest), and MaxDepth,
// MaxActions and MaxFetches cap the traversal; reaching a cap gives an
// online-check-incomplete finding at the outer uses:.
//
// A Transitive caches what it fetched and is safe for concurrent use.
type Transitive struct {
	Fetch Fetcher
	// MaxDepth is the number of levels fetched below the file (0 means
	// DefaultTransitiveDepth).
	MaxDepth int
	// MaxActions is the number of distinct actions read below one file
	// (0 means DefaultTransitiveActions). The traversal of a file is
	// sequential, so which actions it covers is deterministic.
	MaxActions int
	// MaxFetches is the number of distinct actions fetched by this
	// Transitive in all (0 means DefaultTransitiveFetches).
	MaxFetches int

	mu      sync.Mutex
	memo    map[string]*transEntry
	fetched int
}

type transEntry struct {
	done chan struct{}
	refs []usesRef
	err  error
}

// maxRefsPerAction bounds the uses: followed inside one fetched action
// or reusable workflow (real ones have a few dozen), so that a few large
// hostile files cannot make every walk through them long.
const maxRefsPerAction = 500

// errFetchLimit is the memoized result of an action not fetched because
// MaxFetches was reached.
var errFetchLimit = errors.New("fetch limit reached")

// innerUses is an unpinned reference found below an action: via lists the
// references from the action just below the file down to the one that
// contains ref.
type innerUses struct {
	via    []string
	ref    string
	uses   ciconfig.Uses
	docker bool
}

// CheckWorkflow runs the transitive check on a workflow's uses:. Fetch
// failures come back as errors (one per action that could not be read),
// never as findings.
func (t *Transitive) CheckWorkflow(ctx context.Context, c *Context, w *ciconfig.Workflow) ([]finding.Finding, []error) {
	return t.check(ctx, c, workflowUses(w))
}

// CheckAction runs the transitive check on a composite action's uses:.
func (t *Transitive) CheckAction(ctx context.Context, c *Context, a *ciconfig.Action) ([]finding.Finding, []error) {
	return t.check(ctx, c, actionUses(a))
}

func (t *Transitive) check(ctx context.Context, c *Context, refs []usesRef) ([]finding.Finding, []error) {
	var out []finding.Finding
	var errs []error
	seenErr := map[string]bool{}
	w := &walk{t: t, ctx: ctx, read: map[string]bool{}, done: map[string]walkResult{}}
	seenTop := map[string]bool{}
	for _, u := range refs {
		if u.uses.Kind != ciconfig.UsesRemote {
			continue
		}
		at := fmt.Sprintf("%d:%d %s", u.str.Pos.Line, u.str.Pos.Column, actionKey(u.uses))
		if seenTop[at] {
			continue // matrix values listed twice at one place
		}
		seenTop[at] = true
		r, ok := w.done[actionKey(u.uses)]
		if !ok {
			r.items, r.limits, r.errs = w.below(u.uses)
			w.done[actionKey(u.uses)] = r
		}
		items, limits, es := r.items, r.limits, r.errs
		for _, e := range es {
			if !seenErr[e.Error()] {
				seenErr[e.Error()] = true
				errs = append(errs, e)
			}
		}
		top := u.uses.FullName() + "@" + u.uses.Ref
		report := func(f finding.Finding) { out = append(out, f) }
		reportCapped(len(items), func(i int) finding.Finding {
			it := items[i]
			chain := append([]string{c.Path, top}, it.via...)
			msg := strings.Join(append(chain, it.ref), " → ")
			what, fix := "is not pinned to a full commit SHA", "Ask the maintainers of "+lastOf(top, it.via)+" to pin "+it.ref+" to a commit SHA, or use another action; pinning "+top+" does not pin what it runs."
			if it.docker {
				what = "is not pinned by digest"
			}
			f := c.at(&unpinnedActionRule, u.str.Pos, top+" runs "+it.ref+", which "+what+" (chain: "+msg+")", fix)
			if !it.docker {
				f.Package = actionPackage(it.uses)
			}
			return f
		}, report)
		if len(limits) > 0 {
			report(c.at(&onlineIncompleteRule, u.str.Pos,
				"the actions below "+top+" were not all checked: "+strings.Join(limits, "; "), onlineIncompleteRule.Fix))
		}
	}
	return out, errs
}

func lastOf(top string, via []string) string {
	if len(via) > 0 {
		return via[len(via)-1]
	}
	return top
}

// actionKey names an action or reusable workflow at a ref, as the cache
// and the loop check know it (GitHub matches owner and repository names
// in any letter case).
func actionKey(u ciconfig.Uses) string {
	return strings.ToLower(u.FullName()) + "@" + u.Ref
}

// walk is the traversal below one file; read holds the actions it has
// read so far, for MaxActions.
type walk struct {
	t    *Transitive
	ctx  context.Context
	read map[string]bool
	// done holds the result below each outer action@ref walked already:
	// the same action used on many lines is walked once per file.
	done map[string]walkResult
}

type walkResult struct {
	items  []innerUses
	limits []string
	errs   []error
}

// below lists, breadth first, the unpinned references inside u and below
// it, each reference once, and says which bounds stopped the traversal.
func (w *walk) below(top ciconfig.Uses) (items []innerUses, limits []string, errs []error) {
	maxDepth := cmp.Or(max(w.t.MaxDepth, 0), DefaultTransitiveDepth)
	maxActions := cmp.Or(max(w.t.MaxActions, 0), DefaultTransitiveActions)
	type node struct {
		uses  ciconfig.Uses
		via   []string
		depth int
	}
	queue := []node{{uses: top, depth: 1}}
	visited := map[string]bool{actionKey(top): true}
	reported := map[string]bool{}
	var deepCut, wideCut, fetchCut int
	var fullCut []string // actions with more uses: than maxRefsPerAction
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		k := actionKey(n.uses)
		if !w.read[k] {
			if len(w.read) >= maxActions {
				wideCut++
				continue
			}
			w.read[k] = true
		}
		refs, err := w.t.refs(w.ctx, n.uses)
		if len(refs) > maxRefsPerAction {
			refs = refs[:maxRefsPerAction]
			fullCut = append(fullCut, n.uses.FullName()+"@"+n.uses.Ref)
		}
		if errors.Is(err, errFetchLimit) {
			fetchCut++
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range refs {
			switch r.uses.Kind {
			case ciconfig.UsesDocker:
				if !r.uses.Image.Pinned() && !reported[r.str.Value] {
					reported[r.str.Value] = true
					items = append(items, innerUses{via: n.via, ref: r.str.Value, docker: true})
				}
			case ciconfig.UsesRemote:
				if !ciconfig.IsCommitSHA(r.uses.Ref) && !reported[r.str.Value] {
					reported[r.str.Value] = true
					items = append(items, innerUses{via: n.via, ref: r.str.Value, uses: r.uses})
				}
				rk := actionKey(r.uses)
				if visited[rk] {
					continue // a loop, or reached before by a shorter chain
				}
				visited[rk] = true
				if n.depth >= maxDepth {
					deepCut++
					continue
				}
				via := append(slices.Clip(n.via), r.uses.FullName()+"@"+r.uses.Ref)
				queue = append(queue, node{uses: r.uses, via: via, depth: n.depth + 1})
			}
		}
	}
	if deepCut > 0 {
		limits = append(limits, fmt.Sprintf("%d actions more than %d levels down were not fetched", deepCut, maxDepth))
	}
	if wideCut > 0 {
		limits = append(limits, fmt.Sprintf("%d actions were not fetched after %d distinct actions for this file", wideCut, maxActions))
	}
	if len(fullCut) > 0 {
		limits = append(limits, fmt.Sprintf("%s has more than %d uses:, the rest were not followed", fullCut[0], maxRefsPerAction))
	}
	if fetchCut > 0 {
		limits = append(limits, fmt.Sprintf("%d actions were not fetched after %d fetches in this scan", fetchCut, cmp.Or(max(w.t.MaxFetches, 0), DefaultTransitiveFetches)))
	}
	return items, limits, errs
}

// refs returns the uses: inside u, fetching its metadata once per
// Transitive; it returns errFetchLimit once MaxFetches actions have been
// fetched.
func (t *Transitive) refs(ctx context.Context, u ciconfig.Uses) ([]usesRef, error) {
	key := actionKey(u)
	t.mu.Lock()
	if t.memo == nil {
		t.memo = map[string]*transEntry{}
	}
	e, ok := t.memo[key]
	if ok {
		t.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return e.refs, e.err
	}
	e = &transEntry{done: make(chan struct{})}
	t.memo[key] = e
	limited := t.fetched >= cmp.Or(max(t.MaxFetches, 0), DefaultTransitiveFetches)
	if !limited {
		t.fetched++
	}
	t.mu.Unlock()
	defer close(e.done)
	if limited {
		e.err = errFetchLimit
		return nil, e.err
	}
	e.refs, e.err = t.fetchUses(ctx, u)
	if len(e.refs) > maxRefsPerAction+1 {
		e.refs = e.refs[: maxRefsPerAction+1 : maxRefsPerAction+1] // one more marks the cut
	}
	return e.refs, e.err
}

// fetchUses fetches and parses the metadata of u and lists its uses:.
func (t *Transitive) fetchUses(ctx context.Context, u ciconfig.Uses) ([]usesRef, error) {
	name := u.FullName() + "@" + u.Ref
	if u.IsReusableWorkflow() {
		data, err := t.Fetch.File(ctx, u.Owner, u.Repo, u.Path, u.Ref)
		if err != nil {
			return nil, fmt.Errorf("fetch reusable workflow %s: %w", name, err)
		}
		w, err := ciconfig.ParseWorkflow(data)
		if w == nil {
			return nil, fmt.Errorf("parse reusable workflow %s: %w", name, err)
		}
		return workflowUses(w), nil
	}
	var errs []error
	for _, file := range []string{"action.yml", "action.yaml"} {
		data, err := t.Fetch.File(ctx, u.Owner, u.Repo, path.Join(u.Path, file), u.Ref)
		if errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fetch metadata of action %s: %w", name, err)
		}
		a, err := ciconfig.ParseAction(data)
		if a == nil {
			return nil, fmt.Errorf("parse metadata of action %s: %w", name, err)
		}
		refs := actionUses(a)
		if a.Runs != nil && a.Runs.Image != nil && strings.HasPrefix(a.Runs.Image.Value, "docker://") {
			refs = append(refs, usesRef{str: a.Runs.Image, uses: ciconfig.ParseUses(a.Runs.Image.Value)})
		}
		return refs, nil
	}
	return nil, fmt.Errorf("action %s has no action.yml or action.yaml: %w", name, errors.Join(errs...))
}
