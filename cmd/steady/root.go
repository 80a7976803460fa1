package main

import (
	"os"

	"github.com/spf13/cobra"

	"steady/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRoot() *cobra.Command {
	var f runFlags
	root := &cobra.Command{
		Use:   "steady [RUNBOOK]",
		Short: "Walk a data-inconsistency incident: live checklist, read-only probes, confirmed fixes, a journal",
		Long: `steady is the on-call engineer's companion for a data-inconsistency incident
in a Django + PostgreSQL + Redis + Celery application (shift counts,
deficiencies or leave balances that don't add up).

It turns the runbook into a live checklist, runs read-only probes against
the real systems, carries out fixes only after you have seen exactly what
they will do and confirmed, and records everything in a tamper-evident
journal that becomes the postmortem's verification checklist.

Start here:
  steady drill                 practise on a private sandbox with an injected fault
  steady sandbox               the same sandbox without the screen, to try check, act and serve on
  steady --db URL --redis URL  open an incident against your systems (same as steady run)
  steady check                 run every probe headless (cron-friendly exit code)`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIncident(cmd, args, f)
		},
	}
	f.add(root)
	config.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newRunCmd(),
		newInitCmd(),
		newApproveCmd(),
		newCheckCmd(),
		newActCmd(),
		newDrillCmd(),
		newServeCmd(),
		newReportCmd(),
		newRunbookCmd(),
		newConfigCmd(),
		newVersionCmd(),
		newSandboxCmd(),
	)
	root.SetOut(os.Stdout)
	root.SetErr(os.Stderr)
	return root
}

// loadConfig reads the configuration for a command: flags > environment >
// steady.yaml > defaults.
func loadConfig(cmd *cobra.Command) (*config.Loaded, error) {
	l, err := config.Load(cmd.Flags(), os.Getenv)
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	return l, nil
}
