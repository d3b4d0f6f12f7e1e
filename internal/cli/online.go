package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/pin"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/treefs"
	"github.com/buildwall/buildwall/internal/trust"
)

// scanOnline runs the network part of unpinned-action (cicheck.Transitive)
// over the workflows and action files the scan found, adds its findings to
// res (configuration ignores applied, order kept) and returns one warning
// per action that could not be fetched. It uses the same resolver settings
// as pin: $GITHUB_API_URL, $GITHUB_TOKEN.
func scanOnline(ctx context.Context, env *Env, paths, abs []string, ignore func([]finding.Finding), res *scan.Result, timeout time.Duration) []string {
	tr := &cicheck.Transitive{Fetch: newResolver(env, "", "-", "", timeout, 3)}
	var (
		mu    sync.Mutex
		found []finding.Finding
		warns []string
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, runtime.GOMAXPROCS(0)))
	for _, rel := range res.Files {
		p := onlinePath(env, paths, abs, res.Base, rel)
		kind := pin.KindOf(filepath.ToSlash(p))
		if kind != pin.Workflow && kind != pin.Action {
			continue
		}
		g.Go(func() error {
			data, err := treefs.ReadFile(gctx, p, scan.DefaultMaxFileSize)
			if err != nil {
				mu.Lock()
				warns = append(warns, fmt.Sprintf("--online: read %s: %v", rel, err))
				mu.Unlock()
				return nil
			}
			c := &cicheck.Context{Path: rel}
			var fs []finding.Finding
			var errs []error
			if kind == pin.Workflow {
				if w, _ := ciconfig.ParseWorkflow(data); w != nil {
					fs, errs = tr.CheckWorkflow(gctx, c, w)
				}
			} else if a, _ := ciconfig.ParseAction(data); a != nil {
				fs, errs = tr.CheckAction(gctx, c, a)
			}
			mu.Lock()
			defer mu.Unlock()
			found = append(found, fs...)
			for _, e := range errs {
				warns = append(warns, fmt.Sprintf("--online: %s: %v", rel, e))
			}
			return nil
		})
	}
	_ = g.Wait() // workers never fail; cancellation shows in the warnings
	if ignore != nil {
		ignore(found)
		res.Suppressed += finding.CountSuppressed(found)
	}
	res.Findings = finding.Sort(append(res.Findings, found...))
	return dedupeStrings(warns)
}

// onlinePath maps a scan result path back to the file: relative to base
// (scan.Base), else to the only root, or prefixed with its root when
// several were scanned.
func onlinePath(env *Env, paths, abs []string, base, rel string) string {
	if base != "" {
		return filepath.Join(base, filepath.FromSlash(rel))
	}
	if len(paths) == 1 {
		if st, err := os.Stat(abs[0]); err == nil && !st.IsDir() {
			return abs[0]
		}
		return filepath.Join(abs[0], filepath.FromSlash(rel))
	}
	return env.path(filepath.FromSlash(rel))
}

// onlineIgnores returns the function that marks --online's findings the
// configuration's ignores match (nil with --no-ignores), and withdraws
// the ignore-unused findings scan reported for the ignores that matched.
func onlineIgnores(cfg *config.Config, off bool, source string, res *scan.Result) func([]finding.Finding) {
	if off || cfg == nil {
		return nil
	}
	return func(fs []finding.Finding) {
		used := cfg.Scan.Suppress(fs, source, time.Now(), func(f *finding.Finding) bool { return f.Rule == trust.RuleID })
		lines := map[int]bool{}
		for i, n := range used {
			if n > 0 {
				lines[cfg.Scan.Ignores[i].Line] = true
			}
		}
		if len(lines) > 0 {
			res.Findings = slices.DeleteFunc(res.Findings, func(f finding.Finding) bool {
				return f.Rule == scan.IgnoreUnusedRule && f.Path == source && lines[f.Line]
			})
		}
	}
}

func dedupeStrings(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
