package session

import "fmt"

// Intent is something an actor asks the session to do.
type Intent string

// Intents, in the order the README's table lists them.
const (
	Watch     Intent = "watch the incident"
	Tick      Intent = "tick a manual or verification item"
	WriteNote Intent = "write a note"
	Approve   Intent = "approve or reject another operator's destructive plan"
	RunProbe  Intent = "run a probe"
	Plan      Intent = "plan, re-plan or discard an action"
	Confirm   Intent = "confirm and run an action, override a guard"
	Cancel    Intent = "cancel a running action"
	SkipItem  Intent = "skip an item with a reason"
	Escalate  Intent = "declare or acknowledge an escalation"
	CloseInc  Intent = "close the incident"
)

// Intents lists every intent, for documentation and tests.
var Intents = []Intent{Watch, Tick, WriteNote, Approve, RunProbe, Plan, Confirm, Cancel, SkipItem, Escalate, CloseInc}

// Roles lists every role, least privileged first.
var Roles = []Role{Observer, Approver, Operator}

// May reports whether a role may do an intent: observers watch, tick and
// write notes; approvers also approve or reject a destructive plan another
// operator confirmed; operators do everything.
func (r Role) May(i Intent) bool {
	switch i {
	case Watch, Tick, WriteNote:
		return r == Observer || r == Approver || r == Operator
	case Approve:
		return r == Approver || r == Operator
	}
	return r == Operator
}

// Access is an actor's standing after a change of the keys file: a role,
// or revoked.
type Access struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"`
	// Role is the new role; empty when Revoked.
	Role    Role   `json:"role,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
	Why     string `json:"why"`
}

// allow checks that actor may do intent now: by its role, as changed by
// any access change journaled since it connected (a removed key may do
// nothing, a demoted one what its new role allows).
func (s *Session) allow(a Actor, i Intent) error {
	role := a.Role
	if a.Fingerprint != "" {
		s.mu.Lock()
		acc, changed := s.state.Access[a.Fingerprint]
		s.mu.Unlock()
		if changed {
			if acc.Revoked {
				return fmt.Errorf("%s: %w: the key of %s was removed from the authorized keys (%s)", i, ErrForbidden, a.Name, acc.Why)
			}
			role = acc.Role
		}
	}
	if role == "" {
		role = Observer
	}
	if !role.May(i) {
		return fmt.Errorf("%s: %w for an %s", i, ErrForbidden, role)
	}
	return nil
}

// RoleOf returns an actor's role now, after any access change.
func (s *Session) RoleOf(a Actor) (Role, bool) {
	if a.Fingerprint != "" {
		s.mu.Lock()
		acc, changed := s.state.Access[a.Fingerprint]
		s.mu.Unlock()
		if changed {
			return acc.Role, !acc.Revoked
		}
	}
	return a.Role, true
}

// ChangeAccess journals that a key's standing changed (its line removed
// from the authorized keys, or its role changed): from now on the session
// refuses what the new standing does not allow, to every client of that key.
func (s *Session) ChangeAccess(acc Access) error {
	_, err := s.Append(System, TypeAccessChanged, acc)
	return err
}
