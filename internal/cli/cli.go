// Package cli implements the buildwall command line: one file per
// sub-command, each turning flags into an Options value for a domain package.
// Exit codes are defined in exit.go and nowhere else.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// Version is set at build time with -ldflags "-X github.com/buildwall/buildwall/internal/cli.Version=v1.2.3".
var Version = "dev"

// Env is everything a command may take from the process; tests pass their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Dir is the working directory; empty means the process's own.
	Dir string
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

// Main runs buildwall with args (without the program name) and returns the
// process exit code. It never calls os.Exit.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	root := newRoot(&env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	code := codeOf(err)
	if err != nil {
		if ee, ok := err.(*exitError); !ok || ee.err != nil {
			fmt.Fprintf(env.Stderr, "buildwall: %s\n", termsafe.String(err.Error()))
		}
		if code == ExitUsage {
			if _, ok := err.(*exitError); !ok {
				fmt.Fprintln(env.Stderr, "Run 'buildwall help' for usage.")
			}
		}
	}
	return code
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "buildwall",
		Short: "A build application firewall for CI/CD",
		Long: `buildwall guards CI/CD builds against supply-chain attacks.

  buildwall scan     gate a repository before anything is installed: malicious,
                     unpinned or unverifiable packages in lockfiles, and unsafe
                     CI configuration (workflows, actions, Dockerfiles, GitLab CI)
  buildwall pin      rewrite action and image references in CI configuration
                     to immutable commit SHAs and digests
  buildwall run      run a build in a sandbox whose network egress passes a
                     policy firewall, and report every connection
  buildwall policy   suggest a run policy from an audit report; check one
  buildwall db       manage the local malicious-package database (OSV format)
  buildwall rules    list the rules scan applies, with severities and fixes

Exit codes: scan: 0 ok, 1 findings at or above --fail-on, 2 usage error,
3 buildwall itself failed. run: the command's own status, 1 when block mode
refused something, 2 policy error, 125 no sandbox. See each command's help.`,
		Example: `  # Gate a repository in CI; fail on high or critical findings
  buildwall scan .

  # SARIF for GitHub code scanning, never failing the job
  buildwall scan --format sarif --output buildwall.sarif --fail-on none

  # A Markdown summary for the job page
  buildwall scan --format markdown >> "$GITHUB_STEP_SUMMARY"

  # Audit a build once, derive its policy, then enforce it
  buildwall run --report run.json -- npm ci
  buildwall policy suggest --report run.json > buildwall.yml
  buildwall run -- npm ci

  # Pin every action and image to an immutable reference
  buildwall pin --dry-run

  # Refresh the malicious-package database from an OSV export
  buildwall db update --from ./npm-all.zip`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// The template function runs only for --version: the embedded
	// database is not parsed for other commands.
	cobra.AddTemplateFunc("buildwallVersion", func() string { return versionText(debug.ReadBuildInfo()) })
	root.SetVersionTemplate("{{buildwallVersion}}")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(fmt.Errorf("%s: %w", c.CommandPath(), err))
	})
	for _, add := range commands {
		root.AddCommand(add(env))
	}
	return root
}

// commands is the explicit list of sub-commands.
var commands = []func(*Env) *cobra.Command{
	newScanCmd,
	newPinCmd,
	newDBCmd,
	newRulesCmd,
	newPolicyCmd,
	newRunCmd,
	newSandboxInitCmd,
}
