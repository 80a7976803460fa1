package tui

import (
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"steady/internal/visible"
)

// footer shows the last message, or the keys of what has the focus.
func (m *Model) footer() string {
	s := m.c.styles
	if m.flash.text != "" {
		// A flash may quote a server's error: shown, never obeyed.
		text := visible.Text(m.flash.text)
		if m.flash.err {
			return s.FlashError.Render(truncate("✗ "+text, m.lay.Width))
		}
		return s.Flash.Render(truncate(text, m.lay.Width))
	}
	return m.help.ShortHelpView(m.shortKeys())
}

// shortKeys are the footer's keys: those of what has the focus, then the
// few that work everywhere.
func (m *Model) shortKeys() []key.Binding {
	k := m.c.keys
	switch {
	case m.dialog != nil:
		return m.dialog.shortHelp()
	case m.resume != nil:
		return []key.Binding{relabel(k.Enter, "continue")}
	case m.page == pageHelp:
		return []key.Binding{key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc/?/q", "close help"))}
	case m.page == pageCauses:
		return append(m.causes.shortHelp(), k.Help, k.Quit)
	case m.page == pageRelated:
		return m.related.shortHelp()
	case m.focus == paneDetail:
		return append(m.detail.shortHelp(), k.Help, k.Quit)
	case m.list.filtering:
		return m.list.shortHelp()
	}
	// Help and quit come before the rest: the footer is cut on the
	// right when the terminal is narrow.
	if m.c.st.Ended != nil {
		return append(m.list.shortHelp(), k.Help, k.Quit, k.Note, relabel(k.Causes, "causes"), relabel(k.NextPane, "pane"), k.Filter)
	}
	return append(m.list.shortHelp(), k.Help, k.Quit, relabel(k.RunAll, "run diagnosis"), relabel(k.Causes, "causes"),
		relabel(k.NextPane, "pane"), k.Note, k.Filter)
}

// helpView is the help page: every key, and what the status tags mean.
func (m *Model) helpView(w int) string {
	s := m.c.styles
	h := m.help
	h.ShowAll = true
	var b strings.Builder
	b.WriteString(paneTitle(s, "Help · esc or ? closes", true, w) + "\n")
	b.WriteString(flowColumns(h, m.c.keys.fullHelp(), w) + "\n\n")
	b.WriteString(s.Label.Render("Status tags") + "\n")
	legend := []string{
		"[ ] to do", "[run|] running", "[ok] passed", "[WARN] warning", "[FAIL] failed",
		"[ERR] could not run", "[skip] skipped", "[done] action done", "[x] ticked", "[plan] planned, not confirmed", "[appr] awaiting a second operator's approval", "[??] outcome unknown",
	}
	b.WriteString(wrap(strings.Join(legend, " · "), w) + "\n\n")
	b.WriteString(wrap("Work down the sections: tick the symptoms you see, run the diagnosis (R runs every probe at once), "+
		"open the cause board (c) and press enter on a confirmed cause to jump to its resolution. "+
		"Actions show their plan first (enter) and run only after you confirm it (enter again). "+
		"When it is over, close the incident (X) with a one-line summary. "+
		"Everything you do is journaled.", w) + "\n")
	b.WriteString(s.Dim.Render(truncate("Journal: "+filepath.Base(m.c.s.JournalPath()), w)))
	return b.String()
}

// flowColumns lays the help's key groups side by side, starting a new row
// of groups when the next would not fit, so no key is cut off.
func flowColumns(h help.Model, groups [][]key.Binding, w int) string {
	var rows []string
	var row []string
	width := 0
	for _, g := range groups {
		col := h.FullHelpView([][]key.Binding{g})
		cw := lipgloss.Width(col) + 4
		if len(row) > 0 && width+cw > w {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, width = nil, 0
		}
		row = append(row, lipgloss.NewStyle().PaddingRight(4).Render(col))
		width += cw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	return strings.Join(rows, "\n\n")
}
