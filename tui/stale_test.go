package tui

import (
	"strings"
	"testing"

	"steady/internal/session"
)

// Plan the migration before the backup, take the backup, come back: the
// old plan (backup ✗) is made again before anyone confirms it, the screen
// says what changed, and the new plan runs with no override.
func TestAStalePlanIsMadeAgainBeforeConfirming(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist 0/16")
	h.press("R")
	h.waitText("Incomplete migration CONFIRMED")
	h.press("c")
	h.waitText("Root causes · 1 confirmed")
	h.press("enter")
	h.waitText(">  [ ]    Take a backup")

	h.press("down", "enter")
	h.waitText("Plan: Apply 2 migrations", "✗ backup: no verified")
	// Once the message is read, the footer says how to plan again or discard.
	h.press("up", "down")
	h.waitText("p plan again", "x discard plan")

	h.press("up", "enter")
	h.waitText("Plan: Back up appdb")
	h.press("enter")
	h.waitText("Run tui-test-backup now?")
	h.press("y")
	h.waitText(">  [done] Take a backup")

	h.press("down", "enter")
	h.waitText("changed since it was made", "backup now holds")
	h.press("enter")
	h.waitFor("the confirmation, with no override", func(screen string) bool {
		if strings.Contains(screen, "Override") {
			t.Fatalf("an override is offered for a backup that exists:\n%s", screen)
		}
		return strings.Contains(screen, "Type appdb to run tui-test-migrate")
	})
	h.typeText("appdb")
	h.press("enter")
	h.waitText(">  [done] Apply the missing")

	for _, a := range s.State().Actions {
		if a.Override != "" {
			t.Errorf("%s ran with an override: %q", a.Action, a.Override)
		}
	}
}

// A plan that offers other ways (backup's modes) is one key from the
// first of them: m puts the plan aside and plans the action that way.
func TestTheOtherModeIsOneKeyAway(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 140, 24)
	h.waitText("Checklist 0/16")
	h.press("R")
	h.waitText("Incomplete migration", "CONFIRMED")
	h.press("c")
	h.waitText("Root causes · 1 confirmed")
	h.press("enter")
	h.waitText(">  [ ]    Take a backup")
	h.press("enter")
	h.waitText("Plan: Back up appdb", "Alternatives:")
	h.press("up", "down")
	h.waitText("m plan mode=pg_dump instead")
	h.press("m")
	h.waitText("Plan: Back up appdb whole")
	var last *session.ActionRun
	for _, a := range s.State().Actions {
		last = a
	}
	if last == nil || last.Plan.Params["mode"] != "pg_dump" {
		t.Fatalf("the last plan is %+v, want one with mode=pg_dump", last)
	}
}
