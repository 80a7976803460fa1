package tui

import (
	"testing"

	"charm.land/bubbles/v2/key"

	"steady/internal/session"
)

// Each role is offered exactly the keys of what it may do, key by key.
func TestEachRoleIsOfferedItsKeys(t *testing.T) {
	for _, role := range session.Roles {
		k := DefaultKeyMap(role)
		for _, c := range []struct {
			name   string
			b      key.Binding
			intent session.Intent
		}{
			{"r", k.Run, session.RunProbe},
			{"R", k.RunAll, session.RunProbe},
			{"p", k.Replan, session.Plan},
			{"x", k.Discard, session.Plan},
			{"s", k.Skip, session.SkipItem},
			{"e", k.Escalate, session.Escalate},
			{"a", k.Ack, session.Escalate},
			{"X", k.Close, session.CloseInc},
			{"space", k.Tick, session.Tick},
			{"n", k.Note, session.WriteNote},
		} {
			if c.b.Enabled() != role.May(c.intent) {
				t.Errorf("%s: key %s offered=%v, but may %q=%v", role, c.name, c.b.Enabled(), c.intent, role.May(c.intent))
			}
		}
	}
}
