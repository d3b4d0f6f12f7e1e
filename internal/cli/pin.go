package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/pin"
	"github.com/buildwall/buildwall/internal/resolve"
	"github.com/buildwall/buildwall/internal/termsafe"
)

type pinFlags struct {
	dryRun         bool
	githubAPI      string
	gitBase        string
	registry       string
	timeout        time.Duration
	requestTimeout time.Duration
	retries        int
	authHosts      []string
	allowPrivate   bool
	db             string
}

func newPinCmd(env *Env) *cobra.Command {
	var fl pinFlags
	cmd := &cobra.Command{
		Use:   "pin [PATH...]",
		Short: "Rewrite action and image references in CI configuration to immutable SHAs and digests",
		Long: `Pin walks each PATH (default ".") for GitHub workflows, action.yml files,
Dockerfiles and .gitlab-ci.yml, and rewrites every mutable reference:

  uses: owner/repo[/path]@ref   ->  uses: owner/repo[/path]@<40-hex SHA> # ref
  image: name:tag               ->  image: name:tag@sha256:<digest>

Nothing else in a file changes, byte for byte. Tags and branches are resolved
with the GitHub REST API (GITHUB_TOKEN is used when set; --github-api for GitHub
Enterprise, default $GITHUB_API_URL or the public API), falling back to
git ls-remote; an annotated tag resolves to its commit. Image digests come from
the image's registry (OCI distribution API). A reference that cannot be
resolved (or is computed by an expression) is left as it was and reported.

An action reference that the malicious-package database lists as
compromised (the tag as written, or the commit it resolves to) is never
pinned: freezing it would keep the compromised code. It is left as it was
and reported with the advisory and the known-good releases the advisory
names, and pin exits 1.

What pin talks to is bounded, because the files may come from an attacker:
owner, repository, ref and path of uses: and image names are checked against
GitHub's and Docker's syntax before any URL is built (uses: o/r@../x is
reported unresolvable, never requested); GITHUB_TOKEN is sent to the API host
only (a redirect elsewhere is followed without it). A registry's token realm
must be the registry's own origin, or https on a host of the same site or one
listed with --registry-auth-host, and such a realm host must not be a
loopback, link-local or private address unless --allow-private-registry is
given. --timeout bounds the whole run: when it expires, nothing is written
and pin exits 3. Server answers are printed escaped and cut short.

Exit codes: 0 everything pinned, 1 something left unpinned, 2 usage error,
3 buildwall itself failed.`,
		Example: `  # Show what would change
  buildwall pin --dry-run

  # Pin the workflows of a GitHub Enterprise repository
  GITHUB_TOKEN=... buildwall pin --github-api https://ghe.example/api/v3 .github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return interruptible(cmd.Context(), func() error { return runPin(cmd.Context(), env, fl, args) })
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fl.dryRun, "dry-run", false, "print a unified diff instead of changing files")
	f.StringVar(&fl.githubAPI, "github-api", "", "GitHub REST API `URL` (default $GITHUB_API_URL or "+resolve.DefaultGitHubAPI+")")
	f.StringVar(&fl.gitBase, "git-base", "", "base `URL` of repositories for the git ls-remote fallback (default $BUILDWALL_GIT_BASE, else derived from the API URL, else "+resolve.DefaultGitBase+"; \"-\" disables it)")
	f.StringVar(&fl.registry, "registry-mirror", "", "fetch every image digest from this registry `URL` instead of the image's own (default $BUILDWALL_REGISTRY_MIRROR)")
	f.DurationVar(&fl.timeout, "timeout", 5*time.Minute, "time limit of the whole run (nothing is written when it expires)")
	f.DurationVar(&fl.requestTimeout, "request-timeout", 30*time.Second, "timeout of each network request")
	f.StringArrayVar(&fl.authHosts, "registry-auth-host", nil, "`HOST` or HOST:PORT a registry's token realm may name besides the registry's own host and site (repeatable)")
	f.BoolVar(&fl.allowPrivate, "allow-private-registry", false, "let a token realm on another host be a loopback, link-local or private address")
	f.IntVar(&fl.retries, "retries", 3, "retries of a failed request (with exponential backoff)")
	f.StringVar(&fl.db, "db", "", "malicious-package database `DIR` whose compromised actions pin refuses (default: $BUILDWALL_DB or the user cache directory)")
	return cmd
}

// newResolver builds the resolver pin and scan --online share.
func newResolver(env *Env, githubAPI, gitBase, registry string, timeout time.Duration, retries int) *resolve.Resolver {
	return resolve.New(resolverOptions(env, githubAPI, gitBase, registry, timeout, retries))
}

// resolverOptions fills resolve.Options from flags and the environment.
func resolverOptions(env *Env, githubAPI, gitBase, registry string, timeout time.Duration, retries int) resolve.Options {
	if githubAPI == "" {
		githubAPI = env.getenv("GITHUB_API_URL")
	}
	if gitBase == "" {
		gitBase = env.getenv("BUILDWALL_GIT_BASE")
	}
	if gitBase == "" && githubAPI != "" {
		gitBase = gitBaseOf(githubAPI)
	}
	if registry == "" {
		registry = env.getenv("BUILDWALL_REGISTRY_MIRROR")
	}
	if retries == 0 {
		retries = -1 // resolve.Options: 0 means the default
	}
	return resolve.Options{
		GitHubAPI: githubAPI,
		Token:     env.getenv("GITHUB_TOKEN"),
		GitBase:   gitBase,
		Registry:  registry,
		Timeout:   timeout,
		Retries:   retries,
	}
}

// gitBaseOf derives the web (git) base URL from a GitHub API URL:
// https://ghe.example/api/v3 → https://ghe.example, https://api.host → https://host.
func gitBaseOf(api string) string {
	u, err := url.Parse(strings.TrimSuffix(api, "/"))
	if err != nil || u.Host == "" {
		return ""
	}
	switch {
	case strings.HasSuffix(u.Path, "/api/v3"):
		u.Path = strings.TrimSuffix(u.Path, "/api/v3")
	case strings.HasPrefix(u.Host, "api."):
		u.Host = strings.TrimPrefix(u.Host, "api.")
	}
	return strings.TrimSuffix(u.String(), "/")
}

func runPin(ctx context.Context, env *Env, fl pinFlags, args []string) error {
	if fl.timeout <= 0 {
		return usageError(errors.New("--timeout must be positive"))
	}
	if fl.requestTimeout <= 0 {
		return usageError(errors.New("--request-timeout must be positive"))
	}
	for _, h := range fl.authHosts {
		if err := checkAuthHost(h); err != nil {
			return usageError(err)
		}
	}
	if fl.retries < 0 {
		return usageError(errors.New("--retries must not be negative"))
	}
	paths := args
	if len(paths) == 0 {
		paths = []string{"."}
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i] = env.path(p)
		if _, err := os.Stat(abs[i]); errors.Is(err, fs.ErrNotExist) {
			return usageError(fmt.Errorf("pin %s: no such file or directory", p))
		}
	}
	base := env.Dir
	if base == "" {
		base, _ = os.Getwd()
	}
	ropts := resolverOptions(env, fl.githubAPI, fl.gitBase, fl.registry, min(fl.requestTimeout, fl.timeout), fl.retries)
	ropts.AuthHosts = fl.authHosts
	ropts.AllowPrivate = fl.allowPrivate
	db, err := openDB(env, fl.db)
	if err != nil {
		return internalUnlessCoded(err)
	}
	opts := pin.Options{
		Compromised: func(u ciconfig.Uses, ref string) error {
			return compromisedRef(db, u, ref)
		},
		Paths:    abs,
		Resolver: resolve.New(ropts),
		DryRun:   fl.dryRun,
		Diff:     env.Stdout,
		Rel: func(p string) string {
			if r, err := filepath.Rel(base, p); err == nil && filepath.IsLocal(r) {
				return filepath.ToSlash(r)
			}
			return p
		},
	}
	if isTerminal(env.Stderr) {
		opts.Progress = progressLine(env.Stderr)
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, fl.timeout, errPinTimeout)
	defer cancel()
	res, err := pin.Run(runCtx, opts)
	if res != nil {
		for _, o := range res.Outcomes {
			fmt.Fprintf(env.Stderr, "buildwall: %s\n", o) // Outcome.String escapes
		}
	}
	if err != nil {
		if errors.Is(context.Cause(runCtx), errPinTimeout) && ctx.Err() == nil {
			return internalError(fmt.Errorf("pin stopped: --timeout %s expired before every reference was resolved; no file was changed", fl.timeout))
		}
		return internalError(err)
	}
	pinned := len(res.Outcomes) - res.Unpinned()
	verb := "pinned"
	if fl.dryRun {
		verb = "would pin"
	}
	fmt.Fprintf(env.Stderr, "buildwall: %s %d reference%s in %d of %d file%s; %d left unpinned\n",
		verb, pinned, plural(pinned), res.Changed, res.Files, plural(res.Files), res.Unpinned())
	if res.Unpinned() > 0 {
		return withCode(ExitFindings, nil)
	}
	return nil
}

var errPinTimeout = errors.New("pin --timeout expired")

// compromisedRef answers pin.Options.Compromised from the advisory
// database: an error naming the advisories and the releases they name as
// fixed when u at ref is listed.
func compromisedRef(db cicheck.Advisories, u ciconfig.Uses, ref string) error {
	ms := cicheck.LookupUses(db, u, ref)
	if len(ms) == 0 {
		return nil
	}
	var fixed []string
	for _, m := range ms {
		for _, v := range m.Fixed {
			if !slices.Contains(fixed, v) {
				fixed = append(fixed, v)
			}
		}
	}
	hint := "no known-good release is recorded: choose a release published after the incident, review it, and pin it by SHA"
	if len(fixed) > 0 {
		hint = "known-good release" + plural(len(fixed)) + ": " + strings.Join(fixed, ", ") + " (move to one and pin it)"
	}
	at := ref
	if ref != u.Ref {
		at = u.Ref + " (commit " + ref + ")"
	}
	return fmt.Errorf("%w: %s@%s is listed by %s; %s; rotate the secrets workflows using it could read",
		pin.ErrCompromised, u.FullName(), at, cicheck.DescribeMatches(ms), hint)
}

// checkAuthHost validates a --registry-auth-host value: a host name or IP
// address, optionally with a port, no scheme or path.
func checkAuthHost(h string) error {
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--registry-auth-host %q: bad port", termsafe.String(h))
		}
		host = hh
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return nil
	}
	if host == "" || len(host) > 253 || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return fmt.Errorf("--registry-auth-host %q: want HOST or HOST:PORT (no scheme or path)", termsafe.String(h))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&fs.ModeCharDevice != 0
}

// progressLine redraws one status line on a terminal.
func progressLine(w io.Writer) func(done, total int, what string) {
	return func(done, total int, what string) {
		if done >= total {
			fmt.Fprint(w, "\r\033[K")
			return
		}
		fmt.Fprintf(w, "\r\033[K[%d/%d] resolving %s", done+1, total, termsafe.String(what))
	}
}
