package cicheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
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

// DefaultTransitiveDepth bounds how deep Transitive follows actions that
// use other actions.
const DefaultTransitiveDepth = 4

// Transitive is the --online part of unpinned-action: for every remote
// action or reusable workflow a file uses (pinned or not), it fetches that
// action's action.yml (or action.yaml, or the workflow file) at the
// referenced ref and reports each uses: inside it that is not pinned to a
// full commit SHA (and each docker:// image without a digest), following
// the inner actions in turn up to MaxDepth. The finding points at the outer
// uses: line and names the chain (file → action@ref → inner@tag), because
// a SHA pin only protects the top of the chain: the March 2026 Trivy
// compromise reached SHA-pinned trivy-action users through its own
// setup-trivy@<tag>.
//
// A Transitive caches what it fetched and is safe for concurrent use.
type Transitive struct {
	Fetch Fetcher
	// MaxDepth is the number of levels fetched below the file (0 means
	// DefaultTransitiveDepth).
	MaxDepth int

	mu   sync.Mutex
	memo map[string]*transEntry
}

type transEntry struct {
	done  chan struct{}
	items []innerUses
	errs  []error
}

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
	seen := map[string]bool{}
	for _, u := range refs {
		if u.uses.Kind != ciconfig.UsesRemote {
			continue
		}
		items, es := t.inner(ctx, u.uses, 1)
		errs = append(errs, es...)
		top := u.uses.FullName() + "@" + u.uses.Ref
		for _, it := range items {
			chain := append([]string{c.Path, top}, it.via...)
			chain = append(chain, it.ref)
			msg := strings.Join(chain, " → ")
			key := fmt.Sprintf("%d:%d %s", u.str.Pos.Line, u.str.Pos.Column, msg)
			if seen[key] {
				continue
			}
			seen[key] = true
			what, fix := "is not pinned to a full commit SHA", "Ask the maintainers of "+lastOf(top, it.via)+" to pin "+it.ref+" to a commit SHA, or use another action; pinning "+top+" does not pin what it runs."
			if it.docker {
				what = "is not pinned by digest"
			}
			f := c.at(&unpinnedActionRule, u.str.Pos, top+" runs "+it.ref+", which "+what+" (chain: "+msg+")", fix)
			if !it.docker {
				f.Package = actionPackage(it.uses)
			}
			out = append(out, f)
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

// inner returns the unpinned references inside u and below it.
func (t *Transitive) inner(ctx context.Context, u ciconfig.Uses, depth int) ([]innerUses, []error) {
	maxDepth := t.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultTransitiveDepth
	}
	if depth > maxDepth {
		return nil, nil
	}
	key := fmt.Sprintf("%s@%s#%d", strings.ToLower(u.FullName()), u.Ref, depth)
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
			return nil, []error{ctx.Err()}
		}
		return e.items, e.errs
	}
	e = &transEntry{done: make(chan struct{})}
	t.memo[key] = e
	t.mu.Unlock()
	defer close(e.done)

	refs, err := t.fetchUses(ctx, u)
	if err != nil {
		e.errs = []error{err}
		return e.items, e.errs
	}
	for _, r := range refs {
		switch r.uses.Kind {
		case ciconfig.UsesDocker:
			if !r.uses.Image.Pinned() {
				e.items = append(e.items, innerUses{ref: r.str.Value, docker: true})
			}
		case ciconfig.UsesRemote:
			if !ciconfig.IsCommitSHA(r.uses.Ref) {
				e.items = append(e.items, innerUses{ref: r.str.Value, uses: r.uses})
			}
			below, errs := t.inner(ctx, r.uses, depth+1)
			e.errs = append(e.errs, errs...)
			for _, b := range below {
				b.via = append([]string{r.uses.FullName() + "@" + r.uses.Ref}, b.via...)
				e.items = append(e.items, b)
			}
		}
	}
	return e.items, e.errs
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
