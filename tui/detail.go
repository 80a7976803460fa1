package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"steady/internal/plural"
	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// part is a scrollable part of the detail pane that can have the focus.
type part int

const (
	partText part = iota
	partEvidence
	partOutput
)

// detail is the right pane: the selected item's text, its manual
// equivalent, and the live evidence of its probe or the plan, output and
// outcome of its action. Or, with a root cause selected, the cause.
type detail struct {
	c     *common
	item  *runbook.Item
	cause *runbook.Cause

	width, height int
	text          viewport.Model
	textKey       string
	evidence      *evidence
	showEvidence  bool
	output        viewport.Model
	// The output's wrapped lines are kept, and only new output lines are
	// wrapped as they arrive: a long action must not cost a re-wrap of
	// everything it printed on every line.
	outputRun   string
	outputWidth int
	outputDone  int
	outputCut   int
	outputLines []string
	action      *session.ActionRun
	focus       part
}

func newDetail(c *common) *detail {
	text := viewport.New()
	text.SoftWrap = false
	out := viewport.New()
	return &detail{c: c, text: text, output: out, evidence: newEvidence(c)}
}

// show selects what the pane shows.
func (d *detail) show(it *runbook.Item, cause *runbook.Cause) {
	if d.item == it && d.cause == cause {
		return
	}
	d.item, d.cause = it, cause
	d.focus = partText
	d.text.GotoTop()
	d.refresh()
}

func (d *detail) setSize(w, h int) {
	d.width, d.height = w, h
	d.refresh()
}

// contentWidth is the width text is wrapped to: one column is left free so
// a word never touches the pane's edge.
func (d *detail) contentWidth() int { return max(d.width-1, 1) }

// refresh brings the pane up to the latest snapshot. It runs on every
// state change, so the costly parts are rebuilt only when their input
// moved: the evidence rows when the probe run changed, the output when
// lines arrived; the text is re-assembled from strings, its Markdown from
// the per-client cache.
func (d *detail) refresh() {
	if d.width <= 0 {
		return
	}
	d.showEvidence = false
	d.action = nil
	if d.item != nil {
		if b := d.item.Binding; b != nil && b.Probe != "" {
			if p := d.c.lastProbe(d.item.ID); p != nil && p.Result != nil && (len(p.Result.Evidence.Rows) > 0 || len(p.Result.Evidence.Columns) > 0) {
				d.evidence.set(p.ID, p.Result.Evidence)
				d.showEvidence = true
			}
		}
		if b := d.item.Binding; b != nil && b.Action != "" {
			if a := d.c.lastAction(d.item.ID); a != nil && !a.Started.IsZero() {
				d.action = a
			}
		}
	}
	if d.focus == partEvidence && !d.showEvidence || d.focus == partOutput && d.action == nil {
		d.focus = partText
	}
	textH, lowerH := d.split()
	w := d.contentWidth()
	if d.showEvidence {
		d.evidence.setSize(d.width, lowerH)
	}
	if d.action != nil {
		d.refreshOutput(lowerH)
	}
	content := d.buildText(w)
	key := fmt.Sprintf("%p/%p/%d", d.item, d.cause, w)
	atTop := d.textKey != key
	d.textKey = key
	d.text.SetWidth(d.width)
	d.text.SetHeight(max(textH, 0))
	d.text.SetContent(content)
	if atTop {
		d.text.GotoTop()
	}
	d.evidence.focus(d.focus == partEvidence)
}

func (d *detail) refreshOutput(h int) {
	a := d.action
	follow := d.output.AtBottom() || d.outputRun != a.ID
	d.output.SetWidth(d.width)
	vh := h - 1
	if a.Progress != nil && a.Progress.Total > 0 {
		vh--
	}
	d.output.SetHeight(max(vh, 0))
	w := max(d.width-1, 1)
	if d.outputRun != a.ID || d.outputWidth != w || d.outputDone > len(a.Output) {
		d.outputRun, d.outputWidth, d.outputDone, d.outputCut, d.outputLines = a.ID, w, 0, -1, nil
	}
	if d.outputDone < len(a.Output) || d.outputCut != a.OutputCut {
		for _, l := range a.Output[d.outputDone:] {
			d.outputLines = append(d.outputLines, outputLines(d.c.styles, l, w)...)
		}
		d.outputDone, d.outputCut = len(a.Output), a.OutputCut
		lines := d.outputLines[:len(d.outputLines):len(d.outputLines)]
		if a.OutputCut > 0 {
			lines = append(lines, outputCutNote(d.c.styles, a))
		}
		d.output.SetContentLines(lines)
	}
	if follow {
		d.output.GotoBottom()
	}
}

// split divides the pane below its title line between the text and the
// evidence table or action output; the part with the focus gets more.
func (d *detail) split() (textH, lowerH int) {
	room := max(d.height-1, 0)
	var want int
	switch {
	case d.showEvidence:
		want = d.evidence.total + 2
	case d.action != nil:
		want = len(d.action.Output) + 2
		if d.action.Progress != nil {
			want++
		}
		want = max(want, 4)
	default:
		return room, 0
	}
	share := room / 2
	if d.focus != partText {
		share = room - min(3, room/3)
	}
	if share < 3 {
		return room, 0
	}
	lowerH = min(want, share)
	return room - lowerH, lowerH
}

// buildText assembles the text part for the selection.
func (d *detail) buildText(w int) string {
	switch {
	case d.cause != nil:
		return d.causeText(w)
	case d.item == nil:
		return d.c.styles.Dim.Render(wrap("Nothing selected. Move with ↑/↓ in the checklist.", w))
	}
	s := d.c.styles
	it := d.item
	st := d.c.itemState(it.ID)
	var b strings.Builder
	b.WriteString(s.Dim.Render(truncate(itemSummary(it), w)) + "\n")
	b.WriteString(wrap(statusLine(d.c, it, st), w) + "\n\n")
	// What is live comes first (the result, the plan): the runbook's text,
	// with the manual equivalent, follows.
	switch {
	case it.Binding != nil && it.Binding.Probe != "":
		b.WriteString(probeText(d.c, it, w) + "\n\n")
	case it.Binding != nil && it.Binding.Action != "":
		b.WriteString(actionText(d.c, it, w) + "\n\n")
	}
	b.WriteString(d.c.md.render(it.Markdown, w))
	if (it.Task || it.Manual()) && !finished(it, st) {
		b.WriteString("\n\n" + s.Dim.Render(wrap("Do it, then press space to tick it (n adds a note, s skips it with a reason).", w)))
	}
	if notes := d.c.st.NotesOf(it.ID); len(notes) > 0 {
		b.WriteString("\n\n" + s.Label.Render("Notes") + "\n")
		for _, n := range notes {
			b.WriteString(wrap(fmt.Sprintf("%s %s: %s", d.c.clock(n.At), n.By.Name, n.Text), w) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// itemSummary is the one-line description of what carries an item out.
func itemSummary(it *runbook.Item) string {
	b := it.Binding
	if b == nil {
		if it.Task {
			return it.ID + " · verification, ticked by hand"
		}
		return it.ID + " · manual"
	}
	out := it.ID + " · " + b.Kind() + " " + b.Target()
	if len(b.Params) > 0 {
		keys := make([]string, 0, len(b.Params))
		for k := range b.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, k+"="+b.Params[k])
		}
		out += " (" + strings.Join(ps, " ") + ")"
	}
	return out
}

// statusLine says where an item stands, and who put it there when.
func statusLine(c *common, it *runbook.Item, st session.ItemState) string {
	s := c.styles
	tag, status := itemTag(c, it, st, "")
	text := s.statusStyle(status).Render(tag) + " " + statusText(status, st.Checked, tag)
	if st.By.Name != "" && !st.At.IsZero() {
		text += fmt.Sprintf(" by %s at %s", st.By.Name, c.clock(st.At))
	} else if !st.At.IsZero() {
		text += " at " + c.clock(st.At)
	}
	if st.SkipReason != "" {
		text += ": " + st.SkipReason
	}
	return text
}

// statusText describes a status in words.
func statusText(st session.ItemStatus, checked bool, tag string) string {
	switch {
	case checked:
		return "ticked"
	case tag == "[plan]":
		return "planned, waiting for confirmation"
	case tag == "[appr]":
		return "confirmed, waiting for a second operator's approval"
	}
	switch st {
	case session.ItemOK:
		return "passed"
	case session.Warned:
		return "warning"
	case session.Failed:
		return "failed"
	case session.Errored:
		return "could not run"
	case session.ItemSkipped:
		return "skipped"
	case session.Done:
		return "done"
	case session.Unknown:
		return "outcome unknown"
	case session.Running:
		return "running"
	}
	return "to do"
}

// probeText renders a probe item's latest run: its result, findings and
// how the evidence below was obtained.
func probeText(c *common, it *runbook.Item, w int) string {
	s := c.styles
	p := c.lastProbe(it.ID)
	if p == nil {
		hint := "Not run yet. Press r to run it."
		if c.operator() && needsForm(c, it) {
			hint = "Not run yet. Press r to run it; it asks for its parameters first."
		}
		if !c.operator() {
			hint = "Not run yet; an operator runs probes."
		}
		return s.Dim.Render(wrap(hint, w))
	}
	var b strings.Builder
	if p.Result == nil {
		b.WriteString(wrap(s.Status[session.Running].Render("Running")+fmt.Sprintf(" since %s, started by %s.", c.clock(p.Started), p.By.Name), w))
		return b.String()
	}
	r := p.Result
	head := s.Finding[r.Status].Render("Result: "+strings.ToUpper(string(r.Status))) + " " + r.Summary
	b.WriteString(wrap(head, w) + "\n")
	meta := fmt.Sprintf("ran %s by %s", c.clock(p.Started), p.By.Name)
	if r.Duration > 0 {
		meta += fmt.Sprintf(", took %s", r.Duration.Round(time.Millisecond))
	}
	if len(p.Params) > 0 {
		keys := make([]string, 0, len(p.Params))
		for k := range p.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, k+"="+p.Params[k])
		}
		meta += " · " + strings.Join(ps, " ")
	}
	b.WriteString(s.Dim.Render(wrap(meta, w)) + "\n")
	if r.Error != "" {
		b.WriteString(wrap(s.Bad.Render("error: ")+r.Error, w) + "\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n" + s.Label.Render("Findings") + "\n")
		for _, f := range r.Findings {
			tag := fmt.Sprintf("%-6s", findingWord(f.Status))
			text := f.Message
			if f.Code != "" {
				text += " (" + f.Code + ")"
			}
			b.WriteString(s.Finding[f.Status].Render(tag) + " " + indentRest(wrap(text, max(w-7, 10)), 7) + "\n")
		}
	}
	if n := newerRun(c, p); n != nil {
		text := fmt.Sprintf("A newer run of %s (%s by %s) says: %s %s", p.Probe, c.clock(n.Started), n.By.Name,
			s.Finding[n.Result.Status].Render(strings.ToUpper(string(n.Result.Status))), n.Result.Summary)
		b.WriteString("\n" + wrap(text, w) + "\n")
	}
	b.WriteString(s.Dim.Render(wrap("Press r to run it again.", w)))
	return b.String()
}

// newerRun returns a finished run of the same probe started after p (by
// another item, or by steady re-checking after an action), or nil.
func newerRun(c *common, p *session.ProbeRun) *session.ProbeRun {
	for i := len(c.st.Probes) - 1; i >= 0; i-- {
		q := c.st.Probes[i]
		if q.ID == p.ID {
			return nil
		}
		if q.Probe == p.Probe && q.Result != nil {
			return q
		}
	}
	return nil
}

func findingWord(st probes.Status) string {
	switch st {
	case probes.OK:
		return "✓ ok"
	case probes.Warn:
		return "! WARN"
	case probes.Fail:
		return "✗ FAIL"
	case probes.Error:
		return "✗ ERR"
	}
	return "· " + string(st)
}

// indentRest indents every line but the first.
func indentRest(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = pad(n) + lines[i]
	}
	return strings.Join(lines, "\n")
}

// actionText renders an action item's latest plan, or how to get one.
func actionText(c *common, it *runbook.Item, w int) string {
	a := c.lastAction(it.ID)
	if a == nil {
		return c.styles.Dim.Render(wrap("Press enter to plan this action. Nothing runs yet: steady first shows exactly what it would do, and asks you to confirm.", w))
	}
	if a.Outcome != nil {
		// How it ended matters most now; the plan it ran follows.
		return outcomeView(c, a, w) + "\n\n" + planView(c, a, w, false)
	}
	if a.DiscardedBy != nil {
		return c.styles.Dim.Render(wrap(fmt.Sprintf("The plan was discarded by %s. Press enter to plan this action again.", a.DiscardedBy), w))
	}
	if len(a.Changes) > 0 {
		// A plan made again: what changed comes first, in full.
		var b strings.Builder
		b.WriteString(c.styles.Warning.Render(wrap(fmt.Sprintf("Made again at %s: the plan it replaces (%s) no longer stood.", a.PlannedAt.UTC().Format("15:04:05"), a.Replaces), w)) + "\n")
		for _, ch := range a.Changes {
			b.WriteString(wrap("  • "+ch, w) + "\n")
		}
		return b.String() + "\n" + planView(c, a, w, true)
	}
	return planView(c, a, w, true)
}

// causeText renders a root cause: how to confirm it, its probes' latest
// results, its verdict and where its resolution is.
func (d *detail) causeText(w int) string {
	c, s := d.c, d.c.styles
	cause := d.cause
	v := c.st.Verdicts[cause.ID]
	var b strings.Builder
	b.WriteString(s.Heading.Render(wrap(cause.Title, w)) + "\n")
	b.WriteString(fmt.Sprintf("Likelihood: %s · Verdict: %s\n\n", cause.Likelihood, s.Verdict[v].Render(verdictWord(v))))
	if cause.Confirm != "" {
		b.WriteString(wrap(s.Label.Render("How to confirm: ")+cause.Confirm, w) + "\n")
	}
	for _, id := range cause.Probes {
		r := c.st.LastResult(id)
		if r == nil {
			b.WriteString(wrap(fmt.Sprintf("  probe %s: not run", id), w) + "\n")
			continue
		}
		b.WriteString(wrap(fmt.Sprintf("  probe %s: %s %s", id, s.Finding[r.Status].Render(strings.ToUpper(string(r.Status))), r.Summary), w) + "\n")
	}
	if p := c.rb.Path(cause.ID); p != nil {
		b.WriteString("\n" + wrap(fmt.Sprintf("Press enter to go to its resolution: %s (%d steps).", p.Title, len(p.Items)), w))
	}
	return strings.TrimRight(b.String(), "\n")
}

// cycle moves the focus to the next part; it returns false when the focus
// should leave the pane.
func (d *detail) cycle(back bool) bool {
	parts := []part{partText}
	if d.showEvidence {
		parts = append(parts, partEvidence)
	}
	if d.action != nil {
		parts = append(parts, partOutput)
	}
	i := 0
	for j, p := range parts {
		if p == d.focus {
			i = j
		}
	}
	if back {
		i--
	} else {
		i++
	}
	if i < 0 || i >= len(parts) {
		d.focus = partText
		d.refresh()
		return false
	}
	d.focus = parts[i]
	d.refresh()
	return true
}

// enter gives the pane the focus at its first (or, going back, last) part.
func (d *detail) enter(back bool) {
	d.focus = partText
	if back {
		if d.action != nil {
			d.focus = partOutput
		} else if d.showEvidence {
			d.focus = partEvidence
		}
	}
	d.refresh()
}

// Update scrolls the focused part.
func (d *detail) Update(msg tea.KeyPressMsg) tea.Cmd {
	k := d.c.keys
	if d.focus == partEvidence {
		return d.evidence.Update(msg)
	}
	vp := &d.text
	if d.focus == partOutput {
		vp = &d.output
	}
	switch {
	case key.Matches(msg, k.Up):
		vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		vp.PageUp()
	case key.Matches(msg, k.PageDown):
		vp.PageDown()
	case key.Matches(msg, k.Top):
		vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		vp.GotoBottom()
	}
	return nil
}

// shortHelp returns the detail pane's keys for the footer.
func (d *detail) shortHelp() []key.Binding {
	k := d.c.keys
	scroll := "scroll"
	if d.focus == partEvidence {
		scroll = "rows"
	}
	return []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", scroll)),
		k.PageDown, relabel(k.NextPane, "next part"), relabel(k.Back, "checklist"),
	}
}

// restyle redraws with the client's new styles.
func (d *detail) restyle() {
	d.evidence.restyle()
	d.textKey, d.outputRun = "", ""
	d.refresh()
}

// View draws the pane.
func (d *detail) View(focused bool) string {
	if d.width <= 0 || d.height <= 0 {
		return ""
	}
	title := "Detail"
	switch {
	case d.item != nil:
		title = d.item.Title
	case d.cause != nil:
		title = "Cause: " + d.cause.Title
	}
	// What follows the title must fit: the title gives way.
	var tail []string
	if p := d.progress(); p != "" {
		tail = append(tail, p)
	}
	if h := scrollHint(&d.text); h != "" {
		tail = append(tail, h)
	}
	if len(tail) > 0 {
		after := " · " + strings.Join(tail, " · ")
		title = truncate(title, max(d.width-4-visibleWidth(after), 8)) + after
	}
	parts := []string{paneTitle(d.c.styles, title, focused && d.focus == partText, d.width)}
	textH, lowerH := d.split()
	if textH > 0 {
		parts = append(parts, box(d.text.View(), d.width, textH))
	}
	if lowerH > 0 {
		switch {
		case d.showEvidence:
			parts = append(parts, box(d.evidence.View(focused && d.focus == partEvidence), d.width, lowerH))
		case d.action != nil:
			parts = append(parts, box(d.outputView(focused && d.focus == partOutput, lowerH), d.width, lowerH))
		}
	}
	return strings.Join(parts, "\n")
}

// progress is the running action's progress as it reports it ("1/2
// migrations"), or "" when it reports none: a count the action never gave
// would be a guess.
func (d *detail) progress() string {
	a := d.action
	if a == nil || !a.Running() || a.Progress == nil || a.Progress.Total <= 0 {
		return ""
	}
	p := fmt.Sprintf("%d/%d", a.Progress.Done, a.Progress.Total)
	if a.Progress.Label != "" {
		p += " " + a.Progress.Label
	}
	return p
}

// scrollHint says where more of a scrolled text is, in arrows rather than
// a percentage, which next to an action's title would read as its
// progress. It is "" when the text fits.
func scrollHint(vp *viewport.Model) string {
	if vp.Height() <= 0 || vp.TotalLineCount() <= vp.Height() {
		return ""
	}
	switch {
	case vp.AtTop():
		return "more ↓"
	case vp.AtBottom():
		return "↑ more"
	}
	return "↑ more ↓"
}

func (d *detail) outputView(focused bool, h int) string {
	a := d.action
	title := fmt.Sprintf("Output of %s · %s", a.Action, plural.Count(len(a.Output), "line", "lines"))
	if a.Running() {
		title += " · running"
	}
	lines := []string{paneTitle(d.c.styles, title, focused, d.width)}
	if pl := progressLine(d.c.styles, a, d.width); pl != "" {
		lines = append(lines, pl)
	}
	if len(a.Output) == 0 {
		lines = append(lines, d.c.styles.Dim.Render("  (no output yet)"))
	} else {
		lines = append(lines, d.output.View())
	}
	return strings.Join(lines, "\n")
}
