package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"steady/internal/session"
)

// stateChangedMsg says events were appended to the incident since the
// last one; the root then reads a fresh snapshot. The snapshot, not the
// events, is the truth: a lagging client loses nothing by it.
type stateChangedMsg struct {
	events []session.Event
	lagged bool
}

// sessionEndedMsg says the session shut down.
type sessionEndedMsg struct{}

// waitForEvents waits for the next events of a subscription. Like glow's
// file finder it is re-issued after each message, so exactly one waits at
// a time and the journal never waits for the screen.
func waitForEvents(sub *session.Subscription) tea.Cmd {
	return func() tea.Msg {
		_, open := <-sub.C
		events, lagged, ok := sub.Next()
		if !ok || (!open && len(events) == 0) {
			return sessionEndedMsg{}
		}
		return stateChangedMsg{events: events, lagged: lagged}
	}
}

// clockMsg is the once-a-second tick of the header clocks and of the
// escalation check.
type clockMsg struct{}

func tickClock() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return clockMsg{} })
}

// escalationsCheckedMsg reports a failed escalation check (a journal
// that cannot be written), so the operator hears about it.
type escalationsCheckedMsg struct{ err error }

func checkEscalationsCmd(c *common) tea.Cmd {
	now := c.now()
	return func() tea.Msg {
		if err := c.s.CheckEscalations(now); err != nil {
			return escalationsCheckedMsg{err: err}
		}
		return nil
	}
}
