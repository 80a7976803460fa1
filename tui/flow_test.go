package tui

import (
	"strings"
	"testing"

	"steady/actions"
	"steady/internal/session"
	"steady/probes"
)

// TestIncidentFlow walks the whole runbook the way an on-call engineer
// would: run the diagnosis, see the cause confirmed, jump to its
// resolution, back up, plan the migration, confirm it with the typed
// phrase, watch its output, re-check, tick the verification, and close
// the incident with a summary.
func TestIncidentFlow(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist 0/16")

	h.press("R")
	h.waitText("[FAIL] Check that every migra", "Incomplete migration CONFIRMED")

	h.press("c")
	h.waitText("Root causes · 1 confirmed")
	h.press("enter")
	h.waitText(">  [ ]    Take a backup")

	// The backup: plan, confirm with a yes, done.
	h.press("enter")
	h.waitText("Plan: Back up appdb", "✓ free disk")
	h.press("enter")
	h.waitText("Run tui-test-backup now?")
	h.press("y")
	h.waitText(">  [done] Take a backup")

	// The migration: its plan now finds the backup; the typed phrase runs it.
	h.press("down", "enter")
	h.waitText("Plan: Apply 2 migrations", "✓ backup: verified backup")
	h.press("enter")
	h.waitText("Type appdb to run tui-test-migrate")
	h.typeText("appdb")
	h.press("enter")
	h.waitText(">  [done] Apply the missing", "Applying config.0004_auditlog_index... OK", "Outcome: SUCCEEDED")

	// steady re-ran the migrations probe after the action: the cause,
	// confirmed before, is resolved now.
	h.waitText("Incomplete migration  resolved", "1 resolved")

	// The path's own check, then the verification ticked.
	h.press("down", "r")
	h.waitText(">  [ok]   Verify: no unapplied")
	h.down(3)
	h.waitText("> [ ]    Figures agree")
	h.press("space")
	h.waitText("> [x]    Figures agree", "[x] ticked by alice at 03:00:00")

	// Close it: the dialog names what is still unticked, then takes a
	// summary and a confirmation; the banner says who closed it and why.
	h.press("X")
	h.waitText("Close the incident?", "Verification not ticked (1):", "No new inconsistencies")
	h.typeText("0003 and 0004 applied after a verified backup")
	h.press("enter")
	h.waitText("┃ Close the incident?")
	h.press("y")
	h.waitText("CLOSED by alice at 03:00:00: 0003 and 0004 applied after a verified backup", "Incident closed. q quits")
	h.golden()

	st := s.State()
	if v := st.Items["verification-1"]; !v.Checked || v.By.Name != "alice" {
		t.Errorf("verification-1 = %+v, want ticked by alice", v)
	}
	var migrate *session.ActionRun
	for _, a := range st.Actions {
		if a.Action == "tui-test-migrate" {
			migrate = a
		}
	}
	if migrate == nil || migrate.ConfirmedBy == nil || migrate.ConfirmedBy.Name != "alice" || migrate.Outcome.Status != actions.Succeeded {
		t.Fatalf("migrate run = %+v, want confirmed by alice and succeeded", migrate)
	}
	if migrate.Override != "" {
		t.Errorf("migrate was overridden (%q) though the backup precondition held", migrate.Override)
	}
	if st.Verdicts["incomplete-migration"] != probes.Resolved {
		t.Errorf("incomplete-migration verdict = %s, want resolved", st.Verdicts["incomplete-migration"])
	}
	if !strings.Contains(h.term.String(), "[x]") {
		t.Error("the emulated screen lost the tick")
	}
	if st.Ended == nil || st.ClosedBy.Name != "alice" || st.Closed.Summary != "0003 and 0004 applied after a verified backup" {
		t.Errorf("closed %v by %q with %+v, want by alice with the summary", st.Ended, st.ClosedBy.Name, st.Closed)
	}
}
