package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"steady/internal/config"
	"steady/internal/drill"
	"steady/internal/secret"
)

// newSandboxCmd is `steady sandbox`: a drill's sandbox without the
// incident screen, to try `steady check`, `act`, `run` and `serve` on from
// another terminal while learning. Its hidden subcommands are the
// stand-ins for the application's processes that a drill configures as
// its manage, restart and test commands and runs as its worker. They act
// only on a drill's sandbox, found through the environment the drill sets
// or its steady.yaml (never the command line, which plans show), and
// refuse any other server.
func newSandboxCmd() *cobra.Command {
	var seed int64
	names := scenarioNames()
	cmd := &cobra.Command{
		Use:   "sandbox [SCENARIO]",
		Short: "Start a private PostgreSQL and Redis holding the example application with a fault, to try steady on",
		Long: `Start what a drill starts — a private PostgreSQL and Redis (temp dirs,
127.0.0.1, random ports), the example application's database, cache and
Celery worker, and the scenario's fault — without the incident screen,
and print the one variable that points steady at it. From another
terminal, steady check, steady act, steady and steady serve then work on
the sandbox as they would on your systems; nothing real is touched.
Journals and backups go into the sandbox.

It runs until ctrl+c or SIGTERM, which stop the servers and remove
everything, the sandbox's steady.yaml (which holds its password) included.

The default scenario is random, with the seed printed; --seed replays it.
Scenarios: ` + strings.Join(names, ", ") + ` (steady drill --list describes them)`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSandbox(cmd, scenarioArg(args), seed)
		},
	}
	cmd.Flags().Int64Var(&seed, "seed", 0, "replay a sandbox: the seed it printed (default: a new one)")
	for _, sub := range []*cobra.Command{newSandboxManageCmd(), newSandboxWorkerCmd(), newSandboxRestartCmd(), newSandboxStatusCmd()} {
		// The drill's own machinery: its commands run them, people do not.
		sub.Hidden = true
		cmd.AddCommand(sub)
	}
	return cmd
}

// runSandbox builds the sandbox, says how to use it, and tears it down
// on the first ctrl+c or SIGTERM.
func runSandbox(cmd *cobra.Command, name string, seed int64) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	seed, err := drillSeed(cmd, seed)
	if err != nil {
		return err
	}
	if _, err := drill.Resolve(name, seed); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := startSandbox(ctx, errw, "sandbox", drill.Options{Scenario: name, Seed: seed})
	if err != nil {
		return err
	}
	defer stopSandbox(errw, "sandbox", d)
	printSandbox(out, d, name)
	<-ctx.Done()
	return nil
}

// printSandbox says what runs and how to point steady at it: through the
// sandbox's steady.yaml, so that no password is printed.
func printSandbox(w io.Writer, d *drill.Drill, asked string) {
	replay := ""
	if asked == drill.Random {
		replay = fmt.Sprintf(" (picked at random: replay it with `steady sandbox %s --seed %d`)", d.Scenario.Name, d.Seed)
	}
	fmt.Fprintf(w, `
The sandbox is ready, with the example application and the fault %s%s:
%s.

  database  %s
  cache     %s
  broker    %s, with a Celery worker (pid %d)

In another terminal, point steady at it:

  export STEADY_CONFIG=%s

  steady check                               every probe, a table and each cause's verdict
  steady act backup --plan                   what a fix would do, without doing it
  steady act backup --yes                    do it
  steady                                     the incident screen
  steady serve --authorized-keys team.keys   the incident screen over SSH (steady serve --help)

Its journals and backups stay in the sandbox and go with it.
ctrl+c here stops the servers and removes everything.
`, d.Scenario.Name, replay, d.Scenario.Summary, secret.RedactURL(d.Config.DB), secret.RedactURL(d.Config.Redis), secret.RedactURL(d.Config.Broker),
		d.WorkerPID(), d.ConfigFile)
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
