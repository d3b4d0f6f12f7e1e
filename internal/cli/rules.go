package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/output"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/trust"
)

// allRules returns the metadata of every rule buildwall has, in the order
// of the rule reference: lockfile rules, then CI configuration rules. It is
// the single list behind `buildwall rules` and the README's rule table
// (TestREADMERuleTable), so neither can drift from the code.
func allRules() []finding.Rule {
	var out []finding.Rule
	for _, r := range lockcheck.Rules() {
		out = append(out, r.Rule)
	}
	for _, r := range cicheck.Rules() {
		out = append(out, r.Rule)
	}
	out = append(out, trust.Metadata()...)
	return append(out, scan.Rules()...)
}

// rulesOptions are the flags of `buildwall rules`.
type rulesOptions struct {
	format string
}

func newRulesCmd(env *Env) *cobra.Command {
	var o rulesOptions
	cmd := &cobra.Command{
		Use:   "rules [RULE-ID...]",
		Short: "List the rules buildwall checks, with severities and fixes",
		Long: `List every rule buildwall scan checks: its stable ID, default severity, what
it catches and how to fix it. With RULE-IDs, show only those rules (and their
longer help in the json format).

Rule IDs are a public contract: use them in buildwall.yml ignores and in
SARIF-based tooling.`,
		Example: `  # All rules, aligned for a terminal
  buildwall rules

  # The Markdown table of the README's rule reference
  buildwall rules --format markdown

  # One rule as JSON
  buildwall rules --format json missing-integrity`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRules(env, o, args)
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "text", "output format: text, json or markdown")
	return cmd
}

func runRules(env *Env, o rulesOptions, ids []string) error {
	f, err := output.ParseFormat(o.format)
	if err != nil {
		return usageError(fmt.Errorf("rules: %w", err))
	}
	if f == output.FormatSARIF {
		return usageError(fmt.Errorf("rules: format %q does not list rules (want text, json or markdown)", f))
	}
	rules := allRules()
	if len(ids) > 0 {
		rules, err = selectRules(rules, ids)
		if err != nil {
			return usageError(fmt.Errorf("rules: %w", err))
		}
	}
	if err := output.WriteRules(env.Stdout, f, rules); err != nil {
		return internalError(err)
	}
	return nil
}

// selectRules returns the rules named by ids, in the order of ids. An
// unknown ID is an error that lists the known ones.
func selectRules(all []finding.Rule, ids []string) ([]finding.Rule, error) {
	var out []finding.Rule
	for _, id := range ids {
		i := slices.IndexFunc(all, func(r finding.Rule) bool { return r.ID == id })
		if i < 0 {
			known := make([]string, len(all))
			for j, r := range all {
				known[j] = r.ID
			}
			return nil, fmt.Errorf("unknown rule %q (known: %s)", id, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
