package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the real db command.
func newDBCmd(env *Env) *cobra.Command {
	return &cobra.Command{Use: "db", Short: "Manage the malicious-package database",
		RunE: func(*cobra.Command, []string) error { return internalError(errors.New("db: not implemented yet")) }}
}
