package tui

import (
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/session"
)

// newConfirmDialog is the informed confirmation of a planned action: the
// plan stays in view above the form; a destructive plan needs its confirm
// phrase typed exactly; a precondition that does not hold but may be
// overridden needs a written reason; anything else needs an explicit yes.
// (A plan with a precondition that cannot be overridden never gets here:
// the detail pane says why it cannot start.)
func newConfirmDialog(c *common, a *session.ActionRun) *dialog {
	p := a.Plan
	var (
		phrase, reason string
		yes            bool
		fields         []huh.Field
	)
	if blocked := p.Blocked(); len(blocked) > 0 {
		var names []string
		for _, pc := range blocked {
			names = append(names, pc.Name)
		}
		fields = append(fields, huh.NewInput().
			Key("override").
			Title("Override "+strings.Join(names, ", ")+": why is it safe?").
			Description("The reason is journaled with your name.").
			Value(&reason).
			Validate(func(s string) error {
				if len(strings.TrimSpace(s)) < 5 {
					return errors.New("write the reason (a few words at least)")
				}
				return nil
			}))
	}
	destructive := p.Destructive && p.ConfirmPhrase != ""
	if destructive {
		want := p.ConfirmPhrase
		fields = append(fields, huh.NewInput().
			Key("phrase").
			Title(fmt.Sprintf("Type %s to run %s", want, a.Action)).
			Description("This action is destructive; nothing runs until the phrase matches.").
			Value(&phrase).
			Validate(func(s string) error {
				if strings.TrimSpace(s) != want {
					return fmt.Errorf("type %q exactly", want)
				}
				return nil
			}))
	} else {
		fields = append(fields, huh.NewConfirm().
			Key("yes").
			Title("Run "+a.Action+" now?").
			Affirmative("Run it").
			Negative("Not now").
			Value(&yes))
	}
	title := "Confirm " + a.Action
	context := func(w int) string { return confirmView(c, a, w) }
	d := newDialog(c, dialogConfirm, title, context, huh.NewGroup(fields...))
	run, action := a.ID, a.Action
	d.submit = func() tea.Cmd {
		if !destructive && !yes {
			return flashCmd(action+" was not run.", false)
		}
		return executeCmd(c, action, run, phrase, reason)
	}
	return d
}

// confirmView is the plan in brief for the confirmation: what will run,
// exactly, and what stands in the way. The full plan is in the detail
// pane behind the dialog.
func confirmView(c *common, a *session.ActionRun, w int) string {
	s := c.styles
	p := a.Plan
	var b strings.Builder
	title := p.Title
	if title == "" {
		title = a.Action
	}
	kind := ""
	if p.Destructive {
		kind = " · DESTRUCTIVE"
	}
	b.WriteString(wrap(s.Label.Render(title)+" · "+riskStyle(s, p.Risk).Render("risk "+strings.ToUpper(string(p.Risk)))+kind, w) + "\n")
	b.WriteString("Will run:\n")
	for i, st := range p.Steps {
		b.WriteString(stepView(s, i, st, w) + "\n")
	}
	for _, pc := range p.Blocked() {
		text := s.Bad.Render("✗") + " " + pc.Name + ": " + pc.Detail
		if pc.Overridable {
			text += " (may be overridden)"
		}
		b.WriteString(wrap(text, w) + "\n")
	}
	for _, wn := range p.Warnings {
		b.WriteString(wrap(s.Warning.Render("!")+" "+wn, w) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
