package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/atomicfile"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/report"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// policyEnv reads the toolchain configuration the presets expand from
// (all presets when none are named); tests replace it so they never depend
// on the machine's npm, go or pip.
var policyEnv = func(ctx context.Context, presets []string) policy.Env {
	return policy.Detector{Presets: presets}.Detect(ctx)
}

func newPolicyCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Write and check the egress policy of 'buildwall run'",
		Long: `The run policy is the run: section of buildwall.yml (or a --policy file):
which hosts, wildcards, CIDRs and presets a build may reach. See docs/policy.md.

  buildwall policy suggest   derive a policy from the report of an audit run
  buildwall policy check     parse a policy and show what its presets expand to`,
	}
	cmd.AddCommand(newPolicySuggestCmd(env), newPolicyCheckCmd(env))
	return cmd
}

func newPolicySuggestCmd(env *Env) *cobra.Command {
	var reportPath, format, output string
	cmd := &cobra.Command{
		Use:   "suggest --report FILE",
		Short: "Print the smallest policy that allows what a run reached",
		Long: `Suggest reads a run report (buildwall run --report FILE, best from an audit
run) and prints the smallest run: policy that allows exactly the connections
that run let through or audited, in block mode: only exact names connections
were made to (name:port), literal addresses and host-ports — never a wildcard,
a preset or a string that is not a host name. Left out and listed as "seen, not
suggested" (in the YAML header, or on stderr with --format json or when
merging): names only looked up, connections whose SNI/Host/target did not match their name,
suspected DNS tunnelling, rebinding targets and link-local addresses.

Standard output gets only the run: section (with its header comment). With
-o FILE and FILE an existing buildwall.yml, only its run: section is
replaced (or added at the end): every other byte, the scan: section and
comments included, stays as it was.

Exit codes: 0 printed, 2 usage error, unreadable report or an existing FILE
that is not valid YAML (or --format json over an existing FILE), 3 write
error.`,
		Example: `  # Audit once, review, commit, then enforce
  buildwall run --mode audit --report run.json -- npm ci
  buildwall policy suggest --report run.json -o buildwall.yml
  buildwall run -- npm ci`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reportPath == "" {
				return usageError(errors.New("policy suggest: --report is required"))
			}
			if format != "yaml" && format != "json" {
				return usageError(fmt.Errorf("policy suggest: --format %q is not yaml or json", format))
			}
			r, err := readRunReport(env, reportPath)
			if err != nil {
				return usageError(err)
			}
			sug := report.Suggest(r, policyEnv(cmd.Context(), nil))
			if output != "" {
				merged, ok, err := mergeSuggestion(env, output, format, sug)
				if err != nil {
					return err
				}
				if ok {
					return writePolicyOutput(env, output, func(w io.Writer) error {
						_, err := w.Write(merged)
						return err
					})
				}
			}
			return writePolicyOutput(env, output, func(w io.Writer) error {
				if format == "json" {
					if err := sug.WriteNotSuggested(env.Stderr); err != nil {
						return err
					}
					return writePolicyJSON(w, sug.Spec)
				}
				return sug.WriteYAML(w)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&reportPath, "report", "", "run report `FILE` (buildwall.run/v1 JSON)")
	f.StringVar(&format, "format", "yaml", "output format: yaml or json")
	f.StringVarP(&output, "output", "o", "", "write the policy to `FILE` instead of standard output")
	return cmd
}

func newPolicyCheckCmd(env *Env) *cobra.Command {
	var configFrom string
	cmd := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check a run policy and show what its presets expand to",
		Long: `Check parses the run policy in FILE (default: buildwall.yml), compiles it
against this machine's toolchain configuration and prints the mode, each
preset's expansion and any warnings. Errors name file:line:col.

With --config-from REF it prints the policy 'buildwall run --config-from REF'
would apply in this directory: REF's run: policy (or FILE, as --policy) with
the npm preset read from REF's .npmrc, and on stderr every way the tree's
policy weakens it.

Exit codes: 0 valid, 2 invalid or unreadable policy (or an unusable REF).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configFrom != "" {
				return checkTrustedPolicy(cmd.Context(), env, configFrom, args)
			}
			path := "buildwall.yml"
			if len(args) == 1 {
				path = args[0]
			}
			if env.Dir != "" && !filepath.IsAbs(path) {
				path = filepath.Join(env.Dir, path)
			}
			spec, err := policy.ParseFile(path)
			if err != nil {
				return usageError(err)
			}
			var penv policy.Env
			if presets := spec.Presets(); len(presets) > 0 {
				penv = policyEnv(cmd.Context(), presets)
			}
			p, err := policy.Compile(spec, penv)
			if err != nil {
				return usageError(err)
			}
			printPolicyCheck(env.Stdout, path, p)
			warns := p.Warnings()
			slices.Sort(warns)
			for _, wn := range warns {
				fmt.Fprintf(env.Stderr, "warning: %s\n", wn)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configFrom, "config-from", "", "show the policy `buildwall run --config-from REF` applies: the run: policy and .npmrc of the git revision `REF`, compared with the tree's")
	return cmd
}

// checkTrustedPolicy is `policy check --config-from REF [FILE]`: the
// policy run would apply, found as run finds it (warnings go to stderr
// there).
func checkTrustedPolicy(ctx context.Context, env *Env, ref string, args []string) error {
	dir := env.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return internalError(fmt.Errorf("find working directory: %w", err))
		}
	}
	fl := runFlags{configFrom: ref}
	if len(args) == 1 {
		fl.policy = args[0]
	}
	p, err := loadRunPolicy(ctx, env, dir, fl)
	if err != nil {
		return err
	}
	name := p.Spec().File
	if name == "" {
		name = "(no run policy)"
	}
	printPolicyCheck(env.Stdout, termsafe.String(name), p)
	return nil
}

// printPolicyCheck prints what check reports about p, the policy in path.
func printPolicyCheck(w io.Writer, path string, p *policy.Policy) {
	spec := p.Spec()
	fmt.Fprintf(w, "%s: valid run policy, %s mode, %d allow entries\n", path, p.Mode(), len(spec.Allow))
	exp := p.Expanded()
	for _, name := range policy.Presets() {
		if eps, ok := exp[name]; ok {
			fmt.Fprintf(w, "  preset %s: %s\n", name, strings.Join(eps, ", "))
		}
	}
	if len(spec.TCP) > 0 {
		fmt.Fprintf(w, "  tcp (opaque, unverified): %s\n", strings.Join(spec.TCP, ", "))
	}
	if hp := p.HostPorts(); len(hp) > 0 {
		fmt.Fprintf(w, "  host-ports: %s\n", strings.Trim(fmt.Sprint(hp), "[]"))
	}
	if u := p.Upstream(); u != "" {
		fmt.Fprintf(w, "  dns upstream: %s\n", u)
	}
	if l := p.TunnelLimit(); l != 0 {
		fmt.Fprintf(w, "  dns tunnel-limit: %d bytes of unique query names per domain per minute\n", l)
	}
}

func readRunReport(env *Env, path string) (*report.Report, error) {
	if env.Dir != "" && !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open run report: %w", err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// mergeSuggestion returns the existing file output with its run: section
// replaced by the suggestion, and ok; ok is false when output does not
// exist yet (it is written whole). What the header comment would have said
// goes to stderr.
func mergeSuggestion(env *Env, output, format string, sug *report.Suggestion) ([]byte, bool, error) {
	path := env.path(output)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, usageError(fmt.Errorf("read %s: %w", output, err))
	}
	if format == "json" {
		return nil, false, usageError(fmt.Errorf("policy suggest: %s exists; --format json cannot merge into it (use --format yaml, which replaces only its run: section)", output))
	}
	var buf bytes.Buffer
	if err := sug.WriteYAML(&buf); err != nil {
		return nil, false, internalError(err)
	}
	run, err := config.RunSection(buf.Bytes())
	if err != nil {
		return nil, false, internalError(err)
	}
	merged, err := config.ReplaceRun(output, old, run)
	if err != nil {
		return nil, false, usageError(fmt.Errorf("policy suggest: cannot merge into %w; nothing was written", err))
	}
	if err := sug.WriteNotSuggested(env.Stderr); err != nil {
		return nil, false, internalError(err)
	}
	return merged, true, nil
}

// writePolicyOutput runs write against stdout, or replaces the file named
// by output atomically (atomicfile): a failed write leaves it as it was.
func writePolicyOutput(env *Env, output string, write func(io.Writer) error) error {
	if output == "" {
		if err := write(env.Stdout); err != nil {
			return internalError(err)
		}
		return nil
	}
	if env.Dir != "" && !filepath.IsAbs(output) {
		output = filepath.Join(env.Dir, output)
	}
	f, err := atomicfile.Create(output, 0o644)
	if err != nil {
		return internalError(fmt.Errorf("create output: %w", err))
	}
	if err := write(f); err != nil {
		return internalError(errors.Join(err, f.Abort()))
	}
	if err := f.Commit(); err != nil {
		return internalError(err)
	}
	return nil
}

// writePolicyJSON writes spec as JSON with the policy file's own keys, so
// the output is itself a valid policy file (YAML is a superset of JSON).
func writePolicyJSON(w io.Writer, spec *policy.Spec) error {
	run := map[string]any{"mode": spec.Mode, "allow": spec.Allow}
	if len(spec.TCP) > 0 {
		run["tcp"] = spec.TCP
	}
	if len(spec.HostPorts) > 0 {
		run["host-ports"] = spec.HostPorts
	}
	if spec.DNS.Upstream != "" || spec.DNS.TunnelLimit != 0 {
		dns := map[string]any{}
		if spec.DNS.Upstream != "" {
			dns["upstream"] = spec.DNS.Upstream
		}
		if spec.DNS.TunnelLimit != 0 {
			dns["tunnel-limit"] = spec.DNS.TunnelLimit
		}
		run["dns"] = dns
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"run": run}); err != nil {
		return fmt.Errorf("write policy: %w", err)
	}
	return nil
}
