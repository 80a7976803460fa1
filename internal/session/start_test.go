package session

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"steady/actions"
	"steady/internal/target"
)

// A hundred starts from several clients at once, of five different plans
// and of the same plan twice over: exactly one action starts, every other
// start is refused with who runs what.
func TestOneStartInAHundred(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	var runs []string
	for i := 0; i < 5; i++ {
		a, err := s.PlanAction(ctx, alice, "", "test-sleep", nil)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, a.ID)
	}
	var (
		mu      sync.Mutex
		started []string
		refused []error
		wg      sync.WaitGroup
	)
	begin := make(chan struct{})
	for i := 0; i < 100; i++ {
		actor := Actor{Name: fmt.Sprintf("op%d", i%4), Via: "ssh", Role: Operator}
		run := runs[i%len(runs)]
		wg.Go(func() {
			<-begin
			err := s.ExecuteAction(ctx, actor, run, "", "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				started = append(started, run)
			} else {
				refused = append(refused, err)
			}
		})
	}
	close(begin)
	wg.Wait()
	if len(started) != 1 {
		t.Fatalf("%d starts, want exactly 1: %v", len(started), started)
	}
	for _, err := range refused {
		var busy *BusyError
		if !errors.As(err, &busy) && !strings.Contains(err.Error(), "cannot run") {
			t.Errorf("a refusal that does not say who runs what: %v", err)
		}
	}
	st := s.State()
	if n := len(st.RunningActions()); n != 1 {
		t.Errorf("%d actions running, want 1", n)
	}
	// The one that started can be cancelled: its cancel was not overwritten.
	if err := s.CancelAction(alice, started[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "cancelled", func(st *State) bool { return st.Action(started[0]).Outcome != nil })
}

// Plan migrate without a backup, take the backup, confirm the old plan:
// the plan is made again (the backup guard now holds), the operator sees
// what changed, and the new plan runs with no override.
func TestAStalePlanIsMadeAgainNotOverridden(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	old, err := s.PlanAction(ctx, alice, "", "test-migrate", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Plan.Blocked()) != 1 {
		t.Fatalf("the backup guard should fail before the backup: %+v", old.Plan.Preconditions)
	}
	b, _ := s.PlanAction(ctx, alice, "", "test-backup", nil)
	if err := s.ExecuteAction(ctx, alice, b.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "backup", func(st *State) bool { return st.Action(b.ID).Outcome != nil })

	err = s.ExecuteAction(ctx, alice, old.ID, "appdb", "")
	var stale *StaleError
	if !errors.As(err, &stale) || stale.Old != old.ID || len(stale.Changes) == 0 || !strings.Contains(stale.Changes[0], "now holds") {
		t.Fatalf("confirming the stale plan: %v", err)
	}
	st := s.State()
	if st.Action(old.ID).SupersededBy != stale.New || st.Action(stale.New).Replaces != old.ID || len(st.Action(stale.New).Plan.Blocked()) != 0 {
		t.Errorf("the new plan should replace the old and hold: %+v", st.Action(stale.New))
	}
	if err := s.ExecuteAction(ctx, alice, old.ID, "appdb", ""); err == nil || !strings.Contains(err.Error(), "made again as "+stale.New) {
		t.Errorf("the old plan can still be confirmed: %v", err)
	}
	if err := s.ExecuteAction(ctx, alice, stale.New, "appdb", ""); err != nil {
		t.Fatal(err)
	}
	st = waitFor(t, s, "migrate", func(st *State) bool { return st.Action(stale.New).Outcome != nil })
	if a := st.Action(stale.New); a.Outcome.Status != actions.Succeeded || a.Override != "" {
		t.Errorf("migrate: %+v override %q", a.Outcome, a.Override)
	}
	// Unchanged, a plan stands as it is.
	again, _ := s.PlanAction(ctx, alice, "", "test-echo", nil)
	cur, changes, err := s.Revalidate(ctx, alice, again.ID)
	if err != nil || cur.ID != again.ID || len(changes) != 0 {
		t.Errorf("revalidating an unchanged plan: %v %v %v", cur, changes, err)
	}
	if err := s.Discard(alice, again.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ExecuteAction(ctx, alice, again.ID, "", ""); err == nil || !strings.Contains(err.Error(), "discarded by alice") {
		t.Errorf("a discarded plan runs: %v", err)
	}
}

// A command an earlier steady started and never saw end is still alive:
// the history names its process group for migrate's guard; once it ends,
// it is no longer named.
func TestOrphansAreTheLiveCommandsOfUnknownOutcomes(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	st := &State{Actions: []*ActionRun{
		{ID: "action-1", Action: "migrate", Outcome: &actions.Outcome{Status: actions.OutcomeUnknown},
			Output: []OutputLine{{Stream: actions.StreamSteady, Text: target.StartedLine(cmd.Process.Pid)}}},
		{ID: "action-2", Action: "backup", Outcome: &actions.Outcome{Status: actions.Succeeded},
			Output: []OutputLine{{Stream: actions.StreamSteady, Text: target.StartedLine(cmd.Process.Pid)}}},
	}}
	got := history{st}.Orphans()
	if len(got) != 1 || got[0].Action != "migrate" || got[0].PGID != cmd.Process.Pid {
		t.Fatalf("orphans %+v, want migrate's live process group %d", got, cmd.Process.Pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got := (history{st}).Orphans(); len(got) != 0 {
		t.Errorf("a process group that ended is still named: %+v", got)
	}
}
