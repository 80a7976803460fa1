package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"steady/probes"
	"steady/runbook"
)

// causeBoard is the root-cause page: every cause of the runbook with its
// likelihood and the verdict its probes give, so the operator sees which
// resolution path to take. Choosing a cause jumps to its path.
type causeBoard struct {
	c             *common
	cursor        int
	width, height int
}

// jumpToCauseMsg asks the root to show a cause's resolution path.
type jumpToCauseMsg struct{ cause string }

func newCauseBoard(c *common) *causeBoard { return &causeBoard{c: c} }

func (b *causeBoard) setSize(w, h int) { b.width, b.height = w, h }

// selected returns the cause under the cursor, or nil.
func (b *causeBoard) selected() *runbook.Cause {
	if b.cursor < 0 || b.cursor >= len(b.c.rb.Causes) {
		return nil
	}
	return b.c.rb.Causes[b.cursor]
}

// Update handles the board's keys.
func (b *causeBoard) Update(msg tea.KeyPressMsg) tea.Cmd {
	k := b.c.keys
	n := len(b.c.rb.Causes)
	switch {
	case key.Matches(msg, k.Up):
		b.cursor = max(b.cursor-1, 0)
	case key.Matches(msg, k.Down):
		b.cursor = min(b.cursor+1, max(n-1, 0))
	case key.Matches(msg, k.Top):
		b.cursor = 0
	case key.Matches(msg, k.Bottom):
		b.cursor = max(n-1, 0)
	case key.Matches(msg, k.Enter):
		if c := b.selected(); c != nil {
			id := c.ID
			return func() tea.Msg { return jumpToCauseMsg{cause: id} }
		}
	}
	return nil
}

// shortHelp returns the board's keys for the footer.
func (b *causeBoard) shortHelp() []key.Binding {
	k := b.c.keys
	return []key.Binding{
		key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "move")),
		relabel(k.Enter, "go to resolution"), relabel(k.Back, "back"),
	}
}

// View draws the board: one line per cause, then the selected cause's
// evidence.
func (b *causeBoard) View() string {
	if b.width <= 0 || b.height <= 0 {
		return ""
	}
	s := b.c.styles
	w := b.width
	var out []string
	head := "Root causes"
	if n := causeCounts(b.c); n != "" {
		head += " · " + n
	}
	out = append(out, paneTitle(s, head, true, w))
	likW := 10
	verW := 9
	titleW := max(w-2-likW-verW-2, 4)
	out = append(out, s.Dim.Render(truncate("  "+fmt.Sprintf("%-*s %-*s %s", titleW, "Cause", likW, "Likelihood", "Verdict"), w)))
	for i, c := range b.c.rb.Causes {
		v := b.c.st.Verdicts[c.ID]
		marker := "  "
		if i == b.cursor {
			marker = "> "
		}
		title := truncate(c.Title, titleW)
		cell := title + pad(titleW-visibleWidth(title))
		if i == b.cursor {
			cell = s.ItemSelected.Render(cell)
		}
		line := marker + cell + " " + fmt.Sprintf("%-*s", likW, truncate(c.Likelihood, likW)) + " " + s.Verdict[v].Render(verdictWord(v))
		out = append(out, truncate(line, w))
	}
	if c := b.selected(); c != nil {
		out = append(out, "")
		out = append(out, strings.Split(b.evidence(c, w), "\n")...)
	}
	return strings.Join(out, "\n")
}

// evidence says how a cause is confirmed and what its probes found.
func (b *causeBoard) evidence(c *runbook.Cause, w int) string {
	s := b.c.styles
	var lines []string
	if c.Confirm != "" {
		lines = append(lines, wrap(s.Label.Render("How to confirm: ")+c.Confirm, w))
	}
	for _, id := range c.Probes {
		r := b.c.st.LastResult(id)
		if r == nil {
			lines = append(lines, truncate(fmt.Sprintf("  probe %s: not run yet (R runs every diagnosis probe)", id), w))
			continue
		}
		lines = append(lines, wrap(fmt.Sprintf("  probe %s: %s %s", id, s.Finding[r.Status].Render(strings.ToUpper(string(r.Status))), r.Summary), w))
	}
	if p := b.c.rb.Path(c.ID); p != nil {
		lines = append(lines, wrap(fmt.Sprintf("enter: go to %q (%d steps) · esc: back", p.Title, len(p.Items)), w))
	} else {
		lines = append(lines, wrap("This cause has no resolution path in the runbook. esc: back", w))
	}
	return strings.Join(lines, "\n")
}

// causeCounts says how many causes are confirmed and how many resolved
// ("1 confirmed, 1 resolved"), or nothing when none is either.
func causeCounts(c *common) string {
	confirmed, resolved := 0, 0
	for _, cause := range c.rb.Causes {
		switch c.st.Verdicts[cause.ID] {
		case probes.Confirmed:
			confirmed++
		case probes.Resolved:
			resolved++
		}
	}
	var parts []string
	if confirmed > 0 {
		parts = append(parts, fmt.Sprintf("%d confirmed", confirmed))
	}
	if resolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved", resolved))
	}
	return strings.Join(parts, ", ")
}
