package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
	"steady/internal/visible"
	"steady/probes"
	"steady/runbook"
)

// actFlags are the options of `steady act`.
type actFlags struct {
	plan     bool
	yes      bool
	confirm  string
	override string
	incident string
	// noWait gives up at once when a second operator must approve;
	// waitApproval is how long to wait for one otherwise.
	noWait       bool
	waitApproval time.Duration
	fresh        bool
	item         string
	runbook      string
	params       []string
	// Shorthands for the parameters most often given.
	clinician, from, to, mode string
}

func newActCmd() *cobra.Command {
	var f actFlags
	cmd := &cobra.Command{
		Use:   "act ACTION",
		Short: "Plan or carry out one fix headless, recorded in the incident's journal",
		Long: `Plan, or carry out, one of the runbook's fixes without the terminal UI, with
the same guards: the plan shows exactly what will run; destructive actions
need the confirm phrase typed with --confirm; preconditions (a verified
backup before migrate, ...) are checked again when it runs.

Everything is recorded in the current incident's journal: --incident ID, or
else the latest unfinished incident in the journal directory, or else a new
incident (--new: always). So a backup taken by one "steady act backup"
satisfies the precondition of the next "steady act migrate". A journal that
does not verify is never appended to: act says where it breaks and exits 1,
and --new goes on in a new incident that links it.

Actions: ` + actionList() + `

Examples:
  steady act backup --plan                        print and record the plan
  steady act backup --yes                         take and verify a backup
  steady act migrate --yes --confirm appdb        apply migrations (needs the backup)
  steady act flush-cache --mode flushall --yes --confirm 'drop 12 queued tasks'
  steady act recalculate --clinician 7 --from 2025-03-01 --to 2025-03-31 --yes

Exit status: 0 when the plan was printed (--plan) or the action succeeded;
1 when it was not carried out (no --yes), refused, failed or could not be
planned; 2 for bad flags or configuration; 130 when interrupted (ctrl+c
cancels the running action: SIGINT to its processes, then SIGKILL).`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: actions.IDs(),
		RunE:      func(cmd *cobra.Command, args []string) error { return runAct(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.plan, "plan", false, "print the plan, record it, and stop")
	fl.BoolVar(&f.yes, "yes", false, "carry the action out (after printing the plan)")
	fl.StringVar(&f.confirm, "confirm", "", "the confirm phrase a destructive plan asks for, typed exactly")
	fl.StringVar(&f.override, "override", "", "waive overridable preconditions, with this written reason (journaled)")
	fl.BoolVar(&f.noWait, "no-wait", false, "when the incident's two-person rule needs a second operator's approval, exit 1 at once instead of waiting")
	fl.DurationVar(&f.waitApproval, "wait-approval", 30*time.Minute, "how long to wait for a second operator's approval (steady approve RUN)")
	fl.StringVar(&f.incident, "incident", "", "record into this incident (id in the journal directory, or a journal file)")
	fl.BoolVar(&f.fresh, "new", false, "record into a new incident even when an unfinished one exists (one whose journal does not verify is linked from it)")
	fl.StringVar(&f.item, "item", "", "the runbook item the action belongs to (default: the first item bound to it, preferring a confirmed cause)")
	fl.StringVar(&f.runbook, "runbook", "", "runbook of a new incident (default "+runbook.DefaultName+")")
	fl.StringArrayVar(&f.params, "param", nil, "an action parameter, key=value (repeatable)")
	fl.StringVar(&f.clinician, "clinician", "", "recalculate: the clinician id (with --from and --to)")
	fl.StringVar(&f.from, "from", "", "recalculate: first day, YYYY-MM-DD")
	fl.StringVar(&f.to, "to", "", "recalculate: last day, YYYY-MM-DD")
	fl.StringVar(&f.mode, "mode", "", "the action's mode (backup: auto|pg_dump|scoped|restore_point|pgbackrest|dumpdata; flush-cache: auto|flushdb|unlink|flushall; recalculate: celery|command)")
	return cmd
}

func actionList() string {
	var parts []string
	for _, id := range actions.IDs() {
		a, _ := actions.Get(id)
		parts = append(parts, fmt.Sprintf("\n  %-12s %s", id, a.Title()))
	}
	return strings.Join(parts, "")
}

func runAct(cmd *cobra.Command, id string, f actFlags) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	act, ok := actions.Get(id)
	if !ok {
		return exitf(exitUsage, "unknown action %q (known: %s)", id, strings.Join(actions.IDs(), ", "))
	}
	if f.plan && f.yes {
		return exitf(exitUsage, "--plan only plans; drop it to carry the action out with --yes")
	}
	if f.fresh && f.incident != "" {
		return exitf(exitUsage, "--new opens a new incident; --incident names an existing one: give one of them")
	}
	params, err := actParams(act, f)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	w := cmd.OutOrStdout()
	actor := session.Actor{Name: operatorName(&l.Config), Via: "cli", Role: session.Operator}

	// The first ctrl+c cancels the action; until it has stopped, further
	// ones are absorbed so its processes are never orphaned.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	t := target.New(&l.Config)
	defer t.Close()
	learnProfile(ctx, l, t, cmd.ErrOrStderr())
	s, err := openIncident(l, f, id, actor, t, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer s.Shutdown()

	item, err := pickItem(s, id, f.item)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	run, err := s.PlanAction(ctx, actor, item, id, params)
	if err != nil {
		var nc *actions.NotConfiguredError
		switch {
		case ctx.Err() != nil:
			fmt.Fprintln(cmd.ErrOrStderr(), "steady: interrupted while planning; nothing was run")
			return silentExit(exitAborted)
		case errors.As(err, &nc):
			return exitf(exitUsage, "%v", err)
		}
		return exitf(exitFound, "%v", err)
	}
	// A plan of thousands of steps is one write, not one per line.
	bw := bufio.NewWriter(w)
	printPlan(bw, s, run)
	if err := bw.Flush(); err != nil {
		return err
	}
	again := actAgain(id, params, run.Plan, f)
	if f.plan {
		fmt.Fprintf(w, "\nRecorded as %s of incident %s. To carry it out:\n  %s\n", run.ID, s.ID(), again)
		return nil
	}
	if !f.yes {
		fmt.Fprintf(w, "\nNot carried out (recorded as %s of incident %s). To carry it out:\n  %s\n", run.ID, s.ID(), again)
		return silentExit(exitFound)
	}
	return executeAct(ctx, w, s, actor, run, f)
}

// actParams merges --param and the shorthand flags and checks them
// against the action's declared parameters.
func actParams(act actions.Action, f actFlags) (map[string]string, error) {
	params := map[string]string{}
	for _, kv := range f.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--param %q: want key=value", kv)
		}
		params[strings.TrimSpace(k)] = v
	}
	for k, v := range map[string]string{"clinician": f.clinician, "from": f.from, "to": f.to, "mode": f.mode} {
		if v != "" {
			params[k] = v
		}
	}
	if msgs := probes.CheckDeclared(act.Params(), params); len(msgs) > 0 {
		return nil, fmt.Errorf("%s: %s", act.ID(), strings.Join(msgs, "; "))
	}
	return params, nil
}

// operatorName is steady.yaml's operator, else the OS user.
func operatorName(cfg *config.Config) string {
	if cfg.Operator != "" {
		return cfg.Operator
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// openIncident resumes --incident, else the latest unfinished incident of
// the journal directory (unless --new), else opens a new one.
func openIncident(l *config.Loaded, f actFlags, id string, actor session.Actor, t *target.Target, errw io.Writer) (*session.Session, error) {
	dir := l.JournalDir
	path := ""
	var follows *session.Link
	switch {
	case f.incident != "":
		path = f.incident
		if !strings.HasSuffix(path, ".jsonl") && !strings.ContainsRune(path, filepath.Separator) {
			path = filepath.Join(dir, path+".jsonl")
		}
		events, _, err := session.ReadJournal(path)
		if len(events) == 0 {
			return nil, exitf(exitUsage, "--incident %s: %v (the journal directory is %s)", f.incident, err, dir)
		}
		for _, e := range events {
			if e.Type == session.TypeClosed {
				return nil, exitf(exitFound, "incident %s is closed; leave out --incident to record into the latest unfinished one, or a new one", f.incident)
			}
		}
	case f.fresh:
		follows = followsDamaged(dir)
	default:
		if inf, ok := session.LatestUnfinished(dir); ok {
			path = inf.Path
		}
	}
	opts := session.Options{Target: t, Dir: dir, Actor: actor, Version: version, Approval: session.Approval(l.Actions.Approval), Follows: follows, Runbooks: l.Runbooks}
	if path != "" {
		rb, err := session.LoadRunbookFor(path, l.Runbooks, known())
		if err != nil {
			return nil, exitf(exitUsage, "load the runbook of %s: %v", path, err)
		}
		opts.Runbook = rb
		s, rep, err := session.Resume(path, opts)
		if err != nil {
			if refused := refuseDamaged(err, "steady act "+id+" --new ..."); refused != nil {
				return nil, refused
			}
			return nil, lockedOr(err, path)
		}
		if rep.Truncated || len(rep.Unknown) > 0 || rep.RunbookChanged {
			for _, line := range rep.Lines() {
				fmt.Fprintln(errw, "steady: "+line)
			}
		}
		return s, nil
	}
	rb, err := runbook.Load(f.runbook, l.Runbooks, known())
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	opts.Runbook = rb
	s, err := session.Open(opts)
	if err != nil {
		return nil, lockedOr(err, dir)
	}
	sayOpened(errw, s, follows)
	return s, nil
}

// lockedOr explains a journal held by another steady process.
func lockedOr(err error, path string) error {
	if errors.Is(err, session.ErrLocked) {
		return exitf(exitFound, "the incident in %s is open in another steady process (a terminal UI, `steady serve`, or another `steady act`): carry the action out there, or wait until that process ends", path)
	}
	return exitf(exitFound, "%v", err)
}

// pickItem returns the runbook item an action is recorded against: the
// one asked for, else the first item bound to the action in the path of a
// confirmed cause, else the first bound to it at all ("" when none is).
func pickItem(s *session.Session, action, asked string) (string, error) {
	rb := s.Runbook()
	if asked != "" {
		it := rb.Item(asked)
		if it == nil {
			return "", fmt.Errorf("--item %s: no such item in runbook %s", asked, rb.Name)
		}
		if it.Binding == nil || it.Binding.Action != action {
			return "", fmt.Errorf("--item %s is not bound to action %s", asked, action)
		}
		return asked, nil
	}
	st := s.State()
	first := ""
	for _, it := range rb.Items() {
		if it.Binding == nil || it.Binding.Action != action {
			continue
		}
		if first == "" {
			first = it.ID
		}
		if it.Cause != "" && st.Verdicts[it.Cause] == probes.Confirmed {
			return it.ID, nil
		}
	}
	return first, nil
}

// actAgain is the command line that carries a plan out.
func actAgain(id string, params map[string]string, plan actions.Plan, f actFlags) string {
	parts := []string{"steady act", id}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "clinician", "from", "to", "mode":
			parts = append(parts, "--"+k+" "+target.ShellQuote(params[k]))
		default:
			parts = append(parts, "--param "+target.ShellQuote(k+"="+params[k]))
		}
	}
	if f.incident != "" {
		parts = append(parts, "--incident "+target.ShellQuote(f.incident))
	}
	parts = append(parts, "--yes")
	if plan.Destructive && plan.ConfirmPhrase != "" {
		parts = append(parts, "--confirm "+target.ShellQuote(plan.ConfirmPhrase))
	}
	line := strings.Join(parts, " ")
	// An override is never suggested as the way: the operator first sees
	// what blocks the plan and how to fix it.
	var blocked []string
	overridable := true
	for _, c := range plan.Blocked() {
		blocked = append(blocked, c.Name)
		overridable = overridable && c.Overridable
	}
	if len(blocked) > 0 {
		line += "\nIt would be refused now (" + strings.Join(blocked, "; ") + "): fix that first"
		if overridable {
			line += ", or waive it with --override 'REASON' (the reason is journaled)"
		}
		line += "."
	}
	return line
}

// printPlan writes a plan for a person: what, how risky, each step exactly
// as it will run, the preconditions, the warnings and the confirm phrase.
func printPlan(w io.Writer, s *session.Session, run *session.ActionRun) {
	p := run.Plan
	fmt.Fprintf(w, "%s — %s\n", p.Action, p.Title)
	fmt.Fprintf(w, "  incident %s · %s · risk %s", s.ID(), run.ID, p.Risk)
	if p.Destructive {
		fmt.Fprint(w, " · destructive")
	}
	fmt.Fprintln(w)
	// A plan quotes what the systems said (a size, an error reading the
	// queue): every part is shown with its escapes visible.
	if p.Summary != "" {
		fmt.Fprintf(w, "  %s\n", visible.Text(p.Summary))
	}
	fmt.Fprintln(w, "\nSteps (exactly what will run):")
	for i, st := range p.Steps {
		fmt.Fprintf(w, "  %d. [%s] %s\n", i+1, st.Kind, visible.Text(st.Text))
		if st.Note != "" {
			fmt.Fprintf(w, "     %s\n", visible.Text(st.Note))
		}
	}
	if len(p.Scopes) > 0 {
		fmt.Fprintln(w, "\nScopes:")
		for _, sc := range p.Scopes {
			fmt.Fprintf(w, "  clinician %d  %s .. %s\n", sc.Clinician, sc.From, sc.To)
		}
	}
	if len(p.Preconditions) > 0 {
		fmt.Fprintln(w, "\nPreconditions:")
		for _, c := range p.Preconditions {
			mark := "✓"
			if !c.Holds {
				mark = "✗"
			}
			line := fmt.Sprintf("  %s %s: %s", mark, c.Name, visible.Text(c.Detail))
			if !c.Holds && c.Overridable {
				line += " [overridable: --override 'REASON']"
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, x := range p.Warnings {
			fmt.Fprintf(w, "  ! %s\n", visible.Text(x))
		}
	}
	if len(p.Alternatives) > 0 {
		fmt.Fprintln(w, "\nAlternatives (plan again with --param to choose one):")
		for _, a := range p.Alternatives {
			mark := " "
			if a.Chosen {
				mark = "▸"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", mark, a.Param, a.Estimate)
		}
	}
	if len(p.Recheck) > 0 {
		fmt.Fprintf(w, "\nAfterwards: re-runs %s\n", strings.Join(p.Recheck, ", "))
	}
	if p.Destructive && p.ConfirmPhrase != "" {
		fmt.Fprintf(w, "\nConfirm phrase: %s\n", p.ConfirmPhrase)
	} else {
		fmt.Fprintln(w, "\nConfirm phrase: none needed")
	}
}

// executeAct confirms and runs a planned action through the session (the
// same guards as the terminal UI), streams what it does, waits for its
// outcome and for the probes it re-runs, and turns the outcome into the
// exit status.
func executeAct(ctx context.Context, w io.Writer, s *session.Session, actor session.Actor, run *session.ActionRun, f actFlags) error {
	if err := recheckFirst(ctx, w, s, actor); err != nil {
		return err
	}
	sub := s.Subscribe()
	defer sub.Close()
	if err := s.ExecuteAction(ctx, actor, run.ID, f.confirm, f.override); err != nil {
		var ce *actions.ErrConfirmation
		var busy *session.BusyError
		var stale *session.StaleError
		var wait *session.AwaitingApprovalError
		var we *session.WriteError
		switch {
		case errors.As(err, &ce):
			return exitf(exitFound, "not carried out: %v with --confirm", err)
		case errors.As(err, &busy), errors.As(err, &we):
			return exitf(exitFound, "not carried out: %v", err)
		case errors.As(err, &stale):
			fmt.Fprintf(w, "\nNot carried out: the plan changed since it was made:\n")
			for _, c := range stale.Changes {
				fmt.Fprintf(w, "  • %s\n", c)
			}
			fmt.Fprintf(w, "It was made again as %s; read it and run the command again to confirm it.\n", stale.New)
			return silentExit(exitFound)
		case errors.As(err, &wait):
			if err := awaitApproval(ctx, w, s, run, f); err != nil {
				return err
			}
			return followAct(ctx, w, s, sub, actor, run)
		}
		fmt.Fprintf(w, "\nOutcome: refused — %s\n", strings.TrimPrefix(err.Error(), "refused: "))
		return silentExit(exitFound)
	}
	return followAct(ctx, w, s, sub, actor, run)
}

// awaitApproval waits, under the incident's two-person rule, until a
// second operator approves the confirmed plan (it then starts), rejects
// it, or the plan is made again; --no-wait gives up at once.
func awaitApproval(ctx context.Context, w io.Writer, s *session.Session, run *session.ActionRun, f actFlags) error {
	how := fmt.Sprintf("steady approve %s --incident %s --confirm %s", run.ID, s.ID(), target.ShellQuote(orYes(run.Plan.ConfirmPhrase)))
	if f.noWait {
		fmt.Fprintf(w, "\nConfirmed, awaiting approval by a second operator (the incident's two-person rule). They approve with:\n  %s\n", how)
		return silentExit(exitFound)
	}
	fmt.Fprintf(w, "\nConfirmed; waiting up to %s for a second operator's approval (the incident's two-person rule). They approve on their screen, or with:\n  %s\n", f.waitApproval, how)
	sub := s.Subscribe()
	defer sub.Close()
	deadline := time.After(f.waitApproval)
	for {
		a := s.State().Action(run.ID)
		switch {
		case !a.Started.IsZero():
			fmt.Fprintf(w, "» approved by %s\n", a.ApprovedBy)
			return nil
		case a.Outcome != nil:
			fmt.Fprintf(w, "\nOutcome: %s — %s\n", a.Outcome.Status, a.Outcome.Summary)
			return silentExit(exitFound)
		case a.SupersededBy != "":
			fmt.Fprintf(w, "\nNot carried out: the plan changed before it was approved (made again as %s); the approval is void.\n", a.SupersededBy)
			return silentExit(exitFound)
		}
		select {
		case <-sub.C:
			sub.Next()
		case <-deadline:
			fmt.Fprintf(w, "\nNo approval within %s; the confirmation stays in the journal (approve it later, or discard it).\n", f.waitApproval)
			return silentExit(exitFound)
		case <-ctx.Done():
			fmt.Fprintln(w, "» interrupted while waiting for approval; nothing ran")
			return silentExit(exitAborted)
		}
	}
}

func orYes(phrase string) string {
	if phrase == "" {
		return "yes"
	}
	return phrase
}

// followAct streams a started action's output until its outcome, and the
// probes it re-runs after.
func followAct(ctx context.Context, w io.Writer, s *session.Session, sub *session.Subscription, actor session.Actor, run *session.ActionRun) error {
	fmt.Fprintf(w, "\nRunning %s (%s)…\n", run.Plan.Action, run.ID)
	f := &actFollower{w: w, s: s, sub: sub, run: run.ID}
	outcome, interrupted, err := f.awaitOutcome(ctx, actor)
	if err != nil {
		return err
	}
	if !interrupted {
		f.awaitRechecks(ctx)
		interrupted = ctx.Err() != nil
	}
	switch {
	case interrupted:
		return silentExit(exitAborted)
	case s.JournalFailure() != nil:
		return journalFailed(w, s)
	case outcome.Status == actions.Succeeded:
		return nil
	}
	return silentExit(exitFound)
}

// actFollower prints what a running action journals.
type actFollower struct {
	w            io.Writer
	s            *session.Session
	sub          *session.Subscription
	run          string
	lastProgress string
}

// printNext prints the events waiting, and returns the run's outcome if
// one of them is it.
func (f *actFollower) printNext() (outcome *actions.Outcome, ok bool) {
	events, _, ok := f.sub.Next()
	for _, e := range events {
		if o := printEvent(f.w, e, f.run, &f.lastProgress); o != nil {
			outcome = o
		}
	}
	return outcome, ok
}

// awaitOutcome streams the action's output until its outcome; the first
// ctrl+c asks the session to cancel it, and we wait for it to stop.
func (f *actFollower) awaitOutcome(ctx context.Context, actor session.Actor) (outcome *actions.Outcome, interrupted bool, _ error) {
	cancelReq := ctx.Done()
	finished := f.s.Finished(f.run)
	for outcome == nil {
		select {
		case _, open := <-f.sub.C:
			o, ok := f.printNext()
			if o != nil {
				outcome = o
			}
			if outcome == nil && (!open || !ok) {
				return nil, interrupted, exitf(exitFound, "the session ended before %s finished; see the journal %s", f.run, f.s.JournalPath())
			}
		case <-finished:
			// The run is over; its outcome is among the events waiting,
			// or the journal refused it and only the session knows it.
			finished = nil
			if o, _ := f.printNext(); o != nil {
				outcome = o
			}
			if o, ok := f.s.UnrecordedOutcome(f.run); outcome == nil && ok {
				printOutcome(f.w, o)
				outcome = &o
			}
			if outcome == nil {
				return nil, interrupted, journalFailed(f.w, f.s)
			}
		case <-cancelReq:
			cancelReq, interrupted = nil, true
			fmt.Fprintln(f.w, "» interrupted: cancelling (SIGINT to the action's processes, then SIGKILL after the grace period)…")
			if err := f.s.CancelAction(actor, f.run); err != nil {
				fmt.Fprintf(f.w, "» %v\n", err)
			}
		}
	}
	return outcome, interrupted, nil
}

// awaitRechecks prints the results of the probes the action re-runs: they
// are started before its own run ends, so Wait covers them.
func (f *actFollower) awaitRechecks(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		_ = f.s.Wait(ctx)
		close(done)
	}()
	for waiting := true; waiting; {
		select {
		case <-f.sub.C:
		case <-done:
			waiting = false
		}
		f.printNext()
	}
}

// journalFailed says that the journal refused events, so the record of
// what was just done is incomplete, and exits 1: a backup the journal does
// not hold satisfies no later precondition.
func journalFailed(w io.Writer, s *session.Session) error {
	f := s.JournalFailure()
	if f == nil {
		return exitf(exitFound, "the outcome of the action was not recorded; see the journal %s", s.JournalPath())
	}
	fmt.Fprintf(w, "\nsteady: %v\nWhat the journal lacks did happen but is not on record: free space for %s, then check the systems (the probes) before going on.\n", f, s.JournalPath())
	return silentExit(exitFound)
}

// recheckFirst re-runs the probes the session demands before any action
// (an earlier action's outcome is unknown), as an operator would.
func recheckFirst(ctx context.Context, w io.Writer, s *session.Session, actor session.Actor) error {
	st := s.State()
	if len(st.Recheck) == 0 {
		return nil
	}
	fmt.Fprintf(w, "» an earlier action's outcome is unknown; re-running first: %s\n", strings.Join(st.Recheck, ", "))
	var runs []string
	for _, p := range st.Recheck {
		id, err := s.RunProbe(ctx, actor, "", p, nil)
		if err != nil {
			fmt.Fprintf(w, "» %s: %v\n", p, err)
			continue
		}
		runs = append(runs, id)
	}
	if err := s.Wait(ctx); err != nil {
		return silentExit(exitAborted)
	}
	st = s.State()
	for _, id := range runs {
		if pr := st.Probe(id); pr != nil && pr.Result != nil {
			fmt.Fprintf(w, "» %s: %s — %s\n", pr.Probe, pr.Result.Status, visible.Text(pr.Result.Summary))
		}
	}
	return nil
}

// printEvent prints what an event says about the run (its output,
// progress and outcome) and about the probes re-run after it. It returns
// the outcome when the event carries the run's.
func printEvent(w io.Writer, e session.Event, run string, lastProgress *string) *actions.Outcome {
	switch e.Type {
	case session.TypeActionOutput:
		var d session.ActionOutput
		if e.Decode(&d) != nil || d.Run != run {
			return nil
		}
		// One write for the event's lines: a batch can hold a thousand.
		var b strings.Builder
		for _, l := range d.Lines {
			if l.Stream == "steady" {
				b.WriteString("» ")
			}
			b.WriteString(visible.Text(l.Text) + "\n")
		}
		_, _ = io.WriteString(w, b.String())
	case session.TypeActionProgress:
		var d session.ActionProgress
		if e.Decode(&d) != nil || d.Run != run {
			return nil
		}
		p := fmt.Sprintf("» progress: %d/%d %s", d.Done, d.Total, d.Label)
		if p != *lastProgress {
			fmt.Fprintln(w, p)
			*lastProgress = p
		}
	case session.TypeActionFinished:
		var d session.ActionFinished
		if e.Decode(&d) != nil || d.Run != run {
			return nil
		}
		printOutcome(w, d.Outcome)
		return &d.Outcome
	case session.TypeProbeStarted:
		var d session.ProbeStarted
		if e.Decode(&d) == nil {
			fmt.Fprintf(w, "» re-checking: %s probe…\n", d.Probe)
		}
	case session.TypeProbeFinished:
		var d session.ProbeFinished
		if e.Decode(&d) == nil {
			fmt.Fprintf(w, "» %s: %s — %s\n", d.Result.Probe, d.Result.Status, visible.Text(d.Result.Summary))
		}
	}
	return nil
}

// printOutcome writes an action's outcome.
func printOutcome(w io.Writer, o actions.Outcome) {
	fmt.Fprintf(w, "\nOutcome: %s — %s\n", o.Status, visible.Text(o.Summary))
	fmt.Fprintf(w, "  exit %d · %s\n", o.ExitCode, o.Duration.Round(time.Millisecond))
	if o.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", visible.Text(o.Error))
	}
	for _, l := range o.ArtefactLines() {
		fmt.Fprintf(w, "  %s\n", visible.Text(l))
	}
}
