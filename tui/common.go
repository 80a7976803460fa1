package tui

import (
	"context"
	"time"

	"github.com/charmbracelet/colorprofile"

	"steady/internal/session"
	"steady/runbook"
)

// common is what every component of one client shares: the session and
// who is at the keyboard, that client's styles, keys and Markdown cache,
// and the latest snapshot of the incident. One value exists per client
// (a local terminal or one SSH session); nothing in it is package-level.
type common struct {
	ctx   context.Context
	s     *session.Session
	rb    *runbook.Runbook
	actor session.Actor
	now   func() time.Time
	drill string

	profile colorprofile.Profile
	dark    bool
	styles  *Styles
	keys    *KeyMap
	md      *markdown

	// st is the latest snapshot of the incident; components read it while
	// rendering and never change it.
	st *session.State
	// failure says which events the journal refused, if any.
	failure *session.JournalFailure
}

func newCommon(ctx context.Context, o Options) *common {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	c := &common{
		ctx: ctx, s: o.Session, rb: o.Session.Runbook(), actor: o.Actor, now: now,
		drill: o.Drill,
		// Until the terminal says otherwise: colour on a dark background,
		// the commonest case over SSH.
		profile: colorprofile.ANSI, dark: true,
		keys: DefaultKeyMap(o.Actor.Role),
		st:   o.Session.State(),
	}
	c.failure = o.Session.JournalFailure()
	c.restyle()
	return c
}

// restyle rebuilds the styles after the terminal reported its colour
// profile or background.
func (c *common) restyle() {
	c.styles = DefaultStyles(c.profile, c.dark)
	c.md = newMarkdown(c.styles.Markdown, c.styles.Code)
}

// itemState returns the state of an item.
func (c *common) itemState(id string) session.ItemState {
	return c.st.Items[id]
}

// lastAction returns the latest action run of an item, or nil.
func (c *common) lastAction(item string) *session.ActionRun {
	for i := len(c.st.Actions) - 1; i >= 0; i-- {
		if a := c.st.Actions[i]; a.Item == item {
			return a
		}
	}
	return nil
}

// lastProbe returns the latest probe run of an item, or nil.
func (c *common) lastProbe(item string) *session.ProbeRun {
	if id := c.itemState(item).LastRun; id != "" {
		if p := c.st.Probe(id); p != nil {
			return p
		}
	}
	for i := len(c.st.Probes) - 1; i >= 0; i-- {
		if p := c.st.Probes[i]; p.Item == item {
			return p
		}
	}
	return nil
}

// clock formats an event time on this client's clock.
func (c *common) clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(c.now().Location()).Format("15:04:05")
}

// operator reports whether the actor may run probes and actions.
func (c *common) operator() bool { return c.actor.Role.May(session.Confirm) }

// approver reports whether the actor may approve another's plan.
func (c *common) approver() bool { return c.actor.Role.May(session.Approve) }

// syncRole applies an access change journaled for this client's key: its
// role (and keys) change at once, or, revoked, it keeps nothing but the
// view. It returns why, when the role changed now.
func (c *common) syncRole() string {
	if c.actor.Fingerprint == "" {
		return ""
	}
	acc, ok := c.st.Access[c.actor.Fingerprint]
	if !ok {
		return ""
	}
	role := acc.Role
	if acc.Revoked {
		role = session.Observer
	}
	if role == c.actor.Role {
		return ""
	}
	c.actor.Role = role
	c.keys = DefaultKeyMap(role)
	if acc.Revoked {
		return "Your key was removed from the authorized keys (" + acc.Why + "): you can no longer change anything."
	}
	return "Your role is now " + string(role) + " (" + acc.Why + ")."
}
