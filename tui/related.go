package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"steady/runbook"
)

// related is the page of related runbooks named in the escalation
// section: a list to pick from, and a read-only view of the one opened.
// Opening one never touches the incident: it is reading, not working.
type related struct {
	c             *common
	names         []string
	cursor        int
	open          *runbook.Runbook
	openErr       string
	view          viewport.Model
	width, height int
}

// relatedClosedMsg asks the root to leave the page.
type relatedClosedMsg struct{}

func newRelated(c *common) *related {
	return &related{c: c, names: c.s.RelatedRunbooks(), view: viewport.New()}
}

func (r *related) setSize(w, h int) {
	r.width, r.height = w, h
	r.view.SetWidth(w)
	r.view.SetHeight(max(h-1, 0))
	if r.open != nil {
		r.view.SetContent(r.c.md.render(r.open.Markdown(), max(w-1, 10)))
	}
}

// Update handles the page's keys.
func (r *related) Update(msg tea.KeyPressMsg) tea.Cmd {
	k := r.c.keys
	if r.open != nil {
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Quit):
			r.open = nil
		case key.Matches(msg, k.Up):
			r.view.ScrollUp(1)
		case key.Matches(msg, k.Down):
			r.view.ScrollDown(1)
		case key.Matches(msg, k.PageUp):
			r.view.PageUp()
		case key.Matches(msg, k.PageDown), key.Matches(msg, k.Tick):
			r.view.PageDown()
		case key.Matches(msg, k.Top):
			r.view.GotoTop()
		case key.Matches(msg, k.Bottom):
			r.view.GotoBottom()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, k.Related):
		return func() tea.Msg { return relatedClosedMsg{} }
	case key.Matches(msg, k.Up):
		r.cursor = max(r.cursor-1, 0)
	case key.Matches(msg, k.Down):
		r.cursor = min(r.cursor+1, max(len(r.names)-1, 0))
	case key.Matches(msg, k.Enter):
		if r.cursor < len(r.names) {
			r.load(r.names[r.cursor])
		}
	}
	return nil
}

// shortHelp returns the page's keys for the footer.
func (r *related) shortHelp() []key.Binding {
	k := r.c.keys
	if r.open != nil {
		return []key.Binding{relabel(k.Up, "scroll"), k.PageDown, relabel(k.Back, "back to the list")}
	}
	return []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "move")),
		relabel(k.Enter, "read"), relabel(k.Back, "back to the incident"),
	}
}

// load opens a runbook for reading.
func (r *related) load(name string) {
	r.openErr = ""
	rb, err := r.c.s.ReadRunbook(name)
	if err != nil {
		r.openErr = err.Error()
		return
	}
	r.open = rb
	r.view.SetContent(r.c.md.render(rb.Markdown(), max(r.width-1, 10)))
	r.view.GotoTop()
}

// View draws the list or the open runbook.
func (r *related) View() string {
	if r.width <= 0 || r.height <= 0 {
		return ""
	}
	s := r.c.styles
	if r.open != nil {
		title := fmt.Sprintf("%s (read-only) · esc: back", r.open.Title())
		return paneTitle(s, title, true, r.width) + "\n" + r.view.View()
	}
	lines := []string{paneTitle(s, "Related runbooks", true, r.width)}
	if len(r.names) == 0 {
		lines = append(lines, s.Dim.Render(wrap("This runbook names no related runbooks.", r.width)))
	}
	for i, n := range r.names {
		marker := "  "
		if i == r.cursor {
			marker = "> "
		}
		line := truncate(marker+n, r.width)
		if i == r.cursor {
			line = s.ItemSelected.Render(line)
		}
		lines = append(lines, line)
	}
	if r.openErr != "" {
		lines = append(lines, "", s.Bad.Render(wrap("Cannot open it: "+r.openErr, r.width)))
		lines = append(lines, s.Dim.Render(wrap("Related runbooks are looked up among the built-in ones and in the --runbooks directory.", r.width)))
	}
	lines = append(lines, "", s.Dim.Render(wrap("enter: read it · esc: back to the incident", r.width)))
	return strings.Join(lines, "\n")
}
