package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"steady/actions"
)

// Approval says which confirmed plans wait for a second operator before
// they run (the two-person rule).
type Approval string

// Approval policies.
const (
	ApprovalOff         Approval = "off"
	ApprovalDestructive Approval = "destructive"
	ApprovalAll         Approval = "all"
)

// ParseApproval reads a policy as written in steady.yaml.
func ParseApproval(s string) (Approval, error) {
	switch a := Approval(strings.TrimSpace(s)); a {
	case ApprovalOff, ApprovalDestructive, ApprovalAll:
		return a, nil
	case "":
		return ApprovalOff, nil
	}
	return "", fmt.Errorf("approval %q is not off, destructive or all", s)
}

// stricter returns the stricter of two policies.
func stricter(a, b Approval) Approval {
	rank := map[Approval]int{"": 0, ApprovalOff: 0, ApprovalDestructive: 1, ApprovalAll: 2}
	if rank[b] > rank[a] {
		return b
	}
	if a == "" {
		return ApprovalOff
	}
	return a
}

// Approval returns the incident's policy.
func (s *Session) Approval() Approval {
	s.mu.Lock()
	defer s.mu.Unlock()
	return stricter(s.state.Approval, "")
}

func (s *Session) needsApproval(p *actions.Plan) bool {
	switch s.Approval() {
	case ApprovalAll:
		return true
	case ApprovalDestructive:
		return p.Destructive
	}
	return false
}

// AwaitingApprovalError says a confirmed plan waits for a second operator.
type AwaitingApprovalError struct {
	Action, Run string
	ConfirmedBy Actor
}

func (e *AwaitingApprovalError) Error() string {
	return fmt.Sprintf("%s (%s) was confirmed by %s and awaits approval by a second operator", e.Action, e.Run, e.ConfirmedBy)
}

// ActionApproved records the second operator's approval.
type ActionApproved struct {
	Run string `json:"run"`
}

// ActionRejected records the second operator's rejection, with why.
type ActionRejected struct {
	Run    string `json:"run"`
	Reason string `json:"reason"`
}

// sameOperator reports whether two actors are one person: the same key,
// or the same name.
func sameOperator(a, b Actor) bool {
	if a.Fingerprint != "" && a.Fingerprint == b.Fingerprint {
		return true
	}
	return strings.EqualFold(a.Name, b.Name)
}

// awaiting returns the plan awaiting approval that run names.
func (s *Session) awaiting(b Actor, run string) (*ActionRun, error) {
	if err := s.allow(b, Approve); err != nil {
		return nil, err
	}
	ar := s.State().Action(run)
	switch {
	case ar == nil:
		return nil, fmt.Errorf("no planned action %q", run)
	case !ar.AwaitingApproval():
		return nil, fmt.Errorf("%s (%s) is not awaiting approval: %s", ar.Action, run, ar.StateText())
	case sameOperator(*ar.ConfirmedBy, b):
		return nil, fmt.Errorf("%s (%s): %w: %s confirmed it; a second, different operator approves", ar.Action, run, ErrForbidden, ar.ConfirmedBy)
	}
	return ar, nil
}

// ApproveAction is the second operator's approval of a destructive plan
// another confirmed: they type the same phrase; the plan is made again
// first, and if anything it rests on changed the approval is void (the new
// plan must be confirmed and approved again); then the action starts.
func (s *Session) ApproveAction(ctx context.Context, b Actor, run, phrase string) error {
	if _, err := s.awaiting(b, run); err != nil {
		return err
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	ar, err := s.awaiting(b, run)
	if err != nil {
		return err
	}
	plan, ok := s.planAsMade(run)
	if !ok {
		return plannedBefore(ar)
	}
	if err := actions.Confirm(&plan, phrase); err != nil {
		return err
	}
	st := s.State()
	if err := mayStart(st); err != nil {
		return err
	}
	cur, changes, err := s.revalidate(ctx, b, ar)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		return &StaleError{Action: ar.Action, Old: ar.ID, New: cur.ID, Changes: changes}
	}
	confirmer := *ar.ConfirmedBy
	if refused := actions.RefusedBy(&plan, s.env(confirmer, ar.Override)); refused != nil {
		if _, err := s.Append(System, TypeActionFinished, ActionFinished{Run: run, Outcome: *refused}); err != nil {
			return err
		}
		return errors.New(refused.Summary)
	}
	if _, err := s.Append(b, TypeActionApproved, ActionApproved{Run: run}); err != nil {
		return err
	}
	return s.start(ctx, b, run, confirmer, ar.Override)
}

// RejectAction is the second operator's refusal of a plan awaiting
// approval; the reason is journaled and nothing runs.
func (s *Session) RejectAction(b Actor, run, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("rejecting needs a reason")
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if _, err := s.awaiting(b, run); err != nil {
		return err
	}
	if _, err := s.Append(b, TypeActionRejected, ActionRejected{Run: run, Reason: reason}); err != nil {
		return err
	}
	_, err := s.Append(System, TypeActionFinished, ActionFinished{Run: run, Outcome: actions.Outcome{
		Status: actions.Refused, ExitCode: -1, Summary: fmt.Sprintf("rejected by %s: %s; nothing ran", b, reason)}})
	return err
}

// ApprovalRequest is a decision handed in by `steady approve` from
// another process: the session that holds the journal picks it up from
// ApprovalsDir and carries it out as if the approver had been at a screen.
type ApprovalRequest struct {
	Run      string `json:"run"`
	Approver Actor  `json:"approver"`
	// Reject is set for a rejection, with Reason; otherwise Phrase is
	// the confirm phrase typed.
	Reject bool   `json:"reject,omitempty"`
	Phrase string `json:"phrase,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ApprovalsDir is where decisions for the incident of a journal are
// handed in.
func ApprovalsDir(journal string) string {
	return strings.TrimSuffix(journal, filepath.Ext(journal)) + ".approvals"
}

// HandIn writes a decision for the session holding journal to pick up.
func HandIn(journal string, r ApprovalRequest) (string, error) {
	dir := ApprovalsDir(journal)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%d.json", r.Run, time.Now().UnixNano())
	tmp := filepath.Join(dir, "."+name)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.Rename(tmp, path)
}

// approvalPoll is how often handed-in decisions are looked for.
const approvalPoll = 500 * time.Millisecond

// watchApprovals starts, once, the loop that picks up decisions handed in
// by `steady approve` while any plan awaits approval.
func (s *Session) watchApprovals() {
	s.mu.Lock()
	if s.approvalsWatched || s.closed {
		s.mu.Unlock()
		return
	}
	s.approvalsWatched = true
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(approvalPoll)
		defer t.Stop()
		for range t.C {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			s.takeHandedIn()
		}
	}()
}

// takeHandedIn carries out the decisions waiting in the approvals
// directory, oldest first, and journals a note for one it cannot accept.
func (s *Session) takeHandedIn() {
	dir := ApprovalsDir(s.journal.Path())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(dir, n)
		b, err := os.ReadFile(path)
		_ = os.Remove(path)
		if err != nil {
			continue
		}
		var r ApprovalRequest
		if err := json.Unmarshal(b, &r); err != nil || r.Run == "" || r.Approver.Name == "" {
			continue
		}
		r.Approver.Via = "cli"
		if r.Reject {
			err = s.RejectAction(r.Approver, r.Run, r.Reason)
		} else {
			err = s.ApproveAction(context.Background(), r.Approver, r.Run, r.Phrase)
		}
		if err != nil {
			_ = s.Note(System, "", fmt.Sprintf("a decision on %s handed in by %s was not accepted: %v", r.Run, r.Approver, err))
		}
	}
}
