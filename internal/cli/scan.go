package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the real scan command.
func newScanCmd(env *Env) *cobra.Command {
	return &cobra.Command{Use: "scan [PATH...]", Short: "Scan lockfiles for supply-chain risks",
		RunE: func(*cobra.Command, []string) error { return internalError(errors.New("scan: not implemented yet")) }}
}
