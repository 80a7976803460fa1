package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/internal/plural"
	"steady/probes"
	"steady/runbook"
)

// Closing the incident: X asks for a one-line summary and a confirmation,
// then the session records who closed it and why. From then on, on every
// client, the banner says so, nothing that would change the systems or
// the checklist is taken (notes still are, for the postmortem), and q
// quits without a question.

// incidentClosedMsg reports the closing recorded, or why it was refused.
type incidentClosedMsg struct{ err error }

func closeIncidentCmd(c *common, summary string) tea.Cmd {
	return func() tea.Msg { return incidentClosedMsg{err: c.s.CloseIncident(c.actor, summary)} }
}

// closeIncident opens the closing dialog, or says why the incident cannot
// be closed now.
func (m *Model) closeIncident() tea.Cmd {
	if m.c.st.Ended != nil {
		m.flash = flashMsg{text: "The incident is already closed (" + closedBy(m.c) + ")."}
		return nil
	}
	if running := m.c.st.RunningActions(); len(running) > 0 {
		// The session would refuse it too; say so before the operator
		// writes a summary for nothing.
		m.flash = flashMsg{text: fmt.Sprintf("Cannot close the incident: %s is still running. Wait for it to end, or cancel it with ctrl+c, then close.",
			running[0].Action), err: true}
		return nil
	}
	return m.openDialog(newCloseDialog(m.c))
}

// newCloseDialog asks for the closing summary and a confirmation; the
// context says what closing does and what is still open.
func newCloseDialog(c *common) *dialog {
	var (
		summary string
		yes     bool
	)
	in := huh.NewInput().Key("summary").Title("Summary, in one line").
		Description("What was wrong and what fixed it; it heads the postmortem.").
		Value(&summary).Validate(required("the summary"))
	confirm := huh.NewConfirm().Key("yes").Title("Close the incident?").
		Affirmative("Close it").Negative("Not yet").Value(&yes)
	ctx := func(w int) string { return closeContext(c, w) }
	d := newDialog(c, dialogClose, "Close the incident", ctx, huh.NewGroup(in, confirm))
	d.submit = func() tea.Cmd {
		if !yes {
			return flashCmd("The incident stays open.", false)
		}
		return closeIncidentCmd(c, strings.TrimSpace(summary))
	}
	return d
}

// closeContext says what closing does, and what the checklist still has
// open, so nobody closes with a verification forgotten.
func closeContext(c *common, w int) string {
	s := c.styles
	var b strings.Builder
	b.WriteString(wrap("Closing records the end of the incident in the journal, with your name and summary, and stops the clocks. "+
		"Afterwards steady runs no probe or action and takes no tick or skip, for everyone on this incident; notes are still journaled.", w))
	var open []string
	todo := 0
	for _, it := range c.rb.Items() {
		if finished(it, c.itemState(it.ID)) || !onConfirmedPath(c, it) {
			continue
		}
		todo++
		if it.Section == runbook.Verification {
			open = append(open, it.Title)
		}
	}
	if len(open) > 0 {
		b.WriteString("\n\n" + s.Warning.Render(wrap(fmt.Sprintf("Verification not ticked (%d):", len(open)), w)))
		for _, t := range open {
			b.WriteString("\n" + truncate("  • "+t, w))
		}
	}
	if todo > 0 {
		b.WriteString("\n" + s.Dim.Render(wrap(fmt.Sprintf("%s of the checklist still to do.", plural.Count(todo, "item", "items")), w)))
	}
	return b.String()
}

// onConfirmedPath reports whether an item is to be done in this incident:
// every item but the resolution steps of a cause that was never confirmed
// (a ruled-out cause's path is not work left undone).
func onConfirmedPath(c *common, it *runbook.Item) bool {
	if it.Section != runbook.Resolution || it.Cause == "" {
		return true
	}
	switch c.st.Verdicts[it.Cause] {
	case probes.Confirmed, probes.Resolved:
		return true
	}
	return false
}

// closedBy says when and by whom the incident was closed.
func closedBy(c *common) string {
	st := c.st
	if st.Ended == nil {
		return ""
	}
	text := "at " + c.clock(*st.Ended)
	if st.ClosedBy.Name != "" {
		text = "by " + st.ClosedBy.Name + " " + text
	}
	return text
}

// refuseClosed refuses, politely, an intent that would change something
// once the incident is closed; it reports whether it did.
func (m *Model) refuseClosed(what string) bool {
	if m.c.st.Ended == nil {
		return false
	}
	m.flash = flashMsg{text: fmt.Sprintf("The incident is closed (%s), so %s is not possible any more. n adds a note; q quits.", closedBy(m.c), what)}
	return true
}

// mootWhenClosed names what a dialog would send that a closed incident no
// longer takes; ok is false for a dialog that stays useful (a note, the
// quit question).
func mootWhenClosed(k dialogKind) (what string, ok bool) {
	switch k {
	case dialogParams:
		return "the probe", true
	case dialogConfirm:
		return "the action", true
	case dialogSkip:
		return "the skip", true
	case dialogEscalate:
		return "the escalation", true
	case dialogClose:
		return "the summary", true
	}
	return "", false
}

// dropForClosed closes a dialog that a closing by another client made
// moot, saying so, before the operator submits something that would be
// refused.
func (m *Model) dropForClosed() {
	if m.dialog == nil || m.c.st.Ended == nil {
		return
	}
	what, ok := mootWhenClosed(m.dialog.kind)
	if !ok {
		return
	}
	m.dialog = nil
	m.relayout(false)
	m.flash = flashMsg{text: fmt.Sprintf("The incident was closed (%s): %s was not sent.", closedBy(m.c), what)}
}
