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

func newDrillCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drill [SCENARIO]",
		Short: "Practise the runbook on a private sandbox with injected faults (not yet available)",
		RunE:  notYet("drill"),
	}
}

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the incident TUI over SSH for the on-call team (not yet available)",
		RunE:  notYet("serve"),
	}
}

func newActCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "act ACTION",
		Short: "Plan or carry out one fix headless (not yet available)",
		RunE:  notYet("act"),
	}
}

type runFlags struct{}

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run [RUNBOOK]",
		Short: "Open an incident in the terminal UI (not yet available)",
		RunE:  notYet("run"),
	}
}

func runIncident(cmd *cobra.Command, args []string, f runFlags) error {
	return notYet("run")(cmd, args)
}
