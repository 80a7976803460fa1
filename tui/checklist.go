package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// rowKind is what a line of the checklist shows.
type rowKind int

const (
	rowSection rowKind = iota
	rowPath
	rowCause
	rowItem
)

// row is one line of the checklist: a section or resolution-path heading,
// a root cause, or an item.
type row struct {
	kind    rowKind
	section *runbook.Section
	path    *runbook.Path
	cause   *runbook.Cause
	item    *runbook.Item
}

func (r row) selectable() bool { return r.kind == rowItem || r.kind == rowCause }

// buildRows lays the runbook out as checklist rows, in runbook order:
// root causes appear under their section, resolution items under the path
// of their cause.
func buildRows(rb *runbook.Runbook) []row {
	var rows []row
	for _, s := range rb.Sections {
		rows = append(rows, row{kind: rowSection, section: s})
		if s.Kind == runbook.RootCauses {
			for _, c := range rb.Causes {
				rows = append(rows, row{kind: rowCause, section: s, cause: c})
			}
		}
		inPath := map[*runbook.Item]bool{}
		for _, p := range s.Paths {
			rows = append(rows, row{kind: rowPath, section: s, path: p})
			for _, it := range p.Items {
				inPath[it] = true
				rows = append(rows, row{kind: rowItem, section: s, path: p, item: it})
			}
		}
		for _, it := range s.Items {
			if !inPath[it] {
				rows = append(rows, row{kind: rowItem, section: s, item: it})
			}
		}
	}
	return rows
}

// checklist is the left pane: the runbook's sections with their items,
// their state and progress, a cursor and a filter.
type checklist struct {
	c       *common
	rows    []row
	visible []int // indexes into rows that pass the filter
	cursor  int   // index into visible; -1 when nothing is selectable
	offset  int   // first visible line shown

	width, height int
	filter        textinput.Model
	filtering     bool
	// frame is the spinner frame drawn on running items.
	frame string

	// The pane is redrawn only when something it shows changed: most
	// frames (the clock, another pane's scrolling) leave it as it was.
	cacheKey listKey
	cache    string
}

// listKey is everything the checklist's drawing depends on.
type listKey struct {
	seq            int64
	cursor, offset int
	width, height  int
	focused        bool
	filtering      bool
	frame, query   string
	styles         *Styles
}

func newChecklist(c *common) *checklist {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "filter items"
	l := &checklist{c: c, rows: buildRows(c.rb), filter: ti, frame: "|"}
	l.refilter()
	return l
}

func (l *checklist) setSize(w, h int) {
	l.width, l.height = w, h
	l.filter.SetWidth(max(w-4, 1))
	l.scroll()
}

// listHeight is how many rows fit below the title and filter lines.
func (l *checklist) listHeight() int {
	h := l.height - 1
	if l.filtering || l.filter.Value() != "" {
		h--
	}
	return max(h, 0)
}

func (l *checklist) refilter() {
	var keep *row
	if r := l.selectedRow(); r != nil {
		keep = r
	}
	l.visible = filterRows(l.rows, l.filter.Value(), l.c.st.Items)
	l.cursor = -1
	for i, ri := range l.visible {
		r := l.rows[ri]
		if keep != nil && r.item == keep.item && r.cause == keep.cause && r.selectable() {
			l.cursor = i
			break
		}
	}
	if l.cursor < 0 {
		l.cursor = l.nextSelectable(-1, 1)
	}
	l.scroll()
}

// nextSelectable returns the next selectable visible index from i in
// direction dir, or i when there is none (or -1 when i is -1).
func (l *checklist) nextSelectable(i, dir int) int {
	for j := i + dir; j >= 0 && j < len(l.visible); j += dir {
		if l.rows[l.visible[j]].selectable() {
			return j
		}
	}
	return i
}

func (l *checklist) selectedRow() *row {
	if l.cursor < 0 || l.cursor >= len(l.visible) {
		return nil
	}
	r := l.rows[l.visible[l.cursor]]
	return &r
}

// selectedItem returns the item under the cursor, or nil (a cause or
// nothing is selected).
func (l *checklist) selectedItem() *runbook.Item {
	if r := l.selectedRow(); r != nil {
		return r.item
	}
	return nil
}

// selectedCause returns the cause under the cursor, or nil.
func (l *checklist) selectedCause() *runbook.Cause {
	if r := l.selectedRow(); r != nil {
		return r.cause
	}
	return nil
}

// move moves the cursor n selectable rows (negative: up).
func (l *checklist) move(n int) {
	dir := 1
	if n < 0 {
		dir, n = -1, -n
	}
	for ; n > 0; n-- {
		next := l.nextSelectable(l.cursor, dir)
		if next == l.cursor {
			break
		}
		l.cursor = next
	}
	l.scroll()
}

// selectItem moves the cursor to an item, clearing a filter that hides it.
func (l *checklist) selectItem(id string) bool {
	for pass := 0; pass < 2; pass++ {
		for i, ri := range l.visible {
			if it := l.rows[ri].item; it != nil && it.ID == id {
				l.cursor = i
				l.scroll()
				return true
			}
		}
		l.filter.SetValue("")
		l.filtering = false
		l.refilter()
	}
	return false
}

// jumpToPath selects the first item of a cause's resolution path and
// scrolls its heading to the top.
func (l *checklist) jumpToPath(cause string) bool {
	p := l.c.rb.Path(cause)
	if p == nil || len(p.Items) == 0 {
		return false
	}
	if !l.selectItem(p.Items[0].ID) {
		return false
	}
	for i := l.cursor; i >= 0; i-- {
		if r := l.rows[l.visible[i]]; r.kind == rowPath {
			l.offset = i
			break
		}
	}
	l.scroll()
	return true
}

// scroll keeps the cursor inside the shown window, with its headings when
// they fit.
func (l *checklist) scroll() {
	h := l.listHeight()
	if h <= 0 || l.cursor < 0 {
		l.offset = 0
		return
	}
	top := l.cursor
	// Show the headings right above the cursor when moving up to them.
	for top > 0 && !l.rows[l.visible[top-1]].selectable() && l.cursor-top+1 < h {
		top--
	}
	if top < l.offset {
		l.offset = top
	}
	if l.cursor >= l.offset+h {
		l.offset = l.cursor - h + 1
	}
	l.offset = clamp(l.offset, 0, max(len(l.visible)-h, 0))
}

// Update handles the keys of the checklist when it has the focus.
func (l *checklist) Update(msg tea.KeyPressMsg) tea.Cmd {
	k := l.c.keys
	if l.filtering {
		return l.updateFilter(msg)
	}
	switch {
	case key.Matches(msg, k.Up):
		l.move(-1)
	case key.Matches(msg, k.Down):
		l.move(1)
	case key.Matches(msg, k.PageUp):
		l.move(-max(l.listHeight()-1, 1))
	case key.Matches(msg, k.PageDown):
		l.move(max(l.listHeight()-1, 1))
	case key.Matches(msg, k.Top):
		l.cursor = l.nextSelectable(-1, 1)
		l.scroll()
	case key.Matches(msg, k.Bottom):
		l.cursor = l.nextSelectable(len(l.visible), -1)
		if l.cursor == len(l.visible) {
			l.cursor = -1
		}
		l.scroll()
	case key.Matches(msg, k.Filter):
		l.filtering = true
		l.scroll()
		return l.filter.Focus()
	case key.Matches(msg, k.Back):
		if l.filter.Value() != "" {
			l.filter.SetValue("")
			l.refilter()
		}
	}
	return nil
}

func (l *checklist) updateFilter(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		l.filtering = false
		l.filter.Blur()
		l.filter.SetValue("")
		l.refilter()
		return nil
	case "enter", "tab", "down", "up":
		l.filtering = false
		l.filter.Blur()
		l.scroll()
		return nil
	}
	var cmd tea.Cmd
	l.filter, cmd = l.filter.Update(msg)
	l.refilter()
	return cmd
}

// shortHelp returns the checklist's keys for the footer: moving, and
// what the selection takes.
func (l *checklist) shortHelp() []key.Binding {
	k := l.c.keys
	if l.filtering {
		return []key.Binding{relabel(k.Enter, "keep filter"), relabel(k.Back, "clear filter")}
	}
	out := []key.Binding{key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "move"))}
	it := l.selectedItem()
	switch {
	case l.c.st.Ended != nil:
		// A closed incident takes no more runs, plans or ticks.
	case l.selectedCause() != nil:
		out = append(out, relabel(k.Enter, "go to resolution"))
	case it == nil:
	case it.Binding != nil && it.Binding.Probe != "":
		out = append(out, k.Run)
		if it.Task {
			out = append(out, k.Tick)
		}
	case it.Binding != nil && it.Binding.Action != "":
		out = append(out, l.actionKey(it))
		if a := l.c.lastAction(it.ID); a != nil && a.Open() && l.c.operator() {
			out = append(out, k.Replan, k.Discard)
			if alt := otherMode(a.Plan); alt != nil {
				out = append(out, relabel(k.Alternative, "plan "+alt.Param+" instead"))
			}
		}
	default:
		out = append(out, k.Tick)
	}
	return out
}

// actionKey describes what enter (or ctrl+c) does on an action item now.
func (l *checklist) actionKey(it *runbook.Item) key.Binding {
	k := l.c.keys
	a := l.c.lastAction(it.ID)
	switch {
	case a != nil && a.AwaitingApproval() && l.c.approver() && !sameKey(l.c.actor, *a.ConfirmedBy):
		return relabel(k.Enter, "approve/reject")
	case a != nil && a.AwaitingApproval():
		return relabel(k.Enter, "awaiting approval")
	case a == nil || (!a.Running() && !a.Open()) || len(hardBlocks(a.Plan)) > 0:
		return relabel(k.Enter, "plan")
	case a.Running():
		return relabel(k.Interrupt, "cancel")
	}
	return relabel(k.Enter, "confirm")
}

// counts returns how many items of a list are finished, and how many
// there are.
func (l *checklist) counts(items []*runbook.Item) (done, total int) {
	for _, it := range items {
		total++
		if finished(it, l.c.itemState(it.ID)) {
			done++
		}
	}
	return done, total
}

// finished reports whether an item needs no more work. A probe that
// failed answered its question; an action that failed fixed nothing, and
// one whose outcome is unknown, or a probe that errored, must be looked at
// again.
func finished(it *runbook.Item, st session.ItemState) bool {
	if st.Checked {
		return true
	}
	switch st.Status {
	case session.Todo, session.Running, session.Unknown, session.Errored, "":
		return false
	case session.Failed:
		return it.Binding == nil || it.Binding.Action == ""
	}
	return true
}

// View draws the pane: a title line, the filter when in use, then rows.
func (l *checklist) View(focused bool) string {
	if l.width <= 0 || l.height <= 0 {
		return ""
	}
	key := listKey{l.c.st.LastSeq, l.cursor, l.offset, l.width, l.height, focused, l.filtering, l.frame, l.filter.Value(), l.c.styles}
	if !l.filtering && key == l.cacheKey {
		return l.cache
	}
	out := l.render(focused)
	l.cacheKey, l.cache = key, out
	return out
}

func (l *checklist) render(focused bool) string {
	s := l.c.styles
	var b strings.Builder
	done, total := l.counts(l.c.rb.Items())
	title := fmt.Sprintf("Checklist %d/%d", done, total)
	b.WriteString(paneTitle(s, title, focused, l.width))
	if l.filtering {
		b.WriteString("\n" + truncate(l.filter.View(), l.width))
	} else if q := l.filter.Value(); q != "" {
		b.WriteString("\n" + s.Dim.Render(truncate("filter: "+q+" (esc clears)", l.width)))
	}
	h := l.listHeight()
	if len(l.visible) == 0 && h > 0 {
		b.WriteString("\n" + s.Dim.Render(truncate("  nothing matches the filter", l.width)))
	}
	for i := l.offset; i < len(l.visible) && i < l.offset+h; i++ {
		b.WriteString("\n")
		b.WriteString(l.renderRow(l.rows[l.visible[i]], i == l.cursor && focused, i == l.cursor))
	}
	return b.String()
}

func (l *checklist) renderRow(r row, focused, selected bool) string {
	s := l.c.styles
	w := l.width
	marker := "  "
	if selected {
		marker = "> "
	}
	switch r.kind {
	case rowSection:
		return l.sectionLine(r.section, w)
	case rowPath:
		done, total := l.counts(r.path.Items)
		v := l.c.st.Verdicts[r.path.Cause]
		right := fmt.Sprintf("%d/%d", done, total)
		if v == probes.Confirmed || v == probes.Resolved {
			right = verdictWord(v) + " " + right
		}
		left := truncate(" "+r.path.Title, max(w-len(right)-1, 0))
		return s.Path.Render(left) + pad(w-visibleWidth(left)-len(right)) + s.Verdict[v].Render(right)
	case rowCause:
		v := l.c.st.Verdicts[r.cause.ID]
		right := verdictWord(v)
		text := truncate(marker+r.cause.Title, max(w-len(right)-1, 0))
		gap := pad(w - visibleWidth(text) - len(right))
		if focused {
			text = s.ItemSelected.Render(text)
		}
		return text + gap + s.Verdict[v].Render(right)
	}
	it := r.item
	st := l.c.itemState(it.ID)
	tag, status := itemTag(l.c, it, st, l.frame)
	indent := ""
	if r.path != nil {
		indent = " "
	}
	// Who ticked a verification, and when, where the title can spare it.
	var right string
	if it.Task && st.Checked && !st.At.IsZero() && st.By.Name != "" {
		right = " " + st.By.Name + " " + l.c.clock(st.At)[:5]
		if w-2-len(indent)-7-visibleWidth(right) < 16 {
			right = ""
		}
	}
	titleW := max(w-2-len(indent)-7-visibleWidth(right), 0)
	title := truncate(it.Title, titleW)
	body := title + pad(titleW-visibleWidth(title)) + s.Dim.Render(right)
	if focused {
		body = s.ItemSelected.Render(title) + pad(titleW-visibleWidth(title)) + s.Dim.Render(right)
	}
	return marker + indent + s.statusStyle(status).Render(fmt.Sprintf("%-6s", tag)) + " " + body
}

func (l *checklist) sectionLine(sec *runbook.Section, w int) string {
	s := l.c.styles
	var right string
	style := s.Section
	switch {
	case sec.Kind == runbook.RootCauses:
		right = causeCounts(l.c)
	case len(sec.Items) > 0:
		done, total := l.counts(sec.Items)
		right = fmt.Sprintf("%d/%d", done, total)
		if done == total {
			style = s.SectionDone
		}
	}
	left := truncate(sec.Title, max(w-len(right)-1, 0))
	return style.Render(left) + pad(w-visibleWidth(left)-len(right)) + style.Render(right)
}

// itemTag returns the status tag of an item ("[ok]", "[FAIL]", "[run|]"
// with the spinner frame while running) and the status to colour it by.
func itemTag(c *common, it *runbook.Item, st session.ItemState, frame string) (string, session.ItemStatus) {
	if st.Status == session.Running {
		return "[run" + frame + "]", session.Running
	}
	if st.Checked && (it.Task || it.Manual()) {
		return "[x]", session.Done
	}
	if st.Status == session.Todo || st.Status == "" {
		if it.Binding != nil && it.Binding.Action != "" {
			if a := c.lastAction(it.ID); a != nil && a.AwaitingApproval() {
				return "[appr]", session.Running
			}
			if a := c.lastAction(it.ID); a != nil && a.Outcome == nil && a.Started.IsZero() {
				return "[plan]", session.Running
			}
		}
		return "[ ]", session.Todo
	}
	return statusWord(st.Status), st.Status
}

// statusWord is an item status as a tag that reads without colour.
func statusWord(st session.ItemStatus) string {
	switch st {
	case session.ItemOK:
		return "[ok]"
	case session.Warned:
		return "[WARN]"
	case session.Failed:
		return "[FAIL]"
	case session.Errored:
		return "[ERR]"
	case session.ItemSkipped:
		return "[skip]"
	case session.Done:
		return "[done]"
	case session.Unknown:
		return "[??]"
	case session.Running:
		return "[run]"
	}
	return "[ ]"
}

// verdictWord is a cause verdict as words.
func verdictWord(v probes.Verdict) string {
	switch v {
	case probes.Confirmed:
		return "CONFIRMED"
	case probes.RuledOut:
		return "ruled out"
	case probes.Resolved:
		return "resolved"
	}
	return "unknown"
}

// paneTitle draws a pane's title line; the focused pane's title is
// bracketed so focus shows without colour.
func paneTitle(s *Styles, title string, focused bool, w int) string {
	if focused {
		return s.PaneTitleFocused.Render(truncate("["+title+"]", w))
	}
	return s.PaneTitle.Render(truncate(" "+title+" ", w))
}

func pad(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(" ", n)
}
