package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"steady/actions"
	"steady/internal/visible"
	"steady/probes"
	"steady/runbook"
)

// MaxLineBytes of action output kept per line; longer lines are cut with
// a note of how much was removed.
const MaxOutputLineBytes = 8 << 10

// MaxEvidenceRows is how many evidence rows a probe result keeps in the
// journal; the rest are counted in Table.Omitted.
const MaxEvidenceRows = 500

// RunProbe starts a probe in the background and returns its run id. The
// parameters are resolved against the probe's declaration and the item's
// binding first; a missing or invalid one is returned as an error before
// anything runs.
func (s *Session) RunProbe(ctx context.Context, a Actor, item, probeID string, input map[string]string) (string, error) {
	if err := s.allow(a, RunProbe); err != nil {
		return "", err
	}
	p, params, err := s.resolveProbe(probeID, s.binding(item), input)
	if err != nil {
		return "", err
	}
	run := s.newRunID("probe")
	if _, err := s.Append(a, TypeProbeStarted, ProbeStarted{Run: run, Probe: probeID, Item: item, Params: params}); err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.track(run, cancel)
	go func() {
		defer s.untrack(run)
		s.finishProbe(ctx, run, p, params)
	}()
	return run, nil
}

// resolveProbe finds a registered probe and resolves its parameters
// against its declaration and the given layers, later ones winning.
func (s *Session) resolveProbe(probeID string, layers ...map[string]string) (probes.Probe, probes.Params, error) {
	p, ok := probes.Get(probeID)
	if !ok {
		return nil, nil, fmt.Errorf("no probe %q", probeID)
	}
	for i, l := range layers {
		layers[i] = s.sinceFix(l)
	}
	params, err := probes.Resolve(p, layers...)
	if err != nil {
		return nil, nil, err
	}
	return p, params, nil
}

// finishProbe runs a started probe and journals its result.
func (s *Session) finishProbe(ctx context.Context, run string, p probes.Probe, params probes.Params) probes.Result {
	res := p.Run(ctx, s.target, params)
	res.Probe, res.Params = p.ID(), params
	bound(&res)
	// An error here means the journal is gone (shutting down); there is
	// nothing more to record.
	_, _ = s.Append(System, TypeProbeFinished, ProbeFinished{Run: run, Result: res})
	return res
}

// actionProbes is the ProbeRunner of an action's Env: every probe the
// action consults is started by the action's operator and journaled like
// any other run, naming the action run it was made for.
type actionProbes struct {
	s   *Session
	a   Actor
	env *actions.Env
}

// RunProbe implements actions.ProbeRunner.
func (r actionProbes) RunProbe(ctx context.Context, probeID string, params map[string]string) probes.Result {
	failed := func(err error) probes.Result {
		msg := err.Error()
		return probes.Result{Probe: probeID, Status: probes.Error, Summary: msg, Error: msg, Started: r.s.now()}
	}
	p, resolved, err := r.s.resolveProbe(probeID, params)
	if err != nil {
		return failed(err)
	}
	run := r.s.newRunID("probe")
	if _, err := r.s.Append(r.a, TypeProbeStarted, ProbeStarted{Run: run, Probe: probeID, Params: resolved, Action: r.env.Run}); err != nil {
		return failed(fmt.Errorf("journal the start of probe %s: %w", probeID, err))
	}
	return r.s.finishProbe(ctx, run, p, resolved)
}

// sinceFix replaces every parameter "fix" by the time since the latest fix
// of the incident ran (an action that changes things: not a backup or a
// check), or since the incident opened when none has.
func (s *Session) sinceFix(params map[string]string) map[string]string {
	var out map[string]string
	for k, v := range params {
		if v != probes.SinceFix {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(params))
			for k2, v2 := range params {
				out[k2] = v2
			}
		}
		at := s.State().LastFix()
		out[k] = fmt.Sprintf("%ds", max(int(s.now().Sub(at).Seconds())+1, 1))
	}
	if out == nil {
		return params
	}
	return out
}

// RecordProbe journals the result of a probe that ran outside the session
// (`steady check`), so that the incident remembers it as if it had run here.
func (s *Session) RecordProbe(a Actor, r probes.Result) error {
	if err := s.allow(a, RunProbe); err != nil {
		return err
	}
	run := s.newRunID("probe")
	if _, err := s.Append(a, TypeProbeStarted, ProbeStarted{Run: run, Probe: r.Probe, Params: r.Params}); err != nil {
		return err
	}
	bound(&r)
	_, err := s.Append(a, TypeProbeFinished, ProbeFinished{Run: run, Result: r})
	return err
}

// RunProbes starts several probes at once (the TUI's "run all
// diagnosis probes"); items maps each probe to the item it belongs to.
func (s *Session) RunProbes(ctx context.Context, a Actor, items map[string]string) ([]string, error) {
	var runs []string
	var errs []string
	for item, probe := range items {
		run, err := s.RunProbe(ctx, a, item, probe, nil)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", probe, err))
			continue
		}
		runs = append(runs, run)
	}
	if len(errs) > 0 {
		return runs, errors.New(strings.Join(errs, "; "))
	}
	return runs, nil
}

// bound keeps a result's evidence to MaxEvidenceRows rows.
func bound(r *probes.Result) {
	if n := len(r.Evidence.Rows); n > MaxEvidenceRows {
		r.Evidence.Omitted += n - MaxEvidenceRows
		r.Evidence.Rows = r.Evidence.Rows[:MaxEvidenceRows]
	}
}

func (s *Session) track(run string, cancel context.CancelFunc) {
	s.mu.Lock()
	s.cancels[run] = cancel
	s.finished[run] = make(chan struct{})
	s.mu.Unlock()
	s.runs.Add(1)
}

func (s *Session) untrack(run string) {
	s.mu.Lock()
	if c, ok := s.cancels[run]; ok {
		c()
		delete(s.cancels, run)
	}
	if done, ok := s.finished[run]; ok {
		close(done)
		delete(s.finished, run)
	}
	s.mu.Unlock()
	s.runs.Done()
}

// Finished returns a channel closed once the run has ended (at once when
// it is not running), whether or not the journal recorded how.
func (s *Session) Finished(run string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, ok := s.finished[run]; ok {
		return done
	}
	done := make(chan struct{})
	close(done)
	return done
}

// UnrecordedOutcome returns the outcome of an action run that the journal
// refused to record, so whoever waits for it can still say how it ended.
func (s *Session) UnrecordedOutcome(run string) (actions.Outcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.unrecorded[run]
	return o, ok
}

// history gives actions the session's knowledge for their guards.
type history struct{ st *State }

func (h history) VerifiedBackups(db string) []actions.Backup { return h.st.VerifiedBackups(db) }
func (h history) LastResult(p string) *probes.Result         { return h.st.LastResult(p) }

// Orphans finds, among the actions whose outcome is unknown, the last
// command each started on this host, and keeps those whose process group
// is still alive.
func (h history) Orphans() []actions.Orphan {
	host, _ := os.Hostname()
	var out []actions.Orphan
	for _, a := range h.st.Actions {
		if a.Outcome == nil || a.Outcome.Status != actions.OutcomeUnknown {
			continue
		}
		if pgid, on, ok := lastStarted(a); ok && on == host && pgid > 0 && syscall.Kill(-pgid, 0) == nil {
			out = append(out, actions.Orphan{Action: a.Action, PGID: pgid})
		}
	}
	return out
}

// Results returns every finished result of a probe in the incident, oldest
// first (actions.ResultsHistory): recalculate takes the scopes of all of
// them, since a flush hides what the cache probe found before it.
func (h history) Results(p string) []*probes.Result {
	var out []*probes.Result
	for _, run := range h.st.Probes {
		if run.Probe == p && run.Result != nil {
			out = append(out, run.Result)
		}
	}
	return out
}

func (s *Session) env(a Actor, override string) *actions.Env {
	env := &actions.Env{Target: s.target, History: history{s.State()}, Operator: a.Name, Override: override, Incident: s.ID()}
	env.Probes = actionProbes{s: s, a: a, env: env}
	return env
}

// planEnv is the Env a plan is made in: it also names the run the plan
// will be recorded as, so what the plan names after it (a restore point)
// is what runs.
func (s *Session) planEnv(a Actor) *actions.Env {
	env := s.env(a, "")
	env.Run = s.nextRunID("action")
	return env
}

// PlanAction asks an action for its plan and records it. The plan is what
// the operator sees, and exactly what ExecuteAction will carry out.
func (s *Session) PlanAction(ctx context.Context, a Actor, item, actionID string, params map[string]string) (*ActionRun, error) {
	if err := s.allow(a, Plan); err != nil {
		return nil, err
	}
	act, ok := actions.Get(actionID)
	if !ok {
		return nil, fmt.Errorf("no action %q", actionID)
	}
	merged := maps.Clone(s.binding(item))
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range params {
		merged[k] = v
	}
	plan, err := act.Plan(ctx, s.planEnv(a), merged)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", actionID, err)
	}
	plan.Action = actionID
	if plan.Created.IsZero() {
		plan.Created = s.now().UTC()
	}
	run := s.newRunID("action")
	if _, err := s.Append(a, TypeActionPlanned, ActionPlanned{Run: run, Action: actionID, Item: item, Plan: *plan}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.plans[run] = *plan
	s.mu.Unlock()
	return s.State().Action(run), nil
}

// planAsMade returns the plan of a run as its action made it, before the
// journal scrubbed it; ok is false for a plan this process did not make.
func (s *Session) planAsMade(run string) (actions.Plan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[run]
	return p, ok
}

// mayStart says why no action may start now: one runs already, or a probe
// must be re-run after a crash; nil when one may.
func mayStart(st *State) error {
	if running := st.RunningActions(); len(running) > 0 {
		other := running[0]
		by := other.PlannedBy
		if other.ConfirmedBy != nil {
			by = *other.ConfirmedBy
		}
		return &BusyError{Action: other.Action, By: by, Since: other.Started}
	}
	if len(st.Recheck) > 0 {
		return fmt.Errorf("re-run these probes first, an earlier action's outcome is unknown: %s", strings.Join(st.Recheck, ", "))
	}
	return nil
}

// plannedBefore is the refusal of a plan this process did not make.
func plannedBefore(ar *ActionRun) error {
	return fmt.Errorf("%s was planned before steady restarted; plan it again (the journal keeps plans with their secrets masked, and a masked plan never runs)", ar.Action)
}

// BusyError says an action cannot start because another one runs.
type BusyError struct {
	Action string
	By     Actor
	Since  time.Time
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is already running, started by %s at %s", e.Action, e.By, e.Since.Format("15:04:05"))
}

// StaleError says a plan no longer stands: made again just now, its basis
// or its preconditions differ. New is the plan made now (journaled), for
// the operator to review and confirm; nothing ran.
type StaleError struct {
	Action, Old, New string
	Changes          []string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the plan of %s changed since it was made (%s); review the new plan (%s) and confirm again", e.Action, strings.Join(e.Changes, "; "), e.New)
}

// Revalidate makes a planned action's plan again, as it would be made now.
// When its basis or preconditions differ, the new plan is journaled as
// replacing the old one and returned with what changed; otherwise the old
// plan stands and is returned as it is.
func (s *Session) Revalidate(ctx context.Context, a Actor, run string) (*ActionRun, []string, error) {
	if err := s.allow(a, Plan); err != nil {
		return nil, nil, err
	}
	ar := s.State().Action(run)
	if ar == nil {
		return nil, nil, fmt.Errorf("no planned action %q", run)
	}
	if !ar.Open() {
		return nil, nil, fmt.Errorf("%s (%s) cannot be confirmed any more: %s", ar.Action, run, closedWhy(ar))
	}
	return s.revalidate(ctx, a, ar)
}

func (s *Session) revalidate(ctx context.Context, a Actor, ar *ActionRun) (*ActionRun, []string, error) {
	act, ok := actions.Get(ar.Action)
	if !ok {
		return nil, nil, fmt.Errorf("no action %q", ar.Action)
	}
	made, ok := s.planAsMade(ar.ID)
	if !ok {
		made = ar.Plan
	}
	plan, err := act.Plan(ctx, s.planEnv(a), made.Params)
	if err != nil {
		return nil, nil, fmt.Errorf("plan %s again: %w", ar.Action, err)
	}
	changes := actions.Changes(&made, plan)
	if len(changes) == 0 {
		return ar, nil, nil
	}
	plan.Action = ar.Action
	if plan.Created.IsZero() {
		plan.Created = s.now().UTC()
	}
	run := s.newRunID("action")
	if _, err := s.Append(a, TypeActionPlanned, ActionPlanned{Run: run, Action: ar.Action, Item: ar.Item, Plan: *plan, Replaces: ar.ID, Changes: changes}); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	s.plans[run] = *plan
	s.mu.Unlock()
	return s.State().Action(run), changes, nil
}

// Discard puts a planned action aside: it can no longer be confirmed.
func (s *Session) Discard(a Actor, run string) error {
	if err := s.allow(a, Plan); err != nil {
		return err
	}
	ar := s.State().Action(run)
	if ar == nil {
		return fmt.Errorf("no planned action %q", run)
	}
	if !ar.Open() && !ar.AwaitingApproval() {
		return fmt.Errorf("%s (%s) is not an open plan: %s", ar.Action, run, closedWhy(ar))
	}
	_, err := s.Append(a, TypeActionDiscarded, ActionDiscarded{Run: run})
	return err
}

// closedWhy says why a plan can no longer be confirmed.
func closedWhy(ar *ActionRun) string {
	if ar.pending() || ar.SupersededBy != "" || ar.DiscardedBy != nil {
		return ar.StateText()
	}
	return "it was already carried out; plan it again"
}

// ExecuteAction confirms and starts a planned action in the background.
// Observers may not; destructive plans need the typed phrase; the plan is
// made again first and, if anything it rests on changed, the new plan is
// returned for confirmation instead (StaleError); a plan whose
// preconditions do not hold is refused (unless overridable and an
// override reason is given); only one action runs at a time — the check
// and the start are one step under the session's start lock, whichever
// client asks — and a probe the operator must re-run after a crash blocks
// every action until it has.
func (s *Session) ExecuteAction(ctx context.Context, a Actor, run, phrase, override string) error {
	if err := s.allow(a, Confirm); err != nil {
		return err
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	st := s.State()
	ar := st.Action(run)
	if ar == nil {
		return fmt.Errorf("no planned action %q", run)
	}
	if !ar.Open() {
		return fmt.Errorf("%s (%s) cannot run: %s", ar.Action, run, closedWhy(ar))
	}
	if ar.ConfirmedBy != nil {
		return fmt.Errorf("%s (%s) was confirmed by %s and awaits approval by a second operator", ar.Action, run, ar.ConfirmedBy)
	}
	if err := mayStart(st); err != nil {
		return err
	}
	plan, ok := s.planAsMade(run)
	if !ok {
		return plannedBefore(ar)
	}
	if err := actions.Confirm(&plan, phrase); err != nil {
		return err
	}
	// Just before it would run, the plan is made again: a backup taken, a
	// migration applied or a task enqueued since makes it stale.
	cur, changes, err := s.revalidate(ctx, a, ar)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		return &StaleError{Action: ar.Action, Old: ar.ID, New: cur.ID, Changes: changes}
	}
	override = strings.TrimSpace(override)
	if _, ok := actions.Get(ar.Action); !ok {
		return fmt.Errorf("no action %q", ar.Action)
	}
	awaiting := s.needsApproval(&plan)
	if _, err := s.Append(a, TypeActionConfirmed, ActionConfirmed{Run: run, Override: override, AwaitingApproval: awaiting}); err != nil {
		return err
	}
	if refused := actions.RefusedBy(&plan, s.env(a, override)); refused != nil {
		_, err := s.Append(System, TypeActionFinished, ActionFinished{Run: run, Outcome: *refused})
		if err != nil {
			return err
		}
		return errors.New(refused.Summary)
	}
	if awaiting {
		s.watchApprovals()
		return &AwaitingApprovalError{Action: ar.Action, Run: run, ConfirmedBy: a}
	}
	return s.start(ctx, a, run, a, override)
}

// start starts a confirmed (and, where needed, approved) action: by is who
// starts it, confirmer whose name its commands and locks carry. The caller
// holds startMu and has checked that nothing else runs.
func (s *Session) start(ctx context.Context, by Actor, run string, confirmer Actor, override string) error {
	ar := s.State().Action(run)
	act, ok := actions.Get(ar.Action)
	if !ok {
		return fmt.Errorf("no action %q", ar.Action)
	}
	plan, ok := s.planAsMade(run)
	if !ok {
		return plannedBefore(ar)
	}
	env := s.env(confirmer, override)
	env.Run = run
	// Tracked before it is journaled as started: whoever sees it started
	// (a confirmer waiting for approval) can wait for it to finish.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.track(run, cancel)
	if _, err := s.Append(by, TypeActionStarted, ActionStarted{Run: run}); err != nil {
		s.untrack(run)
		return err
	}
	go func() {
		defer s.untrack(run)
		out := newOutput(s, run)
		outcome := act.Execute(ctx, env, &plan, out)
		out.flush()
		outcome.Summary, outcome.Error = visible.Text(outcome.Summary), visible.Text(outcome.Error)
		if ctx.Err() != nil && outcome.Status == actions.Succeeded {
			// The action ignored the cancel; record what it really did.
			outcome.Summary += " (a cancel was requested but the action had finished)"
		}
		if _, err := s.Append(System, TypeActionFinished, ActionFinished{Run: run, Outcome: outcome}); err != nil {
			s.mu.Lock()
			s.unrecorded[run] = outcome
			s.mu.Unlock()
			return
		}
		if outcome.Status == actions.Succeeded || outcome.Status == actions.Failed {
			for _, p := range plan.Recheck {
				_, _ = s.RunProbe(context.Background(), System, "", p, nil)
			}
		}
		if reverifies(&plan, outcome) {
			s.reverify()
		}
	}()
	return nil
}

// reverifies reports whether the Verification section is measured again
// after an action: a fix that succeeded and whose effect is there when it
// ends (not one whose work was handed to workers steady does not wait for).
func reverifies(p *actions.Plan, o actions.Outcome) bool {
	return o.Status == actions.Succeeded && isFix(p) && !p.Deferred
}

// isFix reports whether a plan changes the application's state (a
// migration, a flush, a restart, a recalculation), as opposed to a backup
// or a check.
func isFix(p *actions.Plan) bool { return p.Risk != actions.Low }

// reverify runs the Verification section's bound probes again after a fix,
// each recorded against its verification item: the checklist shows at
// once whether the fix holds, measured from when it ran.
func (s *Session) reverify() {
	for _, it := range s.rb.Items() {
		if it.Section == runbook.Verification && it.Binding != nil && it.Binding.Probe != "" {
			_, _ = s.RunProbe(context.Background(), System, it.ID, it.Binding.Probe, nil)
		}
	}
}

// CancelAction asks a running action to stop; the action ends with a
// cancelled outcome once its processes are gone.
func (s *Session) CancelAction(a Actor, run string) error {
	if err := s.allow(a, Cancel); err != nil {
		return err
	}
	s.mu.Lock()
	cancel, ok := s.cancels[run]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s is not running", run)
	}
	if _, err := s.Append(a, TypeActionCancel, ActionCancel{Run: run}); err != nil {
		return err
	}
	cancel()
	return nil
}

// Wait blocks until every probe and action started so far has finished,
// or ctx ends.
func (s *Session) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.runs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// output batches an action's lines into journal events: a batch is
// written when it reaches outputBatch lines, or at most outputEvery after
// its first line, so the output of a quiet command is journaled too.
// steady's own lines (the command about to run, its process group) are
// written at once: they are what a resume after a crash needs.
type output struct {
	s     *Session
	run   string
	mu    sync.Mutex
	buf   []OutputLine
	cut   int
	last  time.Time
	prog  time.Time
	timer *time.Timer
}

const (
	outputBatch = 100
	outputEvery = 200 * time.Millisecond
	// outputMaxBatch bounds one event of lines given together, so that a
	// journal line stays far below what a reader accepts.
	outputMaxBatch = 1000
)

func newOutput(s *Session, run string) *output { return &output{s: s, run: run, last: time.Now()} }

func (o *output) Line(stream, text string) { o.Lines(stream, []string{text}) }

// Lines records lines of one moment; steady's own are journaled at once,
// all of them in one event.
func (o *output) Lines(stream string, texts []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, text := range texts {
		// A command's output is the tool's text: escapes in it are made
		// visible before it is journaled, as everything shown is.
		text = visible.Text(text)
		if len(text) > MaxOutputLineBytes {
			cut := len(text) - MaxOutputLineBytes
			text = truncateUTF8(text, MaxOutputLineBytes) + fmt.Sprintf(" … [%d bytes cut]", cut)
			o.cut += cut
		}
		o.buf = append(o.buf, OutputLine{Stream: stream, Text: text})
		if len(o.buf) >= outputMaxBatch {
			o.flushLocked()
		}
	}
	switch {
	case stream == actions.StreamSteady || len(o.buf) >= outputBatch || time.Since(o.last) >= outputEvery:
		o.flushLocked()
	case o.timer == nil:
		o.timer = time.AfterFunc(outputEvery, o.flush)
	}
}

func (o *output) Progress(done, total int, label string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// Progress is a display aid: record it at most a few times a second,
	// and always at the end.
	if done < total && time.Since(o.prog) < outputEvery {
		return
	}
	o.prog = time.Now()
	o.flushLocked()
	_, _ = o.s.Append(System, TypeActionProgress, ActionProgress{Run: o.run, Done: done, Total: total, Label: label})
}

func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *output) flushLocked() {
	o.last = time.Now()
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if len(o.buf) == 0 {
		return
	}
	lines, cut := o.buf, o.cut
	o.buf, o.cut = nil, 0
	_, _ = o.s.Append(System, TypeActionOutput, ActionOutput{Run: o.run, Lines: lines, Cut: cut})
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
