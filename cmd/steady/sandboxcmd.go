package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"steady/config"
	"steady/drill"
)

// newSandboxCmd is the hidden `steady sandbox`: the stand-ins for the
// application's processes that a drill configures as its manage, restart
// and test commands and runs as its worker. They act only on a drill's
// sandbox, found through the environment the drill sets (never the
// command line, which plans show), and refuse any other server.
func newSandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "sandbox",
		Short:  "The drill sandbox's built-in manage.py, Celery worker and restart (used by steady drill)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.AddCommand(newSandboxManageCmd(), newSandboxWorkerCmd(), newSandboxRestartCmd(), newSandboxStatusCmd())
	return cmd
}

func newSandboxManageCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "manage migrate|showmigrations [--plan]|check|test [calculations]",
		Short: "manage.py for the drill sandbox: the application's migrations and business-rule tests, without Django",
		Long: `The drill's manage command. It reads the sandbox database from
$` + drill.EnvDatabase + ` (else the configuration's db, as with
STEADY_CONFIG=<drill dir>/steady.yaml), refuses any database that is not a
drill sandbox's, and prints what Django 3.2 prints:

  migrate [--noinput]       apply the unapplied migrations, recorded in django_migrations as Django does
  showmigrations [--plan]   which migrations are applied
  check                     Django's system check
  test [calculations]       the business-rule tests (rolled back afterwards); exit 1 when one fails`,
		// manage.py's own options (--noinput, --plan) are its business.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			db := os.Getenv(drill.EnvDatabase)
			if db == "" {
				// A second terminal pointed at the drill with
				// STEADY_CONFIG=<drill>/steady.yaml gets its database from
				// there; Manage refuses it anyway unless it is a sandbox.
				if l, err := config.Load(nil, os.Getenv); err == nil {
					db = l.DB
				}
			}
			if code := drill.Manage(ctx, db, args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return silentExit(code)
			}
			return nil
		},
	}
}

func newSandboxWorkerCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "worker --drill DIR",
		Short: "The drill sandbox's Celery worker: runs recalculate_clinician from the broker queue",
		Long: `The drill's Celery worker. It reads the sandbox from $` + drill.EnvDatabase + `,
$` + drill.EnvCache + ` and $` + drill.EnvBroker + `, consumes the queue with Celery's
protocol 2 and runs calculations.tasks.recalculate_clinician. It exits when
its standard input closes (the drill holds the other end), on SIGTERM or
on ctrl+c, after finishing the task at hand. --drill names the drill it
belongs to, so the sandbox's clean-up recognises it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return exitf(exitUsage, "--drill DIR is required (the worker belongs to one drill)")
			}
			o, err := drill.WorkerOptionsFromEnv(cmd.OutOrStdout())
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				// EOF on the lifeline: the drill stops us, or is gone.
				_, _ = io.Copy(io.Discard, os.Stdin)
				cancel()
			}()
			if err := drill.RunWorker(ctx, o); err != nil {
				return exitf(exitFound, "%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "drill", "", "the drill's dir")
	return cmd
}

func newSandboxRestartCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "restart worker --drill DIR",
		Short: "Restart a drill sandbox's process (the worker), like docker compose restart",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return exitf(exitUsage, "--drill DIR is required (the drill whose %s to restart)", args[0])
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := drill.Restart(ctx, dir, args[0], cmd.OutOrStdout()); err != nil {
				return exitf(exitFound, "restart %s: %v", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "drill", "", "the drill's dir")
	return cmd
}

func newSandboxStatusCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status --drill DIR",
		Short: "Say whether a drill sandbox's worker runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return exitf(exitUsage, "--drill DIR is required")
			}
			if err := drill.Status(cmd.Context(), dir, cmd.OutOrStdout()); err != nil {
				return exitf(exitFound, "%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "drill", "", "the drill's dir")
	return cmd
}
