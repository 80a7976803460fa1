package tui

import "testing"

// Each test here draws one screen at 80x24 without colour and compares it
// with its golden file (go test ./tui -update rewrites them).

func TestStartScreen(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Figures disagree", "Checklist", "Symptoms")
	h.golden()
}

func TestProbeResultsWithFailure(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("R")
	h.waitText("[FAIL]", "[ok]")
	h.down(4) // the migrations probe
	h.waitText("2 migrations are not applied", "0003_shift_constraints")
	h.golden()
}

func TestCauseBoard(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("R")
	h.waitText("[FAIL]", "CONFIRMED")
	h.press("c")
	h.waitText("Root causes · 1 confirmed", "How to confirm")
	h.golden()
}

// planMigrate runs the diagnosis, follows the confirmed cause to its
// resolution path and plans the migration.
func planMigrate(h *harness) {
	h.t.Helper()
	h.waitText("Checklist")
	h.press("R")
	h.waitText("CONFIRMED")
	h.press("c")
	h.waitText("Root causes · 1 confirmed")
	h.press("enter") // the confirmed cause is first: jump to its path
	h.waitText(">  [ ]    Take a backup")
	h.press("down", "enter")
	h.waitText("Plan: Apply 2 migrations")
}

func TestActionPlan(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	planMigrate(h)
	h.golden()
}

func TestConfirmation(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	planMigrate(h)
	h.press("enter")
	h.waitText("Confirm tui-test-migrate", "Type appdb to run")
	h.golden()
}

func TestHelp(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("?")
	h.waitText("Status tags")
	h.golden()
}

func TestSmallTerminal(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 40, 10)
	h.waitText("Checklist")
	h.golden()
}
