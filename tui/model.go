package tui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"steady/actions"
	"steady/internal/session"
)

// page is what fills the body of the screen.
type page int

const (
	pageMain    page = iota // checklist and detail
	pageCauses              // the root-cause board
	pageHelp                // every key
	pageRelated             // related runbooks, read-only
)

// pane is which of the main page's panes has the focus.
type pane int

const (
	paneList pane = iota
	paneDetail
)

// Model is the root of one client's screen. It routes messages by page
// and focus: a window size goes to everything, keys to the dialog when
// one is open, else to the active page and focused pane; session events
// refresh the snapshot every component reads.
type Model struct {
	c   *common
	sub *session.Subscription
	lay layout

	width, height int
	page, back    page
	focus         pane

	list    *checklist
	detail  *detail
	causes  *causeBoard
	related *related
	dialog  *dialog
	help    help.Model
	spin    spinner.Model
	// spinning is true while a spinner tick is in flight.
	spinning bool

	// resume holds the resume report until the operator has read it.
	resume []string
	flash  flashMsg
	// planning names the items whose plan is being made.
	planning map[string]bool
	quitting bool
}

func newModel(c *common, resume *session.ResumeReport) *Model {
	m := &Model{
		c:        c,
		sub:      c.s.Subscribe(),
		list:     newChecklist(c),
		detail:   newDetail(c),
		causes:   newCauseBoard(c),
		related:  newRelated(c),
		help:     help.New(),
		spin:     spinner.New(spinner.WithSpinner(spinner.Line)),
		planning: map[string]bool{},
	}
	m.help.Styles = c.styles.Help
	if resume != nil {
		m.resume = resume.Lines()
	}
	m.syncSelection()
	return m
}

// Init starts the event subscription and the clock, and asks the
// terminal for its background so the styles can follow it.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(waitForEvents(m.sub), tickClock(), tea.RequestBackgroundColor, m.startSpinner())
}

// close ends the subscription; the program is over.
func (m *Model) close() {
	if m.sub != nil {
		m.sub.Close()
	}
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.close()
	return tea.Quit
}

// Update routes a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if m.dialog != nil {
		if p := m.dialog.takePending(); p != nil {
			cmd = tea.Batch(cmd, p)
		}
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	if cmd, ok := m.updateScreen(msg); ok {
		return cmd
	}
	if cmd, ok := m.updateResult(msg); ok {
		return cmd
	}
	// Anything else belongs to a child: the form's own messages, the
	// filter's cursor.
	if m.dialog != nil {
		return m.toDialog(msg)
	}
	if m.list.filtering {
		var cmd tea.Cmd
		m.list.filter, cmd = m.list.filter.Update(msg)
		return cmd
	}
	return nil
}

// updateScreen handles the terminal's, the session's and the clock's
// messages, keys, and moves between pages; ok is false for any other.
func (m *Model) updateScreen(msg tea.Msg) (_ tea.Cmd, ok bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.relayout(true)
		return m.toDialog(msg), true
	case tea.ColorProfileMsg:
		m.c.profile = msg.Profile
		m.restyle()
		return nil, true
	case tea.BackgroundColorMsg:
		m.c.dark = msg.IsDark()
		m.restyle()
		return m.toDialog(msg), true
	case stateChangedMsg:
		m.refresh()
		m.announce(msg.events)
		m.dropForClosed()
		return tea.Batch(waitForEvents(m.sub), m.startSpinner()), true
	case sessionEndedMsg:
		m.quitting = true
		return tea.Quit, true
	case clockMsg:
		return tea.Batch(tickClock(), checkEscalationsCmd(m.c)), true
	case spinner.TickMsg:
		return m.onSpinnerTick(msg), true
	case tea.KeyPressMsg:
		return m.handleKey(msg), true
	case jumpToCauseMsg:
		m.jumpToCause(msg.cause)
		return nil, true
	case relatedClosedMsg:
		m.page = pageMain
		return nil, true
	case flashMsg:
		m.flash = msg
		return nil, true
	}
	return nil, false
}

// onSpinnerTick turns the spinner while anything runs.
func (m *Model) onSpinnerTick(msg spinner.TickMsg) tea.Cmd {
	if !m.busy() {
		m.spinning = false
		return nil
	}
	var cmd tea.Cmd
	m.spin, cmd = m.spin.Update(msg)
	m.list.frame = m.spin.View()
	return cmd
}

// updateResult handles what the operator's commands answer: each says in
// the footer how it went; ok is false for any other message.
func (m *Model) updateResult(msg tea.Msg) (_ tea.Cmd, ok bool) {
	switch msg := msg.(type) {
	case escalationsCheckedMsg:
		m.flash = flashMsg{text: explain("checking the escalation clock", msg.err), err: true}
	case probeStartedMsg:
		m.flash = resultFlash(msg.err, "cannot run "+msg.probe, msg.probe+" started.")
		return m.startSpinner(), true
	case diagnosisStartedMsg:
		m.flash = diagnosisFlash(msg)
		return m.startSpinner(), true
	case planMadeMsg:
		delete(m.planning, msg.item)
		if msg.err != nil {
			m.flash = flashMsg{text: explain("cannot plan "+msg.action, msg.err), err: true}
			return nil, true
		}
		m.refresh()
		m.flash = flashMsg{text: "Plan ready: read it, then press enter to confirm."}
	case approveAgainMsg:
		m.flash = flashMsg{text: msg.input.problem, err: true}
		return m.openDialog(newApproveDialog(m.c, msg.run, msg.input)), true
	case confirmAgainMsg:
		m.flash = flashMsg{text: msg.input.problem, err: true}
		return m.openDialog(newConfirmDialogWith(m.c, msg.run, msg.input)), true
	case planCheckedMsg:
		return m.onPlanChecked(msg), true
	case actionStartedMsg:
		return m.onActionStarted(msg), true
	case actionCancelMsg:
		m.flash = resultFlash(msg.err, "cannot cancel "+msg.action, "Cancel sent to "+msg.action+".")
	case incidentClosedMsg:
		m.flash = resultFlash(msg.err, "cannot close the incident", "Incident closed. q quits; steady then seals the journal and prints its head.")
	case recordedMsg:
		m.flash = resultFlash(msg.err, "not recorded", msg.what)
	default:
		return nil, false
	}
	return nil, true
}

// resultFlash says what failed and why, or what succeeded.
func resultFlash(err error, failed, done string) flashMsg {
	if err != nil {
		return flashMsg{text: explain(failed, err), err: true}
	}
	return flashMsg{text: done}
}

// onPlanChecked opens the confirmation once a plan made again just before
// it runs still stands; otherwise it says what changed.
func (m *Model) onPlanChecked(msg planCheckedMsg) tea.Cmd {
	delete(m.planning, msg.item)
	switch {
	case msg.err != nil:
		m.flash = flashMsg{text: explain("cannot check the plan of "+msg.action, msg.err), err: true}
	case len(msg.changes) > 0:
		m.refresh()
		m.flash = flashMsg{text: "The plan of " + msg.action + " changed since it was made: " + strings.Join(msg.changes, "; ") + ". Read the new plan, then enter confirms it.", err: true}
	case len(hardBlocks(msg.run.Plan)) > 0:
		m.refresh()
	default:
		m.flash = flashMsg{}
		return m.openDialog(newConfirmDialog(m.c, msg.run))
	}
	return nil
}

// onActionStarted says an action runs, waits for approval, or did not start.
func (m *Model) onActionStarted(msg actionStartedMsg) tea.Cmd {
	var wait *session.AwaitingApprovalError
	if errors.As(msg.err, &wait) {
		m.refresh()
		m.flash = flashMsg{text: "Confirmed: " + msg.action + " waits for a second operator to approve it (on their screen, or `steady approve " + wait.Run + "`)."}
		return nil
	}
	if msg.err != nil {
		m.flash = flashMsg{text: explain(msg.action+" did not start", msg.err), err: true}
		return nil
	}
	m.flash = flashMsg{text: msg.action + " is running; ctrl+c cancels it."}
	return m.startSpinner()
}

// announce puts the end of an action in the footer, whoever started it:
// the operator may be looking elsewhere when it ends.
func (m *Model) announce(events []session.Event) {
	for _, e := range events {
		if e.Type != session.TypeActionFinished {
			continue
		}
		var d session.ActionFinished
		if e.Decode(&d) != nil {
			continue
		}
		a := m.c.st.Action(d.Run)
		if a == nil {
			continue
		}
		text := fmt.Sprintf("%s ended: %s", a.Action, strings.ToUpper(string(d.Outcome.Status)))
		if d.Outcome.Summary != "" {
			text += " · " + d.Outcome.Summary
		}
		m.flash = flashMsg{text: text, err: d.Outcome.Status != actions.Succeeded}
	}
}

func diagnosisFlash(msg diagnosisStartedMsg) flashMsg {
	var parts []string
	if n := len(msg.started); n > 0 {
		parts = append(parts, fmt.Sprintf("%d diagnosis probe(s) started", n))
	}
	if len(msg.needInput) > 0 {
		parts = append(parts, strings.Join(msg.needInput, ", ")+" need input: press r on them")
	}
	if msg.err != nil {
		parts = append(parts, explain("not started", msg.err))
	}
	if len(parts) == 0 {
		parts = append(parts, "no diagnosis probe to run")
	}
	return flashMsg{text: strings.Join(parts, "; ") + ".", err: msg.err != nil}
}

// toDialog passes a message to the open dialog and closes it when done.
func (m *Model) toDialog(msg tea.Msg) tea.Cmd {
	if m.dialog == nil {
		return nil
	}
	done, cmd := m.dialog.Update(msg)
	if done {
		m.dialog = nil
		m.relayout(false)
	}
	return cmd
}

func (m *Model) openDialog(d *dialog) tea.Cmd {
	m.dialog = d
	m.relayout(false)
	return d.Init()
}

// refresh takes a new snapshot of the incident and passes it down.
func (m *Model) refresh() {
	m.c.st = m.c.s.State()
	m.c.failure = m.c.s.JournalFailure()
	if why := m.c.syncRole(); why != "" {
		m.flash = flashMsg{text: why, err: true}
	}
	if m.list.filter.Value() != "" {
		m.list.refilter()
	}
	m.relayout(false)
	m.syncSelection()
	m.detail.refresh()
}

// restyle rebuilds everything drawn with the client's styles.
func (m *Model) restyle() {
	m.c.restyle()
	m.help.Styles = m.c.styles.Help
	m.detail.restyle()
	m.relayout(true)
}

// relayout recomputes the layout; components are resized when it changed
// (or when forced).
func (m *Model) relayout(force bool) {
	lay := computeLayout(m.width, m.height, len(bannerLines(m.c, m.width)))
	if lay == m.lay && !force {
		if m.dialog != nil {
			m.dialog.setSize(m.dialogArea())
		}
		return
	}
	m.lay = lay
	m.list.setSize(lay.List, lay.Body)
	m.detail.setSize(lay.Detail, lay.Body)
	m.causes.setSize(lay.Width, lay.Body)
	m.related.setSize(lay.Width, lay.Body)
	m.help.SetWidth(lay.Width)
	if m.dialog != nil {
		m.dialog.setSize(m.dialogArea())
	}
}

// dialogArea is where a dialog goes: over the detail pane, or the whole
// body when only one pane fits.
func (m *Model) dialogArea() (int, int) {
	if m.lay.Single {
		return m.lay.Width, m.lay.Body
	}
	return m.lay.Detail, m.lay.Body
}

// syncSelection shows the checklist's selection in the detail pane.
func (m *Model) syncSelection() {
	m.detail.show(m.list.selectedItem(), m.list.selectedCause())
}

// busy reports whether anything runs that deserves a spinner.
func (m *Model) busy() bool {
	return len(m.c.st.RunningProbes()) > 0 || len(m.c.st.RunningActions()) > 0 || len(m.planning) > 0
}

func (m *Model) startSpinner() tea.Cmd {
	if m.spinning || !m.busy() {
		return nil
	}
	m.spinning = true
	return m.spin.Tick
}

// handleKey routes a key press.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.keys
	// ctrl+c never reaches a child: it cancels an action or quits.
	if key.Matches(msg, k.Interrupt) {
		return m.interrupt()
	}
	if m.dialog != nil {
		return m.toDialog(msg)
	}
	if m.resume != nil {
		if key.Matches(msg, k.Enter, k.Back, k.Tick, k.Quit) {
			m.resume = nil
		}
		return nil
	}
	m.flash = flashMsg{}
	if m.page == pageHelp {
		if key.Matches(msg, k.Help, k.Back, k.Quit) {
			m.page = m.back
		}
		return nil
	}
	if m.page == pageMain && m.list.filtering {
		cmd := m.list.Update(msg)
		m.syncSelection()
		return cmd
	}
	if !m.c.operator() && operatorOnly(msg) {
		// The keys are not offered, but someone used to them presses them.
		m.flash = flashMsg{text: "You are an " + string(m.c.actor.Role) + ": running probes, skipping items and closing the incident are for operators.", err: true}
		return nil
	}
	if cmd, ok := m.globalKey(msg); ok {
		return cmd
	}
	switch m.page {
	case pageCauses:
		if key.Matches(msg, k.Back) {
			m.page = pageMain
			return nil
		}
		return m.causes.Update(msg)
	case pageRelated:
		return m.related.Update(msg)
	}
	return m.updateMain(msg)
}

// globalKey handles the keys that work on every page; ok is false for any
// other key.
func (m *Model) globalKey(msg tea.KeyPressMsg) (_ tea.Cmd, ok bool) {
	k := m.c.keys
	switch {
	case key.Matches(msg, k.Quit) && !(m.page == pageRelated && m.related.open != nil):
		if running := m.c.st.RunningActions(); len(running) > 0 && m.c.st.Ended == nil {
			return m.openDialog(newQuitDialog(m.c, running, m.quit)), true
		}
		return m.quit(), true
	case key.Matches(msg, k.Help):
		m.back, m.page = m.page, pageHelp
	case key.Matches(msg, k.Causes):
		if m.page == pageCauses {
			m.page = pageMain
		} else {
			m.page = pageCauses
		}
	case key.Matches(msg, k.Close):
		return m.closeIncident(), true
	case key.Matches(msg, k.Escalate):
		return m.escalate(), true
	case key.Matches(msg, k.Ack):
		return m.acknowledge(), true
	case key.Matches(msg, k.Related) && m.page != pageRelated:
		m.page = pageRelated
	case key.Matches(msg, k.RunAll):
		return m.runDiagnosis(), true
	default:
		return nil, false
	}
	return nil, true
}

// escalate opens the form declaring an escalation, when the runbook has a
// rule to declare and the incident is open.
func (m *Model) escalate() tea.Cmd {
	if m.refuseClosed("declaring an escalation") {
		return nil
	}
	if len(immediateRules(m.c.rb)) == 0 {
		m.flash = flashMsg{text: "The runbook has no immediate escalation rule; follow its Escalation section.", err: true}
		return nil
	}
	return m.openDialog(newEscalateDialog(m.c))
}

// updateMain handles keys on the checklist and detail page.
func (m *Model) updateMain(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.keys
	it := m.list.selectedItem()
	switch {
	case key.Matches(msg, k.NextPane):
		m.cycleFocus(false)
		return nil
	case key.Matches(msg, k.PrevPane):
		m.cycleFocus(true)
		return nil
	case key.Matches(msg, k.Run):
		return m.runItem(it)
	case key.Matches(msg, k.Enter):
		return m.enter(it)
	case key.Matches(msg, k.Replan):
		return m.replan(it, false)
	case key.Matches(msg, k.Discard):
		return m.replan(it, true)
	case key.Matches(msg, k.Alternative):
		return m.planAlternative(it)
	case key.Matches(msg, k.Tick):
		return m.tick(it)
	case key.Matches(msg, k.Note):
		return m.openDialog(newNoteDialog(m.c, it))
	case key.Matches(msg, k.Skip):
		if it == nil || m.refuseClosed("skipping a step") {
			return nil
		}
		return m.openDialog(newSkipDialog(m.c, it))
	case key.Matches(msg, k.Filter):
		m.focus = paneList
		return m.list.Update(msg)
	case key.Matches(msg, k.Back) && m.focus == paneDetail:
		m.focus = paneList
		m.detail.focus = partText
		return nil
	}
	if m.focus == paneDetail {
		return m.detail.Update(msg)
	}
	cmd := m.list.Update(msg)
	m.syncSelection()
	return cmd
}

// cycleFocus moves the focus: checklist → detail text → evidence or
// output → checklist.
func (m *Model) cycleFocus(back bool) {
	if m.focus == paneList {
		m.focus = paneDetail
		m.detail.enter(back)
		return
	}
	if !m.detail.cycle(back) {
		m.focus = paneList
	}
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "steady · " + m.c.rb.Title()
	return v
}

func (m *Model) render() string {
	if m.quitting {
		return ""
	}
	lay := m.lay
	if lay.Width <= 0 || lay.Height <= 0 {
		return ""
	}
	var parts []string
	if lay.Header > 0 {
		parts = append(parts, box(headerView(m.c, lay.Width, lay.Header), lay.Width, lay.Header))
	}
	if lay.Banner > 0 {
		parts = append(parts, box(strings.Join(bannerLines(m.c, lay.Width), "\n"), lay.Width, lay.Banner))
	}
	if lay.Body > 0 {
		parts = append(parts, m.body())
	}
	if lay.Footer > 0 {
		parts = append(parts, box(m.footer(), lay.Width, lay.Footer))
	}
	return fit(strings.Join(parts, "\n"), lay.Width, lay.Height)
}

// body draws the page under the header.
func (m *Model) body() string {
	lay := m.lay
	w, h := lay.Width, lay.Body
	switch {
	case m.resume != nil:
		return box(m.resumeView(w), w, h)
	case m.page == pageHelp:
		return box(m.helpView(w), w, h)
	case m.page == pageCauses:
		if m.dialog != nil {
			return box(m.dialog.View(), w, h)
		}
		return box(m.causes.View(), w, h)
	case m.page == pageRelated:
		if m.dialog != nil {
			return box(m.dialog.View(), w, h)
		}
		return box(m.related.View(), w, h)
	}
	if lay.Single {
		switch {
		case m.dialog != nil:
			return box(m.dialog.View(), w, h)
		case m.focus == paneDetail:
			return box(m.detail.View(true), w, h)
		}
		return box(m.list.View(true), w, h)
	}
	left := box(m.list.View(m.focus == paneList && m.dialog == nil), lay.List, h)
	var right string
	if m.dialog != nil {
		right = box(m.dialog.View(), lay.Detail, h)
	} else {
		right = box(m.detail.View(m.focus == paneDetail), lay.Detail, h)
	}
	gap := strings.TrimSuffix(strings.Repeat(m.c.styles.Separator.Render("│")+"\n", h), "\n")
	return sideBySide(left, gap, right, h)
}
