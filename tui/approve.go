package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/internal/session"
)

// approveInput is what a second operator typed into an approval.
type approveInput struct {
	reject         bool
	phrase, reason string
	problem        string
}

// approveAgainMsg reopens an approval whose submission was incomplete.
type approveAgainMsg struct {
	run   *session.ActionRun
	input approveInput
}

// sameKey reports whether two actors are one person: the same key, or the
// same name.
func sameKey(a, b session.Actor) bool {
	if a.Fingerprint != "" && a.Fingerprint == b.Fingerprint {
		return true
	}
	return strings.EqualFold(a.Name, b.Name)
}

// newApproveDialog is the second pair of eyes on a destructive plan: the
// plan in view, who confirmed it and with what override; approve by typing
// the same phrase, or reject with a reason. As in the confirmation, tab
// always moves and the form is checked on submit.
func newApproveDialog(c *common, a *session.ActionRun, in approveInput) *dialog {
	decision, phrase, reason := "approve", in.phrase, in.reason
	if in.reject {
		decision = "reject"
	}
	fields := []huh.Field{
		huh.NewSelect[string]().Key("decision").Title(fmt.Sprintf("%s confirmed %s: approve it?", a.ConfirmedBy.Name, a.Action)).
			Options(huh.NewOption("Approve: it runs now", "approve"), huh.NewOption("Reject: it does not run", "reject")).
			Value(&decision),
		huh.NewInput().Key("phrase").Title(fmt.Sprintf("To approve, type %s", a.Plan.ConfirmPhrase)).Value(&phrase),
		huh.NewInput().Key("reason").Title("To reject, why?").Description("Journaled with your name.").Value(&reason),
	}
	if a.Plan.ConfirmPhrase == "" {
		fields[1] = huh.NewInput().Key("phrase").Title("To approve, type yes").Value(&phrase)
	}
	context := func(w int) string {
		v := confirmView(c, a, w)
		who := fmt.Sprintf("Confirmed by %s at %s", a.ConfirmedBy, c.clock(a.ConfirmedAt))
		if a.Override != "" {
			who += fmt.Sprintf(", overriding a guard: %q", a.Override)
		}
		v = wrap(c.styles.Label.Render(who), w) + "\n" + v
		if in.problem != "" {
			v += "\n" + wrap(c.styles.Bad.Render("✗ "+in.problem), w)
		}
		return v
	}
	d := newDialog(c, dialogApprove, "Approve "+a.Action, context, huh.NewGroup(fields...))
	d.moveNow = true
	run, action := a.ID, a.Action
	want := a.Plan.ConfirmPhrase
	if want == "" {
		want = "yes"
	}
	d.submit = func() tea.Cmd {
		typed := approveInput{reject: decision == "reject", phrase: phrase, reason: reason}
		switch {
		case typed.reject && len(strings.TrimSpace(reason)) < 5:
			typed.problem = "write why you reject it (a few words at least); nothing was decided"
		case typed.reject:
			return recordCmd("Rejected "+action+".", func() error { return c.s.RejectAction(c.actor, run, strings.TrimSpace(reason)) })
		case strings.TrimSpace(phrase) != want:
			typed.problem = fmt.Sprintf("type %q exactly to approve; nothing was decided", want)
		default:
			if want == "yes" {
				phrase = a.Plan.ConfirmPhrase
			}
			return approveCmd(c, action, run, phrase)
		}
		return func() tea.Msg { return approveAgainMsg{run: a, input: typed} }
	}
	return d
}

func approveCmd(c *common, action, run, phrase string) tea.Cmd {
	return func() tea.Msg {
		err := c.s.ApproveAction(c.ctx, c.actor, run, phrase)
		return actionStartedMsg{action: action, run: run, err: err}
	}
}
