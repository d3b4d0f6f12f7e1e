package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/termsafe"
	"github.com/buildwall/buildwall/internal/trust"
)

// The PR trust model of `buildwall run`, as scan's (scan_trust.go): in a
// pull request the run: policy of the tree's buildwall.yml and the
// project .npmrc that the npm preset expands from were written by the
// branch's author. With --config-from REF both are read from REF and
// applied; without it, when the CI names the pull request's base, the
// branch's policy applies unless it weakens the base's (policy.Weakenings),
// in which case the base's applies and the run records why.

// weakenedPrefix starts each report warning and stderr line about a run
// policy the branch weakened.
const weakenedPrefix = "policy weakened by the branch: "

// maxWeakenedNotes bounds the weakenings listed one by one (on stderr and
// in the report): a branch's policy with a million entries adds one more
// line, not a million.
const maxWeakenedNotes = 100

// runPolicyEnv reads the toolchain configuration the presets of a run
// policy expand from, for a command in dir. project, when not nil,
// supplies the project .npmrc in place of the tree's.
var runPolicyEnv = func(ctx context.Context, presets []string, dir string, project func(root string) ([]byte, error)) policy.Env {
	return policy.Detector{Presets: presets, Dir: dir, ProjectNPMRC: project}.Detect(ctx)
}

// runPolicyFiles are the files a trusted revision is asked for.
var runPolicyFiles = []string{config.FileName, ".npmrc"}

// loadRunPolicy returns the compiled policy the run applies: --policy or
// the run: section of the tree's buildwall.yml, unless a trusted revision
// (see trustedRef) says otherwise. Without any policy the run is an audit
// of everything. With --config-from every problem with the revision is a
// usage error (exit 2); a revision taken from the CI's environment that
// cannot be used is a warning, and the branch's policy applies.
func loadRunPolicy(ctx context.Context, env *Env, dir string, fl runFlags) (*policy.Policy, error) {
	if err := checkModeFlag(fl.mode); err != nil {
		return nil, err
	}
	ref, from := trustedRef(env, fl.configFrom)
	explicit := fl.configFrom != ""
	branchSpec, branchErr := branchRunSpec(dir, fl)
	if fl.policy != "" && branchErr != nil {
		return nil, usageError(branchErr) // the workflow's own file
	}
	var tr *trustedRun
	if ref != "" {
		var err error
		tr, err = openTrustedRun(ctx, dir, ref, fl, branchSpec)
		switch {
		case err != nil && explicit:
			return nil, usageError(fmt.Errorf("--config-from: %w", err))
		case err != nil && !baseUnavailable(err, dir):
			// The base is there but cannot be used (its buildwall.yml is a
			// link or does not parse, git does not see the build's
			// directory where the path says it is): falling back to the
			// branch's policy would let the branch choose it.
			return nil, usageError(fmt.Errorf("run policy of %s (the trusted base, from %s): %w", termsafe.String(ref), from, err))
		case err != nil:
			hint := ""
			if errors.Is(err, trust.ErrUnknownRef) {
				hint = "; with actions/checkout set fetch-depth: 0"
			}
			fmt.Fprintf(env.Stderr, "buildwall: warning: run policy not compared with %s (the trusted base, from %s): %s; the tree's policy applies%s\n",
				termsafe.String(ref), from, termsafe.String(err.Error()), hint)
		}
	}
	envs := newPresetEnvs(ctx, dir, tr, branchSpec)
	var trusted *policy.Policy
	if tr != nil {
		var err error
		if trusted, err = compileRun(fl, tr.spec, envs.trusted); err != nil {
			return nil, usageError(fmt.Errorf("run policy of %s: %w", termsafe.String(ref), err))
		}
	}
	var branch *policy.Policy
	if branchErr == nil {
		branch, branchErr = compileRun(fl, branchSpec, envs.tree)
	}
	switch {
	case branchErr != nil && (trusted == nil || !explicit):
		return nil, usageError(branchErr)
	case trusted == nil:
		return reportPolicy(env, branch, branchSpec == nil), nil
	case branchErr != nil:
		// With --config-from the branch's file is only compared: one that
		// does not even parse is no reason to stop.
		fmt.Fprintf(env.Stderr, "buildwall: warning: the branch's run policy is not compared with %s: %s\n", termsafe.String(ref), termsafe.String(branchErr.Error()))
		return reportPolicy(env, trusted, tr.spec == nil), nil
	}
	notes := weakeningNotes(policy.Weakenings(trusted, branch), ref)
	if explicit || len(notes) > 0 {
		return reportPolicy(env, trusted.WithWarnings(notes...), tr.spec == nil), nil
	}
	return reportPolicy(env, branch, branchSpec == nil), nil
}

// weakeningNotes are the report warnings for the weakenings ws: at most
// maxWeakenedNotes, then one that counts the rest.
func weakeningNotes(ws []string, ref string) []string {
	var notes []string
	for i, w := range ws {
		if i == maxWeakenedNotes {
			w = fmt.Sprintf("%d more differences", len(ws)-i)
		}
		notes = append(notes, fmt.Sprintf("%s%s; the run policy of %s applies", weakenedPrefix, w, ref))
		if i == maxWeakenedNotes {
			break
		}
	}
	return notes
}

// baseUnavailable reports whether err, from opening the base revision
// named by the CI, means there is no base to compare with: git is not
// installed, the revision was not fetched, or the build's directory is not
// in a git work tree at all (no .git at or above it), or the base
// branch's name is one CheckRef refuses (the base repository's name, not
// the branch author's). Then the tree's policy applies, with a warning;
// any other failure stops the run.
func baseUnavailable(err error, dir string) bool {
	switch {
	case errors.Is(err, trust.ErrNoGit), errors.Is(err, trust.ErrUnknownRef), errors.Is(err, trust.ErrBadRef):
		return true
	case errors.Is(err, trust.ErrNotRepository):
		abs, aerr := filepath.Abs(dir)
		if aerr != nil {
			return false
		}
		for p := abs; ; p = filepath.Dir(p) {
			if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
				return false // inside a checkout that git does not see
			}
			if filepath.Dir(p) == p {
				return true
			}
		}
	}
	return false
}

// trustedRun is what a trusted revision says about the run.
type trustedRun struct {
	// spec is the revision's run policy (see trustedRunSpec), or with
	// --policy the file the workflow named; nil: audit everything.
	spec *policy.Spec
	// project supplies the revision's project .npmrc (see
	// npmconfig.Options.Project).
	project func(root string) ([]byte, error)
}

// openTrustedRun opens ref and reads its run policy; with --policy the
// file the workflow named (branchSpec) is the policy and only the
// registry configuration comes from the revision.
func openTrustedRun(ctx context.Context, dir, ref string, fl runFlags, branchSpec *policy.Spec) (*trustedRun, error) {
	rev, err := trust.Open(ctx, dir, ref, runPolicyFiles)
	if err != nil {
		return nil, err
	}
	tr := &trustedRun{spec: branchSpec}
	if fl.policy == "" {
		if tr.spec, err = trustedRunSpec(ctx, rev, dir); err != nil {
			return nil, err
		}
	}
	tr.project = func(root string) ([]byte, error) {
		rel, err := relFromTop(rev.Top, root)
		if err != nil {
			return nil, fs.ErrNotExist
		}
		return rev.ReadFile(ctx, path.Join(rel, ".npmrc"), maxRegistryFile)
	}
	return tr, nil
}

// presetEnvs are the toolchain configurations the two policies' presets
// expand from. Each toolchain is asked once (starting pip's Python takes
// a while): only the npm preset reads a file of the tree, the project
// .npmrc, so only it is read again, from the trusted revision.
type presetEnvs struct {
	tree, trusted policy.Env
}

func newPresetEnvs(ctx context.Context, dir string, tr *trustedRun, branchSpec *policy.Spec) presetEnvs {
	var presets []string
	for _, s := range []*policy.Spec{branchSpec, trustedSpec(tr)} {
		if s != nil {
			presets = append(presets, s.Presets()...)
		}
	}
	slices.Sort(presets)
	presets = slices.Compact(presets)
	var e presetEnvs
	if len(presets) > 0 {
		e.tree = runPolicyEnv(ctx, presets, dir, nil)
	}
	e.trusted = e.tree
	if s := trustedSpec(tr); s != nil && slices.Contains(s.Presets(), policy.PresetNPM) {
		e.trusted.NPMRegistries = runPolicyEnv(ctx, []string{policy.PresetNPM}, dir, tr.project).NPMRegistries
	}
	return e
}

func trustedSpec(tr *trustedRun) *policy.Spec {
	if tr == nil {
		return nil
	}
	return tr.spec
}

// checkModeFlag checks --mode before anything is read.
func checkModeFlag(mode string) error {
	switch policy.Mode(mode) {
	case "", policy.ModeAudit, policy.ModeBlock:
		return nil
	}
	return usageError(fmt.Errorf("--mode %q: want audit or block", mode))
}

// branchRunSpec reads --policy or the run: section of the tree's
// buildwall.yml; nil when there is neither.
func branchRunSpec(dir string, fl runFlags) (*policy.Spec, error) {
	if fl.policy != "" {
		return policy.ParseFile(abs(dir, fl.policy))
	}
	p := config.Find(dir)
	if p == "" {
		return nil, nil
	}
	cfg, err := config.LoadFound(p)
	if err != nil || cfg.Run == nil {
		return nil, err
	}
	return policy.ParseNode(p, cfg.Run)
}

// trustedRunSpec reads the run: section of the revision's buildwall.yml
// nearest to dir, as config.Find looks in the tree; nil when there is
// none.
func trustedRunSpec(ctx context.Context, rev *trust.Revision, dir string) (*policy.Spec, error) {
	d, err := relFromTop(rev.Top, dir)
	if err != nil {
		return nil, err
	}
	rel, ok := rev.FindUp(d, config.FileName)
	if !ok {
		return nil, nil
	}
	data, err := rev.ReadFile(ctx, rel, config.MaxSize)
	if err != nil {
		return nil, err
	}
	name := rev.Ref + ":" + rel
	cfg, err := config.Parse(name, data)
	if err != nil || cfg.Run == nil {
		return nil, err
	}
	return policy.ParseNode(name, cfg.Run)
}

// relFromTop returns p relative to the work tree top, slash-separated,
// following symbolic links only above the top: the first ancestor of p,
// from the root down, that resolves to top starts the relative path, and
// the rest is taken as written. A link inside the tree is the branch's
// (web -> tools), and must not choose which of the trusted revision's
// files apply.
func relFromTop(top, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var chain []string
	for q := abs; ; q = filepath.Dir(q) {
		chain = append(chain, q)
		if filepath.Dir(q) == q {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if real, err := filepath.EvalSymlinks(chain[i]); err == nil && real == top {
			rel, err := filepath.Rel(chain[i], abs)
			if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
				break
			}
			return filepath.ToSlash(rel), nil
		}
	}
	return "", fmt.Errorf("%s is outside the repository %s", termsafe.String(abs), termsafe.String(top))
}

// compileRun compiles spec (nil: audit everything) with --mode applied
// and its presets expanded from penv.
func compileRun(fl runFlags, spec *policy.Spec, penv policy.Env) (*policy.Policy, error) {
	s := policy.Spec{Mode: policy.ModeAudit}
	if spec != nil {
		s = *spec
	}
	if fl.mode != "" {
		s.Mode = policy.Mode(fl.mode)
	}
	return policy.Compile(&s, penv)
}

// reportPolicy says on stderr what the run applies: that there is no
// policy, and the policy's warnings.
func reportPolicy(env *Env, p *policy.Policy, none bool) *policy.Policy {
	if none {
		fmt.Fprintln(env.Stderr, "buildwall: no run policy (run: in buildwall.yml or --policy): auditing every connection")
	}
	for _, w := range p.Warnings() {
		fmt.Fprintf(env.Stderr, "buildwall: warning: %s\n", termsafe.String(w))
	}
	return p
}
