package serve

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"steady/actions"
	"steady/internal/session"
	"steady/tui/tuitest"
)

// A stop says goodbye to every client, whose ssh ends with status 75,
// and leaves a journal that verifies and ends with the last thing that
// happened: the responders leaving.
func TestShutdownFlushesJournal(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 100, 30)
	bob := f.attach(tm, "bob", f.keys.bob, 100, 30)
	selectItem(t, alice, "Count the rows")
	alice.Send("r")
	bob.WaitFor("[ok]   Count the rows")

	f.shutdown()
	for _, p := range []*tuitest.Pane{alice, bob} {
		code, said := p.WaitExit()
		if code != exitTempFail || !strings.Contains(said, "the server is stopping, so your session ended") {
			t.Errorf("after the stop: exit %d, terminal %q; want %d and the goodbye", code, said, exitTempFail)
		}
	}

	data, err := os.ReadFile(f.sess.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := session.Verify(bytes.NewReader(data))
	if err != nil || !v.OK() {
		t.Fatalf("journal does not verify: %v %v", err, v.Problems)
	}
	n := v.Events
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Error("the journal's last line is incomplete")
	}
	events := f.events()
	if len(events) != n {
		t.Fatalf("read %d events, verified %d", len(events), n)
	}
	last := events[len(events)-2:]
	left := map[string]bool{}
	for _, e := range last {
		if e.Type == session.TypeLeft {
			left[e.Actor.Name] = true
		}
	}
	if !left["alice"] || !left["bob"] {
		t.Errorf("the journal ends with %s by %s and %s by %s; want alice and bob leaving", last[0].Type, last[0].Actor, last[1].Type, last[1].Actor)
	}
	f.logs.waitFor(t, "stopped serving", "clients_ended=2")
}

// While a destructive action runs a stop waits for it, and says so in the
// log and on every screen; when the action ends, the server stops on its
// own. Nothing is cancelled.
func TestShutdownWaitsForDestructiveAction(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 120, 30)
	runMigrate(t, f, alice)

	f.stop()
	f.logs.waitFor(t, "stop deferred", "serve-test-migrate (started by alice)", "to_stop_now=")
	alice.WaitFor("Server stop requested: it waits for serve-test-migrate (started by alice)")
	// Responders can still connect to watch it.
	bob := f.attach(tm, "bob", f.keys.bob, 120, 30)
	bob.WaitFor("Server stop requested")
	select {
	case err := <-f.stopped:
		t.Fatalf("the server stopped while a destructive action ran (Serve returned %v)", err)
	default:
	}

	f.openGate()
	f.shutdown()
	for _, p := range []*tuitest.Pane{alice, bob} {
		if code, said := p.WaitExit(); code != exitTempFail || !strings.Contains(said, "the server is stopping") {
			t.Errorf("after the stop: exit %d, terminal %q", code, said)
		}
	}
	migrate := actionRun(t, f, "serve-test-migrate")
	if migrate.Outcome == nil || migrate.Outcome.Status != actions.Succeeded || migrate.CancelRequested != nil {
		t.Errorf("migrate = outcome %+v, cancel requested by %v; want it to have finished on its own", migrate.Outcome, migrate.CancelRequested)
	}
}

// A forced stop (a second signal, or --force) cancels the destructive
// action instead of waiting, and the journal says the server asked.
func TestForcedShutdownCancelsDestructiveAction(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 120, 30)
	runMigrate(t, f, alice)

	f.stop()
	f.logs.waitFor(t, "stop deferred", "serve-test-migrate")
	f.srv.Force()
	f.shutdown()
	f.logs.waitFor(t, "stop forced", "serve-test-migrate")
	f.logs.waitFor(t, "cancelling a running action", "action=serve-test-migrate", "started_by=alice", "destructive=true")
	if code, said := alice.WaitExit(); code != exitTempFail || !strings.Contains(said, "the server is stopping") {
		t.Errorf("after the stop: exit %d, terminal %q", code, said)
	}
	migrate := actionRun(t, f, "serve-test-migrate")
	if migrate.CancelRequested == nil || migrate.CancelRequested.Name != "steady serve" {
		t.Errorf("cancel requested by %v, want steady serve", migrate.CancelRequested)
	}
	if migrate.Outcome == nil || migrate.Outcome.Status != actions.Cancelled {
		t.Errorf("migrate outcome = %+v, want cancelled", migrate.Outcome)
	}
}

// runMigrate plans and confirms the destructive gated action on a pane,
// typing the confirm phrase, and waits until it runs.
func runMigrate(t *testing.T, f *fixture, p *tuitest.Pane) {
	t.Helper()
	selectItem(t, p, "Migrate behind the gate")
	p.Send("Enter")
	p.WaitFor("Run serve-test-migrate")
	p.Send("Enter")
	p.WaitFor("Type appdb to run serve-test-migrate")
	p.Type("appdb")
	p.Send("Enter")
	f.waitState("migrate to run", func(st *session.State) bool { return len(st.RunningActions()) == 1 })
}

// actionRun returns the journal's run of an action, read back from the
// file.
func actionRun(t *testing.T, f *fixture, action string) *session.ActionRun {
	t.Helper()
	st := session.Fold(f.sess.Runbook(), f.events())
	for _, a := range st.Actions {
		if a.Action == action {
			return a
		}
	}
	t.Fatalf("no %s in the journal", action)
	return nil
}
