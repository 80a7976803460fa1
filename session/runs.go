package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"steady/actions"
	"steady/probes"
	"steady/visible"
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
	if a.Role == Observer {
		return "", fmt.Errorf("run a probe: %w for an observer (ask an operator)", ErrForbidden)
	}
	p, ok := probes.Get(probeID)
	if !ok {
		return "", fmt.Errorf("no probe %q", probeID)
	}
	var binding map[string]string
	if it := s.rb.Item(item); it != nil && it.Binding != nil {
		binding = it.Binding.Params
	}
	params, err := probes.Resolve(p, binding, input)
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
		res := p.Run(ctx, s.target, params)
		res.Probe, res.Params = probeID, params
		bound(&res)
		if _, err := s.Append(System, TypeProbeFinished, ProbeFinished{Run: run, Result: res}); err != nil {
			// The journal is gone (shutting down); nothing more to record.
			return
		}
	}()
	return run, nil
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
	return &actions.Env{Target: s.target, History: history{s.State()}, Operator: a.Name, Override: override}
}

// PlanAction asks an action for its plan and records it. The plan is what
// the operator sees, and exactly what ExecuteAction will carry out.
func (s *Session) PlanAction(ctx context.Context, a Actor, item, actionID string, params map[string]string) (*ActionRun, error) {
	act, ok := actions.Get(actionID)
	if !ok {
		return nil, fmt.Errorf("no action %q", actionID)
	}
	merged := map[string]string{}
	if it := s.rb.Item(item); it != nil && it.Binding != nil {
		for k, v := range it.Binding.Params {
			merged[k] = v
		}
	}
	for k, v := range params {
		merged[k] = v
	}
	plan, err := act.Plan(ctx, s.env(a, ""), merged)
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

// BusyError says an action cannot start because another one runs.
type BusyError struct {
	Action string
	By     Actor
	Since  time.Time
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is already running, started by %s at %s", e.Action, e.By, e.Since.Format("15:04:05"))
}

// ExecuteAction confirms and starts a planned action in the background.
// Observers may not; destructive plans need the typed phrase; a plan whose
// preconditions do not hold is refused (unless overridable and an
// override reason is given); only one action runs at a time, and a probe
// the operator must re-run after a crash blocks every action until it has.
func (s *Session) ExecuteAction(ctx context.Context, a Actor, run, phrase, override string) error {
	if a.Role == Observer {
		return fmt.Errorf("run an action: %w for an observer", ErrForbidden)
	}
	st := s.State()
	ar := st.Action(run)
	if ar == nil {
		return fmt.Errorf("no planned action %q", run)
	}
	if ar.Outcome != nil || !ar.Started.IsZero() {
		return fmt.Errorf("%s was already carried out; plan it again", ar.Action)
	}
	for _, other := range st.RunningActions() {
		by := other.PlannedBy
		if other.ConfirmedBy != nil {
			by = *other.ConfirmedBy
		}
		return &BusyError{Action: other.Action, By: by, Since: other.Started}
	}
	if len(st.Recheck) > 0 {
		return fmt.Errorf("re-run these probes first, an earlier action's outcome is unknown: %s", strings.Join(st.Recheck, ", "))
	}
	plan, ok := s.planAsMade(run)
	if !ok {
		return fmt.Errorf("%s was planned before steady restarted; plan it again (the journal keeps plans with their secrets masked, and a masked plan never runs)", ar.Action)
	}
	if err := actions.Confirm(&plan, phrase); err != nil {
		return err
	}
	override = strings.TrimSpace(override)
	act, ok := actions.Get(ar.Action)
	if !ok {
		return fmt.Errorf("no action %q", ar.Action)
	}
	env := s.env(a, override)
	if _, err := s.Append(a, TypeActionConfirmed, ActionConfirmed{Run: run, Override: override}); err != nil {
		return err
	}
	if refused := actions.RefusedBy(&plan, env); refused != nil {
		_, err := s.Append(System, TypeActionFinished, ActionFinished{Run: run, Outcome: *refused})
		if err != nil {
			return err
		}
		return errors.New(refused.Summary)
	}
	if _, err := s.Append(a, TypeActionStarted, ActionStarted{Run: run}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.track(run, cancel)
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
	}()
	return nil
}

// CancelAction asks a running action to stop; the action ends with a
// cancelled outcome once its processes are gone.
func (s *Session) CancelAction(a Actor, run string) error {
	if a.Role == Observer {
		return fmt.Errorf("cancel an action: %w for an observer", ErrForbidden)
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
)

func newOutput(s *Session, run string) *output { return &output{s: s, run: run, last: time.Now()} }

func (o *output) Line(stream, text string) {
	// A command's output is the tool's text: escapes in it are made
	// visible before it is journaled, as everything shown is.
	text = visible.Text(text)
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(text) > MaxOutputLineBytes {
		cut := len(text) - MaxOutputLineBytes
		text = truncateUTF8(text, MaxOutputLineBytes) + fmt.Sprintf(" … [%d bytes cut]", cut)
		o.cut += cut
	}
	o.buf = append(o.buf, OutputLine{Stream: stream, Text: text})
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
