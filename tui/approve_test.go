package tui

import (
	"context"
	"errors"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
)

// The second pair of eyes, on screen: alice confirms the migration, bob
// (an approver, on his own screen) sees it waiting, types the phrase and
// approves; it runs, and both are journaled.
func TestASecondOperatorApprovesOnTheirScreen(t *testing.T) {
	migrated.Store(false)
	cfg := config.Default()
	cfg.DB = "postgres://app:s3cret@db.internal:5432/appdb"
	s, err := session.Open(session.Options{Runbook: testRunbook(t), Target: target.New(&cfg), Dir: t.TempDir(),
		Actor: alice, Version: "test", Now: func() time.Time { return opened }, Approval: session.ApprovalDestructive})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	ctx := context.Background()
	aliceSSH := session.Actor{Name: "alice", Via: "ssh", Fingerprint: "SHA256:alice", Role: session.Operator}
	b, _ := s.PlanAction(ctx, aliceSSH, "resolution-incomplete-migration-1", "tui-test-backup", nil)
	if err := s.ExecuteAction(ctx, aliceSSH, b.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	_ = s.Wait(ctx)
	m, _ := s.PlanAction(ctx, aliceSSH, "resolution-incomplete-migration-2", "tui-test-migrate", nil)
	var wait *session.AwaitingApprovalError
	if err := s.ExecuteAction(ctx, aliceSSH, m.ID, "appdb", ""); !errors.As(err, &wait) {
		t.Fatalf("alice's confirmation: %v", err)
	}

	bob := session.Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:bob", Role: session.Approver}
	o := testOptions(s)
	o.Actor = bob
	h := start(t, o, 80, 24)
	h.waitText("bob (approver)")
	h.press("/")
	h.typeText("apply the missing")
	h.press("enter")
	h.waitText(">  [appr] Apply the missing", "enter approve/reject")
	h.press("enter")
	h.waitText("alice confirmed tui-test-migrate: approve", "Confirmed by alice (ssh SHA256:alice) at", "↑/↓ choose")
	// Down to the phrase at once, typed ahead: it lands where it belongs.
	h.press("tab")
	h.typeText("appdb")
	h.press("enter", "enter")
	h.waitText(">  [done] Apply the missing")
	a := s.State().Action(m.ID)
	if a.Outcome == nil || a.Outcome.Status != actions.Succeeded || a.ConfirmedBy.Name != "alice" || a.ApprovedBy == nil || a.ApprovedBy.Name != "bob" {
		t.Errorf("confirmed by %v, approved by %v, outcome %+v", a.ConfirmedBy, a.ApprovedBy, a.Outcome)
	}
}
