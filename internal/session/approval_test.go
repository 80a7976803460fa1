package session

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/target"
)

func openWith(t *testing.T, approval Approval) *Session {
	t.Helper()
	cfg := config.Default()
	s, err := Open(Options{Runbook: testRB(t), Target: target.New(&cfg), Dir: t.TempDir(), Actor: alice, Version: "test", Approval: approval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

var (
	aliceSSH = Actor{Name: "alice", Via: "ssh", Fingerprint: "SHA256:alice", Role: Operator}
	bobSSH   = Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:bob", Role: Approver}
	carolSSH = Actor{Name: "carol", Via: "ssh", Fingerprint: "SHA256:carol", Role: Observer}
)

// backedUp takes the test backup so that test-migrate's guard holds.
func backedUp(t *testing.T, s *Session) {
	t.Helper()
	ctx := context.Background()
	b, _ := s.PlanAction(ctx, aliceSSH, "", "test-backup", nil)
	if err := s.ExecuteAction(ctx, aliceSSH, b.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "backup", func(st *State) bool { return st.Action(b.ID).Outcome != nil })
}

// A destructive plan confirmed by one operator waits for a second,
// different one, who types the same phrase; both are journaled.
func TestTwoPersonRule(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, ApprovalDestructive)
	backedUp(t, s) // not destructive: it ran at once
	m, _ := s.PlanAction(ctx, aliceSSH, "", "test-migrate", nil)
	var wait *AwaitingApprovalError
	if err := s.ExecuteAction(ctx, aliceSSH, m.ID, "appdb", ""); !errors.As(err, &wait) || wait.ConfirmedBy.Name != "alice" {
		t.Fatalf("confirming a destructive plan: %v", err)
	}
	if a := s.State().Action(m.ID); !a.AwaitingApproval() || !a.Started.IsZero() {
		t.Fatalf("the plan should await approval, not run: %+v", a)
	}
	if err := s.ExecuteAction(ctx, aliceSSH, m.ID, "appdb", ""); err == nil || !strings.Contains(err.Error(), "awaiting approval") {
		t.Errorf("confirming twice: %v", err)
	}
	if err := s.ApproveAction(ctx, Actor{Name: "alice", Via: "local", Role: Operator}, m.ID, "appdb"); !errors.Is(err, ErrForbidden) {
		t.Errorf("the confirmer approving her own plan: %v", err)
	}
	if err := s.ApproveAction(ctx, carolSSH, m.ID, "appdb"); !errors.Is(err, ErrForbidden) {
		t.Errorf("an observer approving: %v", err)
	}
	var phrase *actions.ErrConfirmation
	if err := s.ApproveAction(ctx, bobSSH, m.ID, "yes"); !errors.As(err, &phrase) {
		t.Errorf("approving with the wrong phrase: %v", err)
	}
	if err := s.ApproveAction(ctx, bobSSH, m.ID, "appdb"); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "migrate", func(st *State) bool { return st.Action(m.ID).Outcome != nil })
	a := st.Action(m.ID)
	if a.Outcome.Status != actions.Succeeded || a.ConfirmedBy.Fingerprint != "SHA256:alice" || a.ApprovedBy == nil || a.ApprovedBy.Fingerprint != "SHA256:bob" {
		t.Errorf("outcome %+v confirmed by %v approved by %v", a.Outcome, a.ConfirmedBy, a.ApprovedBy)
	}
}

// An approval is void when the plan's facts change before it runs: the
// plan is made again, and must be confirmed and approved again.
func TestAnApprovalIsVoidWhenThePlanChanged(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, ApprovalDestructive)
	m, _ := s.PlanAction(ctx, aliceSSH, "", "test-migrate", nil)
	var wait *AwaitingApprovalError
	if err := s.ExecuteAction(ctx, aliceSSH, m.ID, "appdb", "a restore was tested an hour ago"); !errors.As(err, &wait) {
		t.Fatalf("confirming with an override: %v", err)
	}
	backedUp(t, s)
	var stale *StaleError
	if err := s.ApproveAction(ctx, bobSSH, m.ID, "appdb"); !errors.As(err, &stale) {
		t.Fatalf("approving a plan whose guard changed since: %v", err)
	}
	st := s.State()
	if st.Action(m.ID).SupersededBy != stale.New || st.Action(m.ID).Started != (time.Time{}) || !st.Action(stale.New).Open() {
		t.Errorf("the approval should be void and the new plan open: %+v", st.Action(stale.New))
	}
}

func TestRejectAndHandedInDecisions(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, ApprovalAll)
	e, _ := s.PlanAction(ctx, aliceSSH, "", "test-echo", nil)
	if err := s.ExecuteAction(ctx, aliceSSH, e.ID, "", ""); err == nil {
		t.Fatal("with approval: all, even a plain action waits")
	}
	if err := s.RejectAction(bobSSH, e.ID, ""); err == nil {
		t.Error("a rejection without a reason")
	}
	if err := s.RejectAction(bobSSH, e.ID, "the wrong database"); err != nil {
		t.Fatal(err)
	}
	a := s.State().Action(e.ID)
	if a.Outcome == nil || a.Outcome.Status != actions.Refused || !strings.Contains(a.Outcome.Summary, "rejected by bob") || a.RejectReason != "the wrong database" {
		t.Errorf("after the rejection: %+v", a.Outcome)
	}

	// A decision handed in by `steady approve` from another process.
	e2, _ := s.PlanAction(ctx, aliceSSH, "", "test-echo", nil)
	_ = s.ExecuteAction(ctx, aliceSSH, e2.ID, "", "")
	path, err := HandIn(s.JournalPath(), ApprovalRequest{Run: e2.ID, Approver: Actor{Name: "bob", Role: Operator}})
	if err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "the handed-in approval", func(st *State) bool { return st.Action(e2.ID).Outcome != nil })
	if a := st.Action(e2.ID); a.Outcome.Status != actions.Succeeded || a.ApprovedBy == nil || a.ApprovedBy.Name != "bob" || a.ApprovedBy.Via != "cli" {
		t.Errorf("handed-in approval: %+v by %v", a.Outcome, a.ApprovedBy)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the decision file was not taken: %v", err)
	}
}

// Every role may do exactly what Role.May says, intent by intent.
func TestRolesMayDoWhatTheTableSays(t *testing.T) {
	ctx := context.Background()
	for _, role := range Roles {
		t.Run(string(role), func(t *testing.T) {
			s := openWith(t, ApprovalAll)
			who := Actor{Name: "dana", Via: "ssh", Fingerprint: "SHA256:dana", Role: role}
			pending, _ := s.PlanAction(ctx, aliceSSH, "", "test-echo", nil)
			_ = s.ExecuteAction(ctx, aliceSSH, pending.ID, "", "")
			open, _ := s.PlanAction(ctx, aliceSSH, "", "test-echo", nil)
			calls := map[Intent]func() error{
				Watch:     func() error { s.Subscribe().Close(); return nil },
				Tick:      func() error { return s.Tick(who, "symptoms-1", true) },
				WriteNote: func() error { return s.Note(who, "", "seen") },
				Approve:   func() error { return s.RejectAction(who, pending.ID, "not now") },
				RunProbe:  func() error { _, err := s.RunProbe(ctx, who, "", "test-ok", nil); return err },
				Plan:      func() error { _, err := s.PlanAction(ctx, who, "", "test-echo", nil); return err },
				Confirm:   func() error { return s.ExecuteAction(ctx, who, open.ID, "", "") },
				Cancel:    func() error { return s.CancelAction(who, "action-99") },
				SkipItem:  func() error { return s.Skip(who, "verification-1", "not needed") },
				Escalate:  func() error { return s.Declare(who, 1) },
				CloseInc:  func() error { return s.CloseIncident(who, "done") },
			}
			for _, i := range Intents {
				err := calls[i]()
				if forbidden := errors.Is(err, ErrForbidden); forbidden == role.May(i) {
					t.Errorf("%s may %q: %v, yet the session said %v", role, i, role.May(i), err)
				}
			}
		})
	}
}

// A key removed from the authorized keys may do nothing more; a demoted
// one only what its new role allows; both are journaled.
func TestAccessChangesApplyAtOnce(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, ApprovalOff)
	if _, err := s.RunProbe(ctx, aliceSSH, "", "test-ok", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeAccess(Access{Fingerprint: aliceSSH.Fingerprint, Name: "alice", Role: Observer, Why: "role=observer in the authorized keys"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunProbe(ctx, aliceSSH, "", "test-ok", nil); !errors.Is(err, ErrForbidden) {
		t.Errorf("a demoted operator ran a probe: %v", err)
	}
	if err := s.Note(aliceSSH, "", "still here"); err != nil {
		t.Errorf("a demoted operator may still write notes: %v", err)
	}
	if err := s.ChangeAccess(Access{Fingerprint: aliceSSH.Fingerprint, Name: "alice", Revoked: true, Why: "her line was removed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Note(aliceSSH, "", "hello?"); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "removed") {
		t.Errorf("a revoked key wrote a note: %v", err)
	}
	if role, ok := s.RoleOf(aliceSSH); ok || role != "" {
		t.Errorf("RoleOf a revoked key: %q %v", role, ok)
	}
	_ = s.Wait(ctx)
}
