package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"steady/actions"
	"steady/internal/session"
)

// Intents: each sends one of the operator's intents to the session from a
// tea.Cmd (the session writes and syncs the journal, and planning reads
// the live systems, so none of it may run in Update), and reports back
// with a message naming the probe or action concerned.

// planTimeout bounds how long making a plan may take; planning reads the
// live systems, which may be the very thing that is slow.
const planTimeout = time.Minute

// probeStartedMsg reports a probe started (or refused before starting).
type probeStartedMsg struct {
	item, probe, run string
	err              error
}

func runProbeCmd(c *common, item, probe string, input map[string]string) tea.Cmd {
	return func() tea.Msg {
		run, err := c.s.RunProbe(c.ctx, c.actor, item, probe, input)
		return probeStartedMsg{item: item, probe: probe, run: run, err: err}
	}
}

// diagnosisStartedMsg reports the diagnosis probes started by one key.
type diagnosisStartedMsg struct {
	started   []string
	needInput []string
	err       error
}

// runDiagnosisCmd starts every diagnosis probe that needs no input. The
// session runs each in its own goroutine, so they run concurrently; the
// ones that need input are named so the operator can run them with r.
func runDiagnosisCmd(c *common, items [][2]string, needInput []string) tea.Cmd {
	return func() tea.Msg {
		var started, errs []string
		for _, ip := range items {
			if _, err := c.s.RunProbe(c.ctx, c.actor, ip[0], ip[1], nil); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", ip[1], err))
				continue
			}
			started = append(started, ip[1])
		}
		var err error
		if len(errs) > 0 {
			err = errors.New(strings.Join(errs, "; "))
		}
		return diagnosisStartedMsg{started: started, needInput: needInput, err: err}
	}
}

// planMadeMsg reports a plan made (or why none could be).
type planMadeMsg struct {
	item, action string
	run          *session.ActionRun
	err          error
}

func planCmd(c *common, item, action string) tea.Cmd {
	return planWithCmd(c, item, action, nil)
}

// planWithCmd plans an action with parameters besides the item's own.
func planWithCmd(c *common, item, action string, params map[string]string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(c.ctx, planTimeout)
		defer cancel()
		run, err := c.s.PlanAction(ctx, c.actor, item, action, params)
		return planMadeMsg{item: item, action: action, run: run, err: err}
	}
}

// planCheckedMsg reports a planned action made again just before its
// confirmation: unchanged (run is the same), or replaced with changes.
type planCheckedMsg struct {
	item, action string
	run          *session.ActionRun
	changes      []string
	err          error
}

func checkPlanCmd(c *common, item, action, run string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(c.ctx, planTimeout)
		defer cancel()
		cur, changes, err := c.s.Revalidate(ctx, c.actor, run)
		return planCheckedMsg{item: item, action: action, run: cur, changes: changes, err: err}
	}
}

// actionStartedMsg reports an action confirmed and started, or refused.
type actionStartedMsg struct {
	action, run string
	err         error
}

func executeCmd(c *common, action, run, phrase, override string) tea.Cmd {
	return func() tea.Msg {
		err := c.s.ExecuteAction(c.ctx, c.actor, run, phrase, override)
		return actionStartedMsg{action: action, run: run, err: err}
	}
}

// actionCancelMsg reports a cancel request sent to a running action.
type actionCancelMsg struct {
	action, run string
	err         error
}

func cancelCmd(c *common, action, run string) tea.Cmd {
	return func() tea.Msg {
		return actionCancelMsg{action: action, run: run, err: c.s.CancelAction(c.actor, run)}
	}
}

// recordedMsg reports a tick, note, skip or escalation recorded.
type recordedMsg struct {
	what string
	err  error
}

func recordCmd(what string, fn func() error) tea.Cmd {
	return func() tea.Msg { return recordedMsg{what: what, err: fn()} }
}

// flashMsg puts a message in the footer.
type flashMsg struct {
	text string
	err  bool
}

func flashCmd(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: text, err: isErr} }
}

// explain turns an error from the session into a sentence that says what
// failed and what to do about it.
func explain(what string, err error) string {
	var busy *session.BusyError
	var phrase *actions.ErrConfirmation
	var stale *session.StaleError
	switch {
	case errors.As(err, &stale):
		return fmt.Sprintf("%s: the plan changed since it was made: %s. The new plan is shown; read it, then enter confirms it.", what, strings.Join(stale.Changes, "; "))
	case errors.As(err, &busy):
		return fmt.Sprintf("%s: %v. Wait for it to finish, or cancel it with ctrl+c.", what, busy)
	case errors.As(err, &phrase):
		return fmt.Sprintf("%s: %v. Nothing was run.", what, phrase)
	case errors.Is(err, session.ErrForbidden):
		return fmt.Sprintf("%s: %v.", what, err)
	}
	return fmt.Sprintf("%s: %v", what, err)
}
