package session

import (
	"fmt"
	"time"
)

// Elapsed returns how long the incident has been open (until it closed).
func (st *State) Elapsed(now time.Time) time.Duration {
	if st.Started.IsZero() {
		return 0
	}
	if st.Ended != nil {
		return st.Ended.Sub(st.Started)
	}
	return now.Sub(st.Started)
}

// Raised reports whether a rule has been raised.
func (st *State) Raised(rule int) bool {
	for _, e := range st.Escalations {
		if e.Rule == rule {
			return true
		}
	}
	return false
}

// Unacknowledged returns the raised escalations nobody acknowledged yet.
func (st *State) Unacknowledged() []Escalation {
	var out []Escalation
	for _, e := range st.Escalations {
		if e.AckedBy == nil {
			out = append(out, e)
		}
	}
	return out
}

// CheckEscalations raises every time-based escalation rule whose
// threshold the incident has crossed and that was not raised yet. Any
// client's clock tick may call it; each rule is raised once.
func (s *Session) CheckEscalations(now time.Time) error {
	s.mu.Lock()
	st := s.state
	var due []int
	if st.Ended == nil {
		for i, r := range s.rb.Meta.Escalation.Rules {
			if !r.Immediate && r.After > 0 && st.Elapsed(now) >= r.After && !st.Raised(i) {
				due = append(due, i)
			}
		}
	}
	s.mu.Unlock()
	for _, i := range due {
		r := s.rb.Meta.Escalation.Rules[i]
		s.mu.Lock()
		raised := s.state.Raised(i)
		s.mu.Unlock()
		if raised {
			continue
		}
		if _, err := s.Append(System, TypeEscalationRaised, EscalationRaised{Rule: i, To: r.To, When: r.When, Auto: true}); err != nil {
			return err
		}
	}
	return nil
}

// Declare raises an immediate escalation rule (such as "data loss is
// possible") on an actor's word.
func (s *Session) Declare(a Actor, rule int) error {
	if err := s.allow(a, Escalate); err != nil {
		return err
	}
	rules := s.rb.Meta.Escalation.Rules
	if rule < 0 || rule >= len(rules) {
		return fmt.Errorf("no escalation rule %d", rule)
	}
	r := rules[rule]
	_, err := s.Append(a, TypeEscalationRaised, EscalationRaised{Rule: rule, To: r.To, When: r.When})
	return err
}

// Acknowledge records that an actor has seen a raised escalation and acted.
func (s *Session) Acknowledge(a Actor, rule int) error {
	if err := s.allow(a, Escalate); err != nil {
		return err
	}
	st := s.State()
	if !st.Raised(rule) {
		return fmt.Errorf("escalation rule %d was not raised", rule)
	}
	_, err := s.Append(a, TypeEscalationAcked, EscalationAcked{Rule: rule})
	return err
}
