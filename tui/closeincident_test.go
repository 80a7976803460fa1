package tui

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// carol is a second operator, on another client of the same incident.
var carol = session.Actor{Name: "carol", Via: "ssh", Role: session.Operator}

func TestCloseDialog(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("X")
	h.waitText("Close the incident", "Summary, in one line", "Verification not ticked (2):")
	h.press("enter")
	h.waitText("the summary cannot be empty")
	h.golden()
}

// While an action runs the incident cannot be closed: the key says so at
// once, and a dialog opened before the action started shows the
// session's refusal.
func TestCloseIsRefusedWhileAnActionRuns(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.press("X")
	h.waitText("Summary, in one line")

	// carol starts the recalculation from her own client meanwhile.
	run, err := s.PlanAction(context.Background(), carol, "resolution-race-condition-2", "tui-test-slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ExecuteAction(context.Background(), carol, run.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	h.typeText("all fixed")
	h.press("enter")
	h.waitText("┃ Close the incident?")
	h.press("y")
	h.waitText("cannot close the incident: tui-test-slow is still running")

	h.press("X")
	h.waitText("Cannot close the incident: tui-test-slow is still running. Wait for it")
	if st := s.State(); st.Ended != nil {
		t.Fatalf("the incident closed while tui-test-slow ran")
	}
	if err := s.CancelAction(carol, run.ID); err != nil {
		t.Fatal(err)
	}
}

// Closed by another client: every screen says so, drops a dialog that
// would now be refused, refuses what would change something, still takes
// notes, and q quits without asking.
func TestClosedByAnotherClient(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.press("s")
	h.waitText("Why skip it?")

	if err := s.CloseIncident(carol, "cache flushed, figures agree"); err != nil {
		t.Fatal(err)
	}
	h.waitText("CLOSED by carol at 03:00:00: cache flushed, figures agree", "the skip was not sent")
	h.waitGone("Why skip it?")
	h.waitText("CLOSED by carol at 03:00:00", "elapsed 0:00:00")

	for _, tt := range []struct{ keys []string }{{[]string{"R"}}, {[]string{"space"}}, {[]string{"down", "down", "r"}}, {[]string{"e"}}} {
		h.press(tt.keys...)
		h.waitText("The incident is closed (by carol at 03:00:00)")
		h.press("esc")
	}
	h.press("X")
	h.waitText("The incident is already closed (by carol at 03:00:00).")
	h.press("n")
	h.waitText("Add a note")
	h.typeText("postmortem on Monday")
	h.press("enter")
	h.waitText("Note added.")

	h.press("q")
	h.tm.WaitFinished(t)
	h.done = true
	st := s.State()
	if len(st.Probes) != 0 || len(st.Escalations) != 0 {
		t.Errorf("a closed incident ran %d probes and raised %d escalations", len(st.Probes), len(st.Escalations))
	}
	for id, it := range st.Items {
		if it.Checked || it.Status == session.ItemSkipped {
			t.Errorf("%s changed after closing: %+v", id, it)
		}
	}
	if len(st.Notes) != 1 {
		t.Errorf("notes = %+v, want the one after closing", st.Notes)
	}
}

// The count of what is still to do leaves out the resolution paths of
// causes never confirmed: a ruled-out cause's path is not work undone.
func TestClosingCountsOnlyConfirmedPaths(t *testing.T) {
	s := openSession(t)
	rb := testRunbook(t)
	count := func(causes ...string) int {
		n := 0
		for _, it := range rb.Items() {
			if it.Section != runbook.Resolution || slices.Contains(causes, it.Cause) {
				n++
			}
		}
		return n
	}
	h := start(t, testOptions(s), 100, 40)
	h.waitText("Checklist")
	h.press("X")
	h.waitText(fmt.Sprintf("%d items of the checklist still to do.", count()))
	h.press("esc")
	if err := s.RecordProbe(alice, probes.Result{Probe: "tui-test-audit", Status: probes.Fail, Summary: "two writes 3 ms apart"}); err != nil {
		t.Fatal(err)
	}
	h.waitState("the race confirmed", func(st *session.State) bool { return st.Verdicts["race-condition"] == probes.Confirmed })
	h.press("X")
	h.waitText(fmt.Sprintf("%d items of the checklist still to do.", count("race-condition")))
}
