package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/sandbox"
	"github.com/buildwall/buildwall/internal/session"
	"github.com/buildwall/buildwall/internal/termsafe"
)

type runFlags struct {
	policy          string
	mode            string
	report          string
	events          string
	dnsUpstream     string
	noFailOnBlock   bool
	unsafeNoSandbox bool
	// configFrom is the trusted git revision to read the run policy and
	// registry configuration from.
	configFrom string
}

func newRunCmd(env *Env) *cobra.Command {
	var fl runFlags
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARGS...]",
		Short: "Run a build in a sandbox whose network egress passes a policy firewall",
		Long: `Run runs CMD in new Linux user, network, mount and PID namespaces. Every TCP
connection leaving the sandbox is redirected (nftables, inside the sandbox) to
buildwall's transparent proxy, every DNS query to buildwall's DNS server, and
everything else (other UDP, ICMP, IPv6, raw sockets) is dropped and reported.
Names, not addresses, are checked: allowed names resolve to private synthetic
addresses bound to the name, and the proxy dials the name itself, checking the
TLS SNI and HTTP Host against it.

The policy is the run: section of buildwall.yml (or --policy FILE). Without a
policy, run records everything in audit mode. In audit mode everything TCP and
DNS is let through and what block mode would refuse is flagged; in block mode
it is refused (TCP reset, NXDOMAIN).

In a pull request the tree's buildwall.yml and .npmrc were written by the
branch's author. With --config-from REF the run: policy and the project .npmrc
the npm preset expands from are read from the git revision REF instead. Without
it, when $GITHUB_BASE_REF or $CI_MERGE_REQUEST_TARGET_BRANCH_NAME names the
base branch, the tree's policy is compared with origin/<base>'s: if it lets
more through (new allow, tcp, host-ports or unix-sockets entries, audit
instead of block, another dns.upstream, a higher dns.tunnel-limit, a registry
the branch's .npmrc adds to a preset), the base's policy applies and the
report's warnings say "policy weakened by the branch: ...". A --policy FILE
is the workflow's choice and is not compared (only the .npmrc it expands
from is): keep it outside the branch's control.

CMD's working directory, environment, stdio and exit status pass through.
SIGINT, SIGTERM and SIGHUP are forwarded to it; when it exits every process
left in the sandbox is killed.

Exit codes: CMD's own exit status (128+N when killed by signal N);
1 in block mode when something was blocked and CMD exited 0 (unless
--no-fail-on-block); 2 usage or policy error (nothing ran); 3 buildwall
failed after CMD ran; 125 the sandbox could not be created (CMD did not run).`,
		Example: `  # Discover what a build talks to, then turn it into a policy
  buildwall run --report run.json -- npm ci
  buildwall policy suggest --report run.json > buildwall.yml

  # Enforce the committed policy
  buildwall run -- npm ci

  # In a pull request, enforce the base branch's policy
  buildwall run --config-from origin/main -- npm ci

  # Stream events as JSON lines; Markdown summary lands in $GITHUB_STEP_SUMMARY
  buildwall run --mode block --events events.jsonl -- make test`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), env, fl, args)
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&fl.policy, "policy", "", "read the run policy from `FILE` (default: the run: section of buildwall.yml)")
	f.StringVar(&fl.configFrom, "config-from", "", "read the run: policy and the registry configuration presets expand from (.npmrc) from the git revision `REF` (a pull request's base, e.g. origin/main); the tree's are only compared (default: compare with origin/$GITHUB_BASE_REF when set)")
	f.StringVar(&fl.mode, "mode", "", "override the policy's mode: audit or block")
	f.StringVar(&fl.report, "report", "", "write the JSON run report (schema buildwall.run/v1) to `FILE`")
	f.StringVar(&fl.events, "events", "", "stream every event as a JSON line to `FILE` as it happens")
	f.StringVar(&fl.dnsUpstream, "dns-upstream", "", "resolve names through `HOST:PORT` (default: the policy's dns.upstream, else /etc/resolv.conf)")
	f.BoolVar(&fl.noFailOnBlock, "no-fail-on-block", false, "in block mode, exit with CMD's status even when something was blocked")
	f.BoolVar(&fl.unsafeNoSandbox, "unsafe-no-sandbox", false, "if the sandbox cannot be created, run CMD WITHOUT ANY NETWORK FILTERING (never use in CI)")
	return cmd
}

func runRun(ctx context.Context, env *Env, fl runFlags, args []string) error {
	dir := env.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return internalError(fmt.Errorf("find working directory: %w", err))
		}
	}
	pol, err := loadRunPolicy(ctx, env, dir, fl)
	if err != nil {
		return err
	}
	if fl.dnsUpstream != "" {
		if _, _, err := net.SplitHostPort(fl.dnsUpstream); err != nil {
			return usageError(fmt.Errorf("--dns-upstream %q: %w", fl.dnsUpstream, err))
		}
	}
	opts := session.Options{
		Args: args, Dir: dir,
		Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		Policy: pol, Upstream: fl.dnsUpstream, FailOnBlock: !fl.noFailOnBlock,
		Summary: env.Stderr,
	}
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	// The run's own files are opened now, before the command exists, and
	// written only through these handles (see session.OutputFile).
	if fl.events != "" {
		f, err := session.CreateOutput(abs(dir, fl.events))
		if err != nil {
			return usageError(fmt.Errorf("open events file: %w", err))
		}
		closers = append(closers, f)
		opts.Events = f
		opts.Protect = append(opts.Protect, f)
	}
	if fl.report != "" {
		f, err := session.CreateReport(abs(dir, fl.report))
		if err != nil {
			return usageError(fmt.Errorf("open report file: %w", err))
		}
		closers = append(closers, f)
		opts.Report = f
		opts.Protect = append(opts.Protect, f)
	}
	if p := env.getenv("GITHUB_STEP_SUMMARY"); p != "" {
		f, err := session.AppendOutput(abs(dir, p))
		if err != nil {
			fmt.Fprintf(env.Stderr, "buildwall: warning: open $GITHUB_STEP_SUMMARY: %v\n", err)
		} else {
			closers = append(closers, f)
			opts.StepSummary = f
			opts.Protect = append(opts.Protect, f)
		}
	}

	// The command gets a session of its own; when stdin is a terminal it
	// gets a pseudo-terminal of buildwall's, relayed to ours (see
	// run_tty_linux.go), never our terminal itself.
	tty, err := attachTerminal(env, &opts)
	if err != nil {
		return internalError(err)
	}
	defer tty.restore()

	// Signals go to the command; buildwall itself keeps running until the
	// command is gone so that the report is always written. The command is
	// in a process group of its own, so a terminal's signals (Ctrl-C
	// without a relayed terminal) reach only buildwall and are forwarded.
	caught := make(chan os.Signal, 4)
	signal.Notify(caught, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer func() {
		signal.Stop(caught)
		close(caught)
	}()
	sigs := make(chan os.Signal, 4)
	go func() {
		for s := range caught {
			select {
			case sigs <- s:
			default: // the session has stopped forwarding
			}
		}
	}()
	opts.Signals = sigs

	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(session.Procs))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(session.MemoryLimit))
	}
	res, err := session.Run(context.WithoutCancel(ctx), opts)
	if errors.Is(err, session.ErrSandbox) {
		if fl.unsafeNoSandbox {
			return runUnfiltered(ctx, env, dir, args, err)
		}
		return withCode(ExitSandbox, err)
	}
	if res == nil {
		return internalError(err)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "buildwall: %s\n", termsafe.String(err.Error()))
	}
	if res.ExitCode != 0 {
		return withCode(res.ExitCode, nil)
	}
	if err != nil {
		return withCode(ExitInternal, nil)
	}
	return nil
}

// runUnfiltered is --unsafe-no-sandbox: the command runs with no network
// control at all, and says so loudly.
func runUnfiltered(ctx context.Context, env *Env, dir string, args []string, why error) error {
	fmt.Fprintf(env.Stderr, "buildwall: WARNING: %v\nbuildwall: WARNING: --unsafe-no-sandbox: running %q WITHOUT ANY NETWORK FILTERING OR RECORDING\n", why, args[0])
	c := exec.CommandContext(ctx, args[0], args[1:]...)
	c.Dir, c.Stdin, c.Stdout, c.Stderr = dir, env.Stdin, env.Stdout, env.Stderr
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return withCode(128+int(ws.Signal()), nil)
		}
		return withCode(ee.ExitCode(), nil)
	default:
		return withCode(127, fmt.Errorf("run %s: %w", args[0], err))
	}
}

func abs(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// newSandboxInitCmd is the hidden step that `buildwall run` re-executes
// inside the new namespaces (see package sandbox). It is not for users.
func newSandboxInitCmd(*Env) *cobra.Command {
	return &cobra.Command{
		Use:                "__sandbox-init",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			if code := sandbox.Init(); code != 0 {
				return withCode(code, nil)
			}
			return nil
		},
	}
}
