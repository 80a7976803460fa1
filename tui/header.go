package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"steady/internal/session"
)

// headerView draws the header in lines (1 or 2) of width w: what the
// incident is, who is at the keyboard, against what, and the clocks that
// matter at 3 a.m.: time spent against the runbook's estimate, and time
// left before the next escalation.
func headerView(c *common, w, lines int) string {
	if lines <= 0 || w <= 0 {
		return ""
	}
	s := c.styles
	st := c.st
	sep := s.Separator.Render(" · ")
	now := c.now()
	elapsed := st.Elapsed(now)
	clock, clockStyle := escalationClock(c, elapsed)
	if st.Ended != nil {
		// No escalation is due on a closed incident: say it is closed.
		clock, clockStyle = "CLOSED "+closedBy(c), s.BannerInfo
	}

	var drill string
	if c.drill != "" {
		drill = s.Drill.Render(" DRILL: "+c.drill+" ") + " "
	}
	title := c.rb.Title()
	sev := strings.ToUpper(st.Incident.Severity)
	if sev == "" {
		sev = strings.ToUpper(c.rb.Meta.Severity)
	}
	if lines == 1 {
		// One line on a tiny terminal: the clocks first, the title the
		// operator already knows last.
		line := drill
		if sev != "" {
			line += s.Severity.Render(sev) + " "
		}
		line += fmtClock(elapsed) + sep + clockStyle.Render(shortClock(clock)) + sep + s.Title.Render(title)
		return truncate(line, w)
	}

	parts := []string{drill + s.Title.Render(title)}
	if sev != "" {
		parts = append(parts, s.Severity.Render(sev))
	}
	if st.Incident.ID != "" {
		parts = append(parts, st.Incident.ID)
	}
	who := c.actor.Name
	if c.actor.Role != session.Operator {
		who += " (" + string(c.actor.Role) + ")"
	}
	parts = append(parts, who)
	if st.Incident.Target != "" {
		parts = append(parts, st.Incident.Target)
	}
	first := truncate(strings.Join(parts, sep), w)

	second := "elapsed " + fmtClock(elapsed)
	if ttr := c.rb.Meta.EstimatedTTR; ttr > 0 {
		second += " / TTR " + fmtClock(ttr)
		if elapsed > ttr {
			second += " " + s.ClockNear.Render("(over)")
		}
	}
	second += sep + clockStyle.Render(clock)
	if n := len(st.Online); n > 1 {
		second += sep + fmt.Sprintf("%d online", n)
	}
	return first + "\n" + truncate(second, w)
}

// escalationClock describes the next time-based escalation and picks its
// style: calm, near (the last quarter, or under 30 minutes), crossed.
func escalationClock(c *common, elapsed time.Duration) (string, lipgloss.Style) {
	s := c.styles
	var lastRaised string
	for i, r := range c.rb.Meta.Escalation.Rules {
		if r.Immediate || r.After <= 0 {
			continue
		}
		left := r.After - elapsed
		if c.st.Raised(i) || left <= 0 {
			lastRaised = "ESCALATE: " + r.To + " (over " + fmtClock(r.After) + ")"
			continue
		}
		text := "escalate to " + r.To + " in " + fmtClock(left)
		if left <= 30*time.Minute || left <= r.After/4 {
			return "SOON: " + text, s.ClockNear
		}
		if lastRaised != "" {
			return lastRaised + " · " + text, s.ClockCrossed
		}
		return text, s.ClockCalm
	}
	if lastRaised != "" {
		return lastRaised, s.ClockCrossed
	}
	return "no escalation clock", s.Dim
}

// shortClock shortens the escalation clock for a one-line header.
func shortClock(clock string) string {
	switch {
	case strings.HasPrefix(clock, "CLOSED"):
		return "CLOSED"
	case strings.HasPrefix(clock, "ESCALATE"):
		return "ESCALATE NOW"
	case strings.Contains(clock, " in "):
		prefix := ""
		if strings.HasPrefix(clock, "SOON") {
			prefix = "SOON "
		}
		return prefix + "escalate in " + clock[strings.LastIndex(clock, " in ")+4:]
	}
	return clock
}

// fmtClock formats a duration as H:MM:SS.
func fmtClock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	sec := int(d % time.Minute / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
}
