package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/termsafe"
	"github.com/buildwall/buildwall/internal/trust"
)

// baseRefVars are the CI variables that name the target branch of the
// pull (merge) request being built; the first one set gives scan's trusted
// revision when --config-from is not given: origin/<value>.
var baseRefVars = []string{"GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"}

// trustedRef returns the trusted revision: --config-from, else origin/<the
// pull request's base branch> from the CI's environment, else "". from
// names where it came from, for messages.
func trustedRef(env *Env, flag string) (ref, from string) {
	if flag != "" {
		return flag, "--config-from"
	}
	for _, v := range baseRefVars {
		if b := env.getenv(v); b != "" {
			return "origin/" + b, "$" + v
		}
	}
	return "", ""
}

// scanTrust is the outcome of comparing the branch's configuration with
// the trusted revision's.
type scanTrust struct {
	// cfg is the configuration to apply: the trusted one with
	// --config-from or when the branch's weakens the gate, else the
	// branch's.
	cfg *config.Config
	// findings are gate-weakened findings about buildwall.yml.
	findings []finding.Finding
	// opt compares the registry files during the scan; nil when there is
	// no trusted revision.
	opt *scan.Trust
}

// trustInput is what resolveTrust needs to know of the scan.
type trustInput struct {
	flag        scanFlags
	roots       []string // absolute scan paths
	names       []string // scan paths as given
	branch      *config.Config
	branchPath  string // absolute path of the branch's buildwall.yml, "" for none
	failOnFixed bool
	base        string // scan.Base(roots): findings' paths are relative to it
}

// resolveTrust finds the trusted revision (see trustedRef) and the
// configuration scan applies. With --config-from every problem is a usage
// error (exit 2); a revision taken from the environment that cannot be
// used (not fetched, not a repository) is a warning and the branch's
// configuration applies, compared with nothing.
func resolveTrust(ctx context.Context, env *Env, in trustInput) (*scanTrust, error) {
	ref, from := trustedRef(env, in.flag.configFrom)
	if ref == "" {
		return &scanTrust{cfg: in.branch}, nil
	}
	explicit := in.flag.configFrom != ""
	st, err := compareWith(ctx, ref, explicit, in)
	if err == nil {
		return st, nil
	}
	if explicit {
		return nil, usageError(fmt.Errorf("--config-from: %w", err))
	}
	fmt.Fprintf(env.Stderr, "buildwall: warning: configuration not compared with %s (the trusted base, from %s): %s; with actions/checkout set fetch-depth: 0\n",
		termsafe.String(ref), from, termsafe.String(err.Error()))
	return &scanTrust{cfg: in.branch}, nil
}

// compareWith opens ref, loads its buildwall.yml and compares.
func compareWith(ctx context.Context, ref string, explicit bool, in trustInput) (*scanTrust, error) {
	dir := in.roots[0]
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	cfgName := config.FileName
	if in.flag.config != "" {
		cfgName = filepath.Base(in.branchPath)
	}
	rev, err := trust.Open(ctx, dir, ref, append(scan.RegistryFileNames(), cfgName))
	if err != nil {
		return nil, err
	}
	for _, r := range in.roots {
		if _, err := relInside(rev.Top, r); err != nil {
			return nil, fmt.Errorf("scan path %s is outside the repository of %s (%s)", termsafe.String(r), termsafe.String(ref), termsafe.String(rev.Top))
		}
	}
	trusted, trustedRel, err := trustedConfig(ctx, rev, dir, in)
	if err != nil {
		return nil, err
	}
	// A branch that deletes the file is compared too (its defaults may be
	// more lenient); the finding then names the deleted file.
	cfgPath := in.branchPath
	if cfgPath == "" && trustedRel != "" {
		cfgPath = filepath.Join(rev.Top, filepath.FromSlash(trustedRel))
	}
	st := &scanTrust{cfg: in.branch}
	if cfgPath != "" {
		st.findings = trust.CompareConfig(trust.ConfigOptions{
			Ref:           ref,
			Path:          findingPath(in, cfgPath),
			DefaultFailOn: finding.SeverityHigh,
			FailOnFixed:   in.failOnFixed,
		}, trusted, in.branch)
	}
	if explicit || len(st.findings) > 0 {
		st.cfg = trusted
	}
	st.opt = &scan.Trust{
		Ref: ref,
		Top: rev.Top,
		ReadFile: func(rel string) ([]byte, error) {
			return rev.ReadFile(ctx, rel, maxRegistryFile)
		},
		Registries: trusted.Scan.Registries,
		Apply:      explicit,
	}
	return st, nil
}

// maxRegistryFile bounds each registry configuration file read from the
// trusted revision, as scan bounds the tree's.
const maxRegistryFile = 1 << 20

// trustedConfig loads the revision's buildwall.yml: the file at --config's
// path inside the repository, else the nearest buildwall.yml at or above
// the scan directory, as config.Find looks in the tree. None is an empty
// configuration and rel "".
func trustedConfig(ctx context.Context, rev *trust.Revision, dir string, in trustInput) (cfg *config.Config, rel string, err error) {
	if in.flag.config != "" {
		if rel, err = relFromTop(rev.Top, in.branchPath); err != nil {
			return nil, "", fmt.Errorf("--config %s is outside the repository; with a trusted revision it must name a file in it", termsafe.String(in.flag.config))
		}
	} else {
		d, err := relFromTop(rev.Top, dir)
		if err != nil {
			return nil, "", err
		}
		p, ok := rev.FindUp(d, config.FileName)
		if !ok {
			return &config.Config{}, "", nil
		}
		rel = p
	}
	data, err := rev.ReadFile(ctx, rel, config.MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return &config.Config{}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if cfg, err = config.Parse(rev.Ref+":"+rel, data); err != nil {
		return nil, "", err
	}
	if err := checkConfigRules(cfg); err != nil {
		return nil, "", err
	}
	return cfg, rel, nil
}

// relInside returns abs relative to top, slash-separated, or an error when
// it is not inside top. Both are resolved through symbolic links first.
func relInside(top, p string) (string, error) {
	abs, err := realAbs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return "", fmt.Errorf("%s is outside the repository %s", termsafe.String(abs), termsafe.String(top))
	}
	return filepath.ToSlash(rel), nil
}

// realAbs returns p absolute and, when it exists, with symbolic links
// resolved.
func realAbs(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// findingPath names the file at abs as scan names paths: relative to the
// base (the repository's top), else to the first scan root, prefixed with
// the root as given when there are several.
func findingPath(in trustInput, abs string) string {
	if rel, ok := scan.RelTo(in.base, abs); ok {
		return rel
	}
	root := in.roots[0]
	if st, err := os.Stat(root); err == nil && !st.IsDir() {
		root = filepath.Dir(root)
	}
	root, err := realAbs(root)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	if a, err := realAbs(abs); err == nil {
		abs = a
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	p := filepath.ToSlash(rel)
	if len(in.roots) > 1 {
		if prefix := filepath.ToSlash(filepath.Clean(in.names[0])); prefix != "." {
			p = path.Join(prefix, p)
		}
	}
	return p
}

// checkConfigRules fails when an ignore names an unknown rule or
// gate-weakened, which no ignore may suppress.
func checkConfigRules(cfg *config.Config) error {
	var ids []string
	for _, r := range allRules() {
		ids = append(ids, r.ID)
	}
	if err := cfg.CheckRules(ids); err != nil {
		return err
	}
	for _, ig := range cfg.Scan.Ignores {
		if strings.EqualFold(ig.Rule, trust.RuleID) {
			return &config.Error{Path: cfg.Path, Line: ig.Line, Column: ig.Column, Msg: "scan.ignore cannot name " + trust.RuleID + ": a change that weakens the gate must be reviewed, not ignored"}
		}
	}
	return nil
}
