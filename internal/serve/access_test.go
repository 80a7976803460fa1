package serve

import (
	"os"
	"strings"
	"testing"
	"time"

	"steady/internal/session"
	"steady/tui/tuitest"
)

// rewriteKeys replaces the authorized keys file, as an administrator's
// editor would.
func (f *fixture) rewriteKeys(lines ...string) time.Time {
	f.t.Helper()
	tmp := f.authorized + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, f.authorized); err != nil {
		f.t.Fatal(err)
	}
	return time.Now()
}

// A key removed from the authorized keys while its session is open can do
// nothing within two seconds: the session is told why and ends, and the
// journal records the revocation. Another's role change applies at once.
func TestKeyChangesApplyToOpenSessions(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 120, 30)
	carol := f.attach(tm, "carol", f.keys.carol, 120, 30)
	alice.WaitFor("alice")

	changed := f.rewriteKeys(
		f.keys.bob.Line+" bob role=observer",
		f.keys.carol.Line+" carol role=observer",
	)
	f.waitState("alice revoked and carol demoted", func(st *session.State) bool {
		return st.Access[f.keys.alice.Fingerprint].Revoked && st.Access[f.keys.carol.Fingerprint].Role == session.Observer
	})
	if took := time.Since(changed); took > 2*time.Second {
		t.Errorf("the change took %s to apply", took)
	}
	code, screen := alice.WaitExit()
	if code == 0 || !strings.Contains(alice.History()+screen, "Your key was removed from the authorized keys") {
		t.Errorf("alice's session: exit %d\n%s", code, alice.History())
	}
	aliceActor := session.Actor{Name: "alice", Via: "ssh", Fingerprint: f.keys.alice.Fingerprint, Role: session.Operator}
	if err := f.sess.Note(aliceActor, "", "still here?"); err == nil {
		t.Error("a revoked key could still write to the incident")
	}

	carol.WaitFor("carol (observer)", "Your role is now observer")
	selectItem(t, carol, "Quick fix")
	carol.Send("Enter")
	carol.WaitFor("Only an operator can plan and run actions.")
	if st := f.sess.State(); len(st.Actions) != 0 {
		t.Errorf("a demoted operator planned an action: %+v", st.Actions)
	}
	if got := f.eventsOf(session.TypeAccessChanged); len(got) != 2 {
		t.Errorf("access changes journaled: %d, want 2", len(got))
	}
}

// The two-person rule over SSH: alice confirms the destructive plan, it
// waits; bob, an observer, cannot approve; carol, a second operator,
// types the phrase on her own screen and it runs.
func TestTwoOperatorsOneObserverApproveOverSSH(t *testing.T) {
	t.Parallel()
	f := startWith(t, session.ApprovalDestructive, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 140, 34)
	bob := f.attach(tm, "bob", f.keys.bob, 140, 34)
	carol := f.attach(tm, "carol", f.keys.carol, 140, 34)
	f.openGate()

	selectItem(t, alice, "Migrate behind the gate")
	alice.Send("Enter")
	alice.WaitFor("Run serve-test-migrate")
	alice.Send("Enter")
	alice.WaitFor("Type appdb to run serve-test-migrate")
	alice.Type("appdb")
	alice.Send("Enter")
	alice.WaitFor("waits for a second operator to approve it")
	f.waitState("the plan to await approval", func(st *session.State) bool {
		for _, a := range st.Actions {
			if a.AwaitingApproval() {
				return true
			}
		}
		return false
	})

	selectItem(t, bob, "Migrate behind the gate")
	bob.Send("Enter")
	bob.WaitFor("awaits approval by an operator or approver other than alice")

	selectItem(t, carol, "Migrate behind the gate")
	carol.WaitFor("[appr] Migrate behind the gate")
	carol.Send("Enter")
	carol.WaitFor("alice confirmed serve-test-migrate: approve")
	carol.Send("Tab")
	carol.Type("appdb")
	carol.Send("Enter", "Enter")
	f.waitState("the approved action to finish", func(st *session.State) bool {
		for _, a := range st.Actions {
			if a.Action == "serve-test-migrate" && a.Outcome != nil {
				return true
			}
		}
		return false
	})
	for _, a := range f.sess.State().Actions {
		if a.Action != "serve-test-migrate" {
			continue
		}
		if a.ConfirmedBy.Fingerprint != f.keys.alice.Fingerprint || a.ApprovedBy == nil || a.ApprovedBy.Fingerprint != f.keys.carol.Fingerprint {
			t.Errorf("confirmed by %v, approved by %v", a.ConfirmedBy, a.ApprovedBy)
		}
	}
}
