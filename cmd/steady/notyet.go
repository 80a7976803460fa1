package main

import (
	"github.com/spf13/cobra"
)

// notYet is the body of a command whose capability is not built yet: it
// says so and exits 2, so nothing pretends to work.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return exitf(exitUsage, "`steady %s` is not yet available in this build", what)
	}
}

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the incident TUI over SSH for the on-call team (not yet available)",
		RunE:  notYet("serve"),
	}
}

