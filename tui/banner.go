package tui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"steady/internal/visible"
)

// bannerLines returns the banners the incident calls for, wrapped to w,
// most urgent first: a journal that refuses events (the record is
// incomplete from then on), escalations nobody acknowledged (with the
// contact from the runbook), probes to re-run after an unknown outcome,
// and a closed incident (who closed it, and the summary).
func bannerLines(c *common, w int) []string {
	if w <= 0 {
		return nil
	}
	s := c.styles
	var out []string
	add := func(st lipgloss.Style, mark, text string) {
		for _, l := range strings.Split(wrap(text, max(w-3, 1)), "\n") {
			out = append(out, st.Render(truncate(mark+l, w)))
			mark = "   "
		}
	}
	if f := c.failure; f != nil {
		add(s.BannerAlert, " ! ", fmt.Sprintf("JOURNAL NOT WRITTEN: %d event(s) since %s are not on record (%v). Free space where the journal is; until then what happens here is not recorded.",
			f.Lost, c.clock(f.Since), visible.Text(f.Err.Err.Error())))
	}
	for _, e := range c.st.Unacknowledged() {
		text := "ESCALATE NOW to " + e.To
		if e.When != "" {
			text += " (" + e.When + ")"
		}
		if oc := c.rb.Meta.Escalation.OnCall; oc != "" {
			text += " · contact: " + oc
		}
		how := "declared by " + e.RaisedBy.Name
		if e.Auto {
			how = "threshold crossed"
		}
		text += fmt.Sprintf(" · a: acknowledge · %s at %s", how, c.clock(e.RaisedAt))
		add(s.BannerAlert, " ! ", text)
	}
	if len(c.st.Recheck) > 0 {
		add(s.BannerWarn, " ~ ", "RE-CHECK NEEDED: an earlier action's outcome is unknown. Re-run "+
			strings.Join(c.st.Recheck, ", ")+" before any action.")
	}
	if c.st.Ended != nil {
		text := "CLOSED " + closedBy(c)
		if c.st.Closed != nil && c.st.Closed.Summary != "" {
			text += ": " + c.st.Closed.Summary
		}
		add(s.BannerInfo, " i ", text+" · nothing more runs or changes; n adds a note, q quits.")
	}
	return out
}

// resumeView is the report shown first when an incident was resumed.
func (m *Model) resumeView(w int) string {
	s := m.c.styles
	var b strings.Builder
	b.WriteString(paneTitle(s, "Resumed incident", true, w) + "\n")
	for _, l := range m.resume {
		b.WriteString("• " + indentRest(wrap(l, max(w-2, 1)), 2) + "\n")
	}
	b.WriteString("\n" + s.Label.Render("Press enter to continue."))
	return b.String()
}
