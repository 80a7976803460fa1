package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"steady/actions"
	"steady/internal/session"
	"steady/runbook"
)

// What the operator's keys do on the main page: run a probe (asking for
// its parameters first), run the whole diagnosis, plan and confirm an
// action, tick, acknowledge, and ctrl+c. Each sends an intent through a
// command from intents.go, or opens the dialog that will.

// runItem runs the selected item's probe, asking for parameters first
// when it needs any.
func (m *Model) runItem(it *runbook.Item) tea.Cmd {
	if m.refuseClosed("running a probe") {
		return nil
	}
	if it == nil || it.Binding == nil || it.Binding.Probe == "" {
		if it != nil && it.Binding != nil && it.Binding.Action != "" {
			m.flash = flashMsg{text: "This step is an action: enter shows its plan."}
		} else {
			m.flash = flashMsg{text: "This step has no probe to run."}
		}
		return nil
	}
	if m.c.itemState(it.ID).Status == session.Running {
		m.flash = flashMsg{text: it.Binding.Probe + " is already running."}
		return nil
	}
	p, ok := m.c.s.Probe(it.ID, it.Binding.Probe)
	if !ok {
		m.flash = flashMsg{text: "This build of steady has no probe " + it.Binding.Probe + ".", err: true}
		return nil
	}
	if len(p.Needs) > 0 {
		return m.openDialog(newParamsDialog(m.c, it, p))
	}
	return runProbeCmd(m.c, it.ID, p.ID, nil)
}

// runDiagnosis runs every diagnosis probe that needs no input.
func (m *Model) runDiagnosis() tea.Cmd {
	if m.refuseClosed("running the diagnosis") {
		return nil
	}
	sec := m.c.rb.Section(runbook.Diagnosis)
	if sec == nil {
		m.flash = flashMsg{text: "The runbook has no Diagnosis section."}
		return nil
	}
	var items [][2]string
	var needInput []string
	for _, it := range sec.Items {
		if it.Binding == nil || it.Binding.Probe == "" || m.c.itemState(it.ID).Status == session.Running {
			continue
		}
		if needsForm(m.c, it) {
			needInput = append(needInput, it.Binding.Probe)
			continue
		}
		items = append(items, [2]string{it.ID, it.Binding.Probe})
	}
	return runDiagnosisCmd(m.c, items, needInput)
}

// enter acts on the selection: a cause jumps to its resolution, an action
// is planned or confirmed, anything else opens the detail.
func (m *Model) enter(it *runbook.Item) tea.Cmd {
	if c := m.list.selectedCause(); c != nil {
		m.jumpToCause(c.ID)
		return nil
	}
	if it == nil {
		return nil
	}
	if it.Binding == nil || it.Binding.Action == "" {
		if m.focus == paneList {
			m.focus = paneDetail
			m.detail.enter(false)
		}
		return nil
	}
	if m.planning[it.ID] {
		return nil
	}
	a := m.c.lastAction(it.ID)
	if a != nil && a.Running() {
		m.focus = paneDetail
		m.detail.enter(true)
		return nil
	}
	if m.refuseClosed("planning or running an action") {
		return nil
	}
	if a != nil && a.AwaitingApproval() {
		switch {
		case sameKey(m.c.actor, *a.ConfirmedBy):
			m.flash = flashMsg{text: "You confirmed " + a.Action + ": a second operator approves it (x withdraws it)."}
		case !m.c.approver():
			m.flash = flashMsg{text: a.Action + " awaits approval by an operator or approver other than " + a.ConfirmedBy.Name + ".", err: true}
		default:
			return m.openDialog(newApproveDialog(m.c, a, approveInput{}))
		}
		return nil
	}
	if a != nil && a.Open() && len(hardBlocks(a.Plan)) == 0 {
		if !m.c.operator() {
			m.flash = flashMsg{text: "Only an operator can run actions.", err: true}
			return nil
		}
		// The plan is checked against the systems as they are now before
		// anyone confirms it: a backup taken since, say, changes it.
		m.planning[it.ID] = true
		m.flash = flashMsg{text: "Checking that the plan of " + a.Action + " still holds…"}
		return tea.Batch(checkPlanCmd(m.c, it.ID, a.Action, a.ID), m.startSpinner())
	}
	if !m.c.operator() {
		m.flash = flashMsg{text: "Only an operator can plan and run actions.", err: true}
		return nil
	}
	m.planning[it.ID] = true
	m.flash = flashMsg{text: "Planning " + it.Binding.Action + "…"}
	return tea.Batch(planCmd(m.c, it.ID, it.Binding.Action), m.startSpinner())
}

// replan makes the selected item's plan again from scratch, or discards it.
func (m *Model) replan(it *runbook.Item, discard bool) tea.Cmd {
	if it == nil || it.Binding == nil || it.Binding.Action == "" || m.planning[it.ID] {
		return nil
	}
	a := m.c.lastAction(it.ID)
	if a == nil || !(a.Open() || (discard && a.AwaitingApproval())) {
		m.flash = flashMsg{text: "No open plan here: enter plans the action."}
		return nil
	}
	if m.refuseClosed("planning an action") {
		return nil
	}
	run, action := a.ID, a.Action
	if discard {
		return recordCmd("Discarded the plan of "+action+".", func() error { return m.c.s.Discard(m.c.actor, run) })
	}
	m.planning[it.ID] = true
	m.flash = flashMsg{text: "Planning " + action + " again…"}
	item := it.ID
	return tea.Batch(func() tea.Msg {
		if err := m.c.s.Discard(m.c.actor, run); err != nil {
			return planMadeMsg{item: item, action: action, err: err}
		}
		return planCmd(m.c, item, action)()
	}, m.startSpinner())
}

// otherMode is the first way of doing the action its plan offers besides
// the one it chose and that is available now (backup lists the full dump
// first, so a scoped plan is one key away from a full one), or nil.
func otherMode(p actions.Plan) *actions.Alternative {
	for i := range p.Alternatives {
		if a := &p.Alternatives[i]; a.Available && !a.Chosen {
			return a
		}
	}
	return nil
}

// planAlternative puts the selected item's open plan aside and plans the
// action the other way (otherMode).
func (m *Model) planAlternative(it *runbook.Item) tea.Cmd {
	if it == nil || it.Binding == nil || it.Binding.Action == "" || m.planning[it.ID] {
		return nil
	}
	a := m.c.lastAction(it.ID)
	if a == nil || !a.Open() {
		m.flash = flashMsg{text: "No open plan here: enter plans the action."}
		return nil
	}
	alt := otherMode(a.Plan)
	if alt == nil {
		m.flash = flashMsg{text: "This plan offers no other way that is available now."}
		return nil
	}
	if m.refuseClosed("planning an action") {
		return nil
	}
	k, v, _ := strings.Cut(alt.Param, "=")
	params := map[string]string{k: v}
	run, action, item := a.ID, a.Action, it.ID
	m.planning[item] = true
	m.flash = flashMsg{text: "Planning " + action + " with " + alt.Param + "…"}
	return tea.Batch(func() tea.Msg {
		if err := m.c.s.Discard(m.c.actor, run); err != nil {
			return planMadeMsg{item: item, action: action, err: err}
		}
		return planWithCmd(m.c, item, action, params)()
	}, m.startSpinner())
}

// tick ticks or unticks a manual or verification item.
func (m *Model) tick(it *runbook.Item) tea.Cmd {
	if it == nil {
		return nil
	}
	if !it.Manual() && !it.Task {
		m.flash = flashMsg{text: "Only manual and verification steps are ticked; this one is done by its " + it.Binding.Kind() + "."}
		return nil
	}
	if m.refuseClosed("ticking a step") {
		return nil
	}
	checked := !m.c.itemState(it.ID).Checked
	what := "Ticked " + it.ID + "."
	if !checked {
		what = "Unticked " + it.ID + "."
	}
	id := it.ID
	return recordCmd(what, func() error { return m.c.s.Tick(m.c.actor, id, checked) })
}

// acknowledge acknowledges the oldest escalation nobody acknowledged.
func (m *Model) acknowledge() tea.Cmd {
	open := m.c.st.Unacknowledged()
	if len(open) == 0 {
		m.flash = flashMsg{text: "No escalation is waiting to be acknowledged."}
		return nil
	}
	e := open[0]
	return recordCmd("Acknowledged the escalation to "+e.To+".", func() error { return m.c.s.Acknowledge(m.c.actor, e.Rule) })
}

// interrupt is ctrl+c: it asks to cancel a running action, never quits
// under one; with nothing running it asks once, and a second ctrl+c
// quits.
func (m *Model) interrupt() tea.Cmd {
	running := m.c.st.RunningActions()
	if m.dialog != nil {
		switch m.dialog.kind {
		case dialogQuit:
			return m.quit()
		case dialogCancel:
			m.flash = flashMsg{text: "Press y to cancel " + running0(running) + ", n to keep it running."}
			return nil
		}
		// Any other dialog: ctrl+c backs out of it, as esc does.
		m.dialog = nil
		m.relayout(false)
		return nil
	}
	if len(running) > 0 && m.c.operator() {
		return m.openDialog(newCancelDialog(m.c, running[0]))
	}
	if m.c.st.Ended != nil && len(running) == 0 {
		// A closed incident has nothing left to lose by quitting.
		return m.quit()
	}
	return m.openDialog(newQuitDialog(m.c, running, m.quit))
}

func running0(rs []*session.ActionRun) string {
	if len(rs) == 0 {
		return "the action"
	}
	return rs[0].Action
}

// jumpToCause shows the resolution path of a cause.
func (m *Model) jumpToCause(cause string) {
	m.page = pageMain
	if !m.list.jumpToPath(cause) {
		m.flash = flashMsg{text: "The runbook has no resolution path for " + cause + ".", err: true}
		return
	}
	m.focus = paneList
	m.syncSelection()
}
