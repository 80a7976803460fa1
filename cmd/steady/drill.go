package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"steady/internal/drill"
	"steady/internal/report"
	"steady/internal/serve"
	"steady/internal/session"
	"steady/internal/target"
	"steady/runbook"
	"steady/tui"
)

// drillFlags are the options of `steady drill`.
type drillFlags struct {
	seed  int64
	list  bool
	keep  bool
	serve bool
	ssh   serveFlags
}

func newDrillCmd() *cobra.Command {
	var f drillFlags
	names := scenarioNames()
	cmd := &cobra.Command{
		Use:   "drill [SCENARIO]",
		Short: "Practise the runbook on a private sandbox with an injected fault, then get a score and a debrief",
		Long: `Start a private PostgreSQL and Redis (temp dirs, 127.0.0.1, random ports;
nothing shared with any real system), build the application's database in
them (tens of clinicians, thousands of shifts and audit rows, summaries, a
django-redis cache, a Celery broker with a worker), inject the scenario's
fault and open the incident screen against it with a DRILL banner. The
fixes really work there: migrate, restart, recalculate and the tests run
steady's built-in stand-ins for Django and Celery, backup the real pg_dump.

When you quit, the drill is scored (time to the first true cause, causes
confirmed, backup before migrate, destructive actions that were not
needed, verification), the debrief is recorded in the journal and printed,
and the sandbox is removed. With --keep the journal, its Markdown report
and the backups stay under ./incidents/drills; the servers' data and
their password go with the sandbox.

The default scenario is random, with a new seed printed so the same drill
can be replayed with --seed. ctrl+c or SIGTERM at any time tears it all down.

Scenarios: ` + strings.Join(names, ", ") + ` (--list describes them)`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrill(cmd, scenarioArg(args), f)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.seed, "seed", 0, "replay a drill: the seed it printed (default: a new one)")
	fl.BoolVar(&f.list, "list", false, "list the scenarios, one line each")
	fl.BoolVar(&f.keep, "keep", false, "keep the journal, its report and the backups under ./incidents/drills (the sandbox goes)")
	fl.BoolVar(&f.serve, "serve", false, "host the drill over SSH: the trainee connects with an operator key, the facilitator watches with an observer key (see steady serve --help)")
	addServeFlags(cmd, &f.ssh)
	return cmd
}

func runDrill(cmd *cobra.Command, name string, f drillFlags) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.list {
		printScenarios(out)
		return nil
	}
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	var sshOpts serve.Options
	if f.serve {
		// The keys are checked before a sandbox is built for nothing.
		if sshOpts, _, err = serveOptions(cmd, l); err != nil {
			return err
		}
	}
	seed, err := drillSeed(cmd, f.seed)
	if err != nil {
		return err
	}
	if _, err := drill.Resolve(name, seed); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	rb, err := runbook.Load("", l.Runbooks, known())
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}

	// Until the sandbox is gone, ctrl+c and SIGTERM mean "tear down", not
	// "die": a second one is absorbed while the first is acted upon.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d, err := startSandbox(ctx, errw, "drill", drill.Options{Scenario: name, Seed: seed, Keep: f.keep})
	if err != nil {
		return err
	}
	defer stopSandbox(errw, "drill", d)
	if name == drill.Random {
		fmt.Fprintf(errw, "steady drill: random picked %s; replay it with `%s`\n", d.Scenario.Name, d.Replay())
	}
	if err := exportDrillEnv(d); err != nil {
		return err
	}
	t := target.New(&d.Config)
	defer t.Close()
	actor := session.Actor{Name: operatorName(&l.Config), Via: "local", Role: session.Operator}
	s, err := openDrillIncident(errw, d, rb, l.Runbooks, t, actor)
	if err != nil {
		return err
	}

	var uiErr error
	if f.serve {
		uiErr = serveDrill(ctx, errw, s, d, sshOpts, actor)
	} else {
		uiErr = tui.Run(ctx, tui.Options{Session: s, Actor: actor, Drill: d.Banner()})
	}
	if uiErr != nil && !errors.Is(uiErr, context.Canceled) {
		fmt.Fprintf(errw, "steady drill: the incident screen ended: %v\n", uiErr)
	}
	debrief(out, errw, s, d, rb, actor, f.keep)
	switch {
	case ctx.Err() != nil:
		return silentExit(exitAborted)
	case uiErr != nil && !errors.Is(uiErr, context.Canceled):
		// Said above; the drill was still scored and torn down.
		return silentExit(exitFound)
	}
	return nil
}

// startSandbox builds the sandbox of `steady drill` or `steady sandbox`
// (command), its progress indented on errw. Interrupted while it is
// built, it leaves nothing behind and ends with exit status 130.
func startSandbox(ctx context.Context, errw io.Writer, command string, o drill.Options) (*drill.Drill, error) {
	fmt.Fprintf(errw, "steady %s: scenario %s, seed %d\n", command, o.Scenario, o.Seed)
	o.Log = indent(errw)
	d, err := drill.Start(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(errw, "steady %s: interrupted; the sandbox was removed\n", command)
			return nil, silentExit(exitAborted)
		}
		return nil, exitf(exitFound, "%v", err)
	}
	return d, nil
}

// stopSandbox stops the servers and removes the sandbox (its steady.yaml,
// which holds the password, with it), saying what was kept.
func stopSandbox(errw io.Writer, command string, d *drill.Drill) {
	if err := d.Close(); err != nil {
		fmt.Fprintf(errw, "steady %s: %v\n", command, err)
		return
	}
	msg := "sandbox stopped and removed"
	if d.Kept != "" {
		msg += "; kept the journal, its report and the backups in " + d.Kept
	}
	fmt.Fprintf(errw, "steady %s: %s\n", command, msg)
}

// scenarioNames lists the scenarios a drill or a sandbox takes.
func scenarioNames() []string {
	var names []string
	for _, s := range drill.Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

// scenarioArg is the scenario a drill or a sandbox was given, else random.
func scenarioArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return drill.Random
}

// drillSeed is the seed a drill or a sandbox is built with: the one given
// with --seed, else a new one.
func drillSeed(cmd *cobra.Command, given int64) (int64, error) {
	if !cmd.Flags().Changed("seed") {
		return drill.NewSeed(), nil
	}
	if given == 0 {
		return 0, exitf(exitUsage, "--seed must not be 0")
	}
	return given, nil
}

// exportDrillEnv puts the sandbox in this process's environment: the
// drill's commands find it in what they inherit.
func exportDrillEnv(d *drill.Drill) error {
	for _, kv := range d.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return exitf(exitUsage, "set %s for the drill's commands: %v", k, err)
		}
	}
	return nil
}

// openDrillIncident opens the drill's incident with its briefing as the
// first note, and shows the briefing; runbooks is the directory of
// runbooks besides the built-in ones.
func openDrillIncident(errw io.Writer, d *drill.Drill, rb *runbook.Runbook, runbooks string, t *target.Target, actor session.Actor) (*session.Session, error) {
	s, err := session.Open(session.Options{Runbook: rb, Target: t, Dir: d.Config.JournalDir, Actor: actor, Drill: d.Session(), Version: version, Runbooks: runbooks})
	if err != nil {
		return nil, exitf(exitFound, "open the drill's incident: %v", err)
	}
	facilitator := session.Actor{Name: "drill", Via: "steady", Role: session.Observer}
	if err := s.Note(facilitator, briefingItem(rb), "BRIEFING — "+d.Briefing); err != nil {
		_ = s.Shutdown()
		return nil, exitf(exitFound, "record the briefing: %v", err)
	}
	fmt.Fprintf(errw, "\nBRIEFING: %s\n\n", d.Briefing)
	return s, nil
}

// debrief scores the drill and shows the debrief, where its journal and
// report are, and how to replay it.
func debrief(out, errw io.Writer, s *session.Session, d *drill.Drill, rb *runbook.Runbook, actor session.Actor, keep bool) {
	deb, path, err := finishDrill(s, d, rb, actor)
	if err != nil {
		fmt.Fprintf(errw, "steady drill: %v\n", err)
	}
	fmt.Fprint(out, "\n"+deb.Text())
	switch {
	case path == "":
	case keep:
		fmt.Fprintf(out, "\nJournal: %s (head %s)\nReport:  %s\n", s.JournalPath(), s.Head(), path)
	default:
		fmt.Fprintln(out, "\nThe journal and its report lived in the sandbox and go with it; keep them next time with --keep.")
	}
	fmt.Fprintf(out, "Replay this drill: %s\n", d.Replay())
}

// briefingItem is where the briefing is noted: the first symptom, the item
// the incident screen opens on, so the trainee reads it first.
func briefingItem(rb *runbook.Runbook) string {
	for _, it := range rb.Items() {
		if it.Section == runbook.Symptoms {
			return it.ID
		}
	}
	return ""
}

// finishDrill scores the drill, records the debrief, closes the incident
// and writes the Markdown report next to the journal, returning its path.
func finishDrill(s *session.Session, d *drill.Drill, rb *runbook.Runbook, actor session.Actor) (drill.Debrief, string, error) {
	// Probes and actions still running would change the score after it
	// was given; the session stops them when it closes anyway.
	deb := drill.Score(s.State(), d.Scenario, rb, time.Now())
	if _, err := s.Append(session.System, session.TypeDrillScored, deb.Map()); err != nil {
		_ = s.Shutdown()
		return deb, "", fmt.Errorf("record the debrief: %w", err)
	}
	if err := s.Close(actor, fmt.Sprintf("drill %s ended: %d/100", d.Scenario.Name, deb.Score)); err != nil {
		return deb, "", fmt.Errorf("close the drill's incident: %w", err)
	}
	path, err := writeReport(s.JournalPath(), rb)
	return deb, path, err
}

// writeReport writes the Markdown report of a journal beside it.
func writeReport(journal string, rb *runbook.Runbook) (string, error) {
	data, err := os.ReadFile(journal)
	if err != nil {
		return "", fmt.Errorf("read the journal for the report: %w", err)
	}
	events, _, err := session.ReadEvents(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("read %s for the report: %w", journal, err)
	}
	v, err := session.VerifyFile(journal, nil)
	if err != nil {
		return "", fmt.Errorf("verify %s for the report: %w", journal, err)
	}
	integrity := report.IntegrityOf(v)
	path := strings.TrimSuffix(journal, filepath.Ext(journal)) + ".md"
	if err := os.WriteFile(path, []byte(report.Build(rb, events, integrity, journal).Markdown()), 0o600); err != nil {
		return "", fmt.Errorf("write the report: %w", err)
	}
	return path, nil
}

func printScenarios(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range drill.Scenarios() {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Summary)
	}
	tw.Flush()
}

// indent prefixes each progress line of the drill's build.
func indent(w io.Writer) io.Writer { return &prefixWriter{w: w, prefix: "  "} }

// prefixWriter writes prefix at the start of every line.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, c := range b {
		if !p.mid {
			buf.WriteString(p.prefix)
		}
		buf.WriteByte(c)
		p.mid = c != '\n'
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// serveDrill hosts the drill over SSH until every client has left (or the
// drill is stopped): the trainee works it with an operator key while the
// facilitator watches with an observer key.
func serveDrill(ctx context.Context, errw io.Writer, s *session.Session, d *drill.Drill, o serve.Options, opener session.Actor) error {
	// Whoever started the drill is not at a screen here; only SSH
	// clients are online.
	if err := s.Leave(opener); err != nil {
		return err
	}
	o.Session, o.Drill, o.StopWhenAllLeave = s, d.Banner(), true
	defer outliveOwnOutput()()
	srv, err := serve.New(o)
	if err != nil {
		return err
	}
	port := portOf(srv.Addr().String())
	fmt.Fprintf(errw, "steady drill: serving the drill on %s\n", srv.Addr())
	fmt.Fprintf(errw, "  trainee (operator key):     ssh -t -p %s HOST\n", port)
	fmt.Fprintf(errw, "  facilitator (observer key): ssh -t -p %s HOST\n", port)
	fmt.Fprintln(errw, "The drill ends when everyone has left, or with ctrl+c here.")
	return srv.Serve(ctx)
}
