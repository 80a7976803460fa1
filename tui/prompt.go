package tui

import (
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/internal/session"
	"steady/runbook"
)

// The small dialogs: a note, a skip with its reason, declaring an
// immediate escalation, and the two questions ctrl+c and q ask.

func required(what string) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New(what + " cannot be empty")
		}
		return nil
	}
}

// newNoteDialog adds a note to an item, or to the incident when it is nil.
func newNoteDialog(c *common, it *runbook.Item) *dialog {
	var text string
	id, about := "", "the incident"
	if it != nil {
		id, about = it.ID, it.Title
	}
	in := huh.NewInput().Key("note").Title("Note").Description("Journaled with your name and the time.").
		Value(&text).Validate(required("a note"))
	ctx := func(w int) string { return c.styles.Dim.Render(wrap("About: "+about, w)) }
	d := newDialog(c, dialogNote, "Add a note", ctx, huh.NewGroup(in))
	d.submit = func() tea.Cmd {
		return recordCmd("Note added.", func() error { return c.s.Note(c.actor, id, strings.TrimSpace(text)) })
	}
	return d
}

// newSkipDialog skips an item; the session requires a reason.
func newSkipDialog(c *common, it *runbook.Item) *dialog {
	var reason string
	in := huh.NewInput().Key("reason").Title("Why skip it?").Description("The reason goes into the journal and the postmortem.").
		Value(&reason).Validate(required("the reason"))
	ctx := func(w int) string { return c.styles.Dim.Render(wrap("Skip: "+it.Title, w)) }
	d := newDialog(c, dialogSkip, "Skip "+it.ID, ctx, huh.NewGroup(in))
	id := it.ID
	d.submit = func() tea.Cmd {
		return recordCmd("Skipped "+id+".", func() error { return c.s.Skip(c.actor, id, strings.TrimSpace(reason)) })
	}
	return d
}

// immediateRules returns the indexes of the runbook's immediate
// escalation rules (such as "data loss is possible").
func immediateRules(rb *runbook.Runbook) []int {
	var out []int
	for i, r := range rb.Meta.Escalation.Rules {
		if r.Immediate {
			out = append(out, i)
		}
	}
	return out
}

// newEscalateDialog declares an immediate escalation: the operator picks
// the condition that holds and confirms.
func newEscalateDialog(c *common) *dialog {
	rules := immediateRules(c.rb)
	all := c.rb.Meta.Escalation.Rules
	rule := rules[0]
	var yes bool
	var fields []huh.Field
	if len(rules) > 1 {
		opts := make([]huh.Option[int], 0, len(rules))
		for _, i := range rules {
			opts = append(opts, huh.NewOption(all[i].When+" → "+all[i].To, i))
		}
		fields = append(fields, huh.NewSelect[int]().Key("rule").Title("Which condition holds?").Options(opts...).Value(&rule))
	}
	title := "Escalate now?"
	if len(rules) == 1 {
		title = "Escalate now to " + all[rule].To + "?"
	}
	fields = append(fields, huh.NewConfirm().Key("yes").Title(title).
		Affirmative("Escalate").Negative("Not now").Value(&yes))
	ctx := func(w int) string {
		var b strings.Builder
		b.WriteString(wrap("Declaring records an escalation in the journal and raises a banner for everyone on this incident until it is acknowledged.", w))
		for _, i := range rules {
			b.WriteString("\n" + wrap(fmt.Sprintf("• %s: escalate to %s", all[i].When, all[i].To), w))
		}
		if oc := c.rb.Meta.Escalation.OnCall; oc != "" {
			b.WriteString("\n" + wrap("On-call contact: "+oc, w))
		}
		return b.String()
	}
	d := newDialog(c, dialogEscalate, "Declare an escalation", ctx, huh.NewGroup(fields...))
	d.submit = func() tea.Cmd {
		if !yes {
			return nil
		}
		r := rule
		return recordCmd("Escalation to "+all[r].To+" declared.", func() error { return c.s.Declare(c.actor, r) })
	}
	return d
}

// newQuitDialog asks before quitting; with an action running it says what
// quitting does to it.
func newQuitDialog(c *common, running []*session.ActionRun, quit func() tea.Cmd) *dialog {
	var yes bool
	desc := "The incident stays open: steady run --resume picks it up."
	if len(running) > 0 {
		a := running[0]
		if c.actor.Via == "ssh" {
			desc = a.Action + " is running; it keeps running for the others on this incident."
		} else {
			desc = a.Action + " is running. Quitting stops steady, which cancels it (SIGINT to its processes, then SIGKILL)."
		}
	}
	f := huh.NewConfirm().Key("yes").Title("Quit steady?").Description(desc).
		Affirmative("Quit").Negative("Stay").Value(&yes)
	d := newDialog(c, dialogQuit, "Quit", nil, huh.NewGroup(f))
	d.submit = func() tea.Cmd {
		if yes {
			return quit()
		}
		return nil
	}
	return d
}

// newCancelDialog asks before cancelling a running action.
func newCancelDialog(c *common, a *session.ActionRun) *dialog {
	var yes bool
	f := huh.NewConfirm().Key("yes").Title("Cancel " + a.Action + "?").
		Description("steady sends SIGINT to its processes, then SIGKILL; the journal records who cancelled. What it already did stays done.").
		Affirmative("Cancel it").Negative("Keep it running").Value(&yes)
	ctx := func(w int) string {
		return wrap(fmt.Sprintf("%s has been running since %s (confirmed by %s).", a.Action, c.clock(a.Started), confirmer(a)), w)
	}
	d := newDialog(c, dialogCancel, "Cancel "+a.Action, ctx, huh.NewGroup(f))
	run, action := a.ID, a.Action
	d.submit = func() tea.Cmd {
		if !yes {
			return flashCmd(action+" keeps running.", false)
		}
		return cancelCmd(c, action, run)
	}
	return d
}
