package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/internal/session"
)

// confirmInput is what the operator typed into a confirmation, kept when
// the dialog opens again to say what is missing.
type confirmInput struct {
	reason, phrase string
	// problem says why the last submission was not accepted.
	problem string
}

// confirmAgainMsg reopens a confirmation whose submission was incomplete.
type confirmAgainMsg struct {
	run   *session.ActionRun
	input confirmInput
}

// newConfirmDialog is the informed confirmation of a planned action: the
// plan stays in view above the form; a destructive plan needs its confirm
// phrase typed exactly; a precondition that does not hold but may be
// overridden needs a written reason; anything else needs an explicit yes.
// (A plan with a precondition that cannot be overridden never gets here:
// the detail pane says why it cannot start.)
//
// The fields do not validate as they are left: tab always moves on, so
// what is typed ahead lands in the field it was meant for. The whole form
// is checked on submit, and an incomplete one opens again saying what is
// missing, with what was typed kept.
func newConfirmDialog(c *common, a *session.ActionRun) *dialog {
	return newConfirmDialogWith(c, a, confirmInput{})
}

func newConfirmDialogWith(c *common, a *session.ActionRun, in confirmInput) *dialog {
	p := a.Plan
	var (
		yes    bool
		fields []huh.Field
	)
	phrase, reason := in.phrase, in.reason
	blocked := p.Blocked()
	if len(blocked) > 0 {
		var names []string
		for _, pc := range blocked {
			names = append(names, pc.Name)
		}
		fields = append(fields, huh.NewInput().
			Key("override").
			Title("Override "+strings.Join(names, ", ")+": why is it safe?").
			Description("The reason is journaled with your name.").
			Value(&reason))
	}
	destructive := p.Destructive && p.ConfirmPhrase != ""
	want := p.ConfirmPhrase
	if destructive {
		fields = append(fields, huh.NewInput().
			Key("phrase").
			Title(fmt.Sprintf("Type %s to run %s", want, a.Action)).
			Description("This action is destructive; nothing runs until the phrase matches.").
			Value(&phrase))
	} else {
		fields = append(fields, huh.NewConfirm().
			Key("yes").
			Title("Run "+a.Action+" now?").
			Affirmative("Run it").
			Negative("Not now").
			Value(&yes))
	}
	title := "Confirm " + a.Action
	context := func(w int) string {
		v := confirmView(c, a, w)
		if in.problem != "" {
			v += "\n" + wrap(c.styles.Bad.Render("✗ "+in.problem), w)
		}
		return v
	}
	d := newDialog(c, dialogConfirm, title, context, huh.NewGroup(fields...))
	d.moveNow = true
	run, action := a.ID, a.Action
	d.submit = func() tea.Cmd {
		typed := confirmInput{reason: reason, phrase: phrase}
		switch {
		case len(blocked) > 0 && len(strings.TrimSpace(reason)) < 5:
			typed.problem = "write why overriding is safe (a few words at least); nothing was run"
		case destructive && strings.TrimSpace(phrase) != want:
			typed.problem = fmt.Sprintf("type %q exactly; nothing was run", want)
		case !destructive && !yes:
			return flashCmd(action+" was not run.", false)
		default:
			return executeCmd(c, action, run, phrase, reason)
		}
		return func() tea.Msg { return confirmAgainMsg{run: a, input: typed} }
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
