package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// The probes and actions below stand in for real ones: the session's job
// is recording and sequencing, which these exercise without a database.

type stubProbe struct {
	id     string
	status probes.Status
	params []probes.Param
}

func (p stubProbe) ID() string             { return p.id }
func (p stubProbe) Title() string          { return "test probe " + p.id }
func (p stubProbe) Params() []probes.Param { return p.params }
func (p stubProbe) Run(ctx context.Context, t *target.Target, ps probes.Params) probes.Result {
	rows := make([][]string, 0, 600)
	for i := 0; i < 600; i++ {
		rows = append(rows, []string{"row"})
	}
	return probes.Result{Status: p.status, Summary: "summary of " + p.id + " " + ps["clinician"],
		Evidence: probes.Table{Columns: []string{"c"}, Rows: rows}, Started: time.Now()}
}

type cmdAction struct {
	id          string
	line        string
	destructive bool
	recheck     []string
	artefacts   map[string]string
}

func (a cmdAction) ID() string             { return a.id }
func (a cmdAction) Title() string          { return "test action " + a.id }
func (a cmdAction) Params() []probes.Param { return nil }
func (a cmdAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	plan := &actions.Plan{Title: a.Title(), Risk: actions.Low, Destructive: a.destructive, Recheck: a.recheck,
		Steps: []actions.Step{{Kind: actions.StepCommand, Text: a.line}}}
	if a.destructive {
		plan.ConfirmPhrase = "appdb"
		plan.Risk = actions.High
		backups := env.History.VerifiedBackups("appdb")
		plan.Preconditions = []actions.Precondition{{Name: "backup", Holds: len(backups) > 0, Detail: "a verified backup of appdb from this incident", Overridable: true}}
	}
	return plan, nil
}
func (a cmdAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	exit, err := target.Run(ctx, target.Command{Line: plan.Steps[0].Text}, target.RunOptions{Grace: time.Second, OnLine: func(l target.Line) { out.Line(l.Stream, l.Text) }})
	o := actions.Outcome{ExitCode: exit.Code, Duration: exit.Duration, Artefacts: a.artefacts}
	switch {
	case err != nil:
		o.Status, o.Error = actions.Failed, err.Error()
	case exit.Cancelled:
		o.Status = actions.Cancelled
	case exit.OK():
		o.Status = actions.Succeeded
	default:
		o.Status = actions.Failed
	}
	o.Summary = exit.String()
	return o
}

func init() {
	probes.Register(stubProbe{id: "test-ok", status: probes.OK})
	probes.Register(stubProbe{id: "test-fail", status: probes.Fail})
	probes.Register(stubProbe{id: "test-param", status: probes.OK, params: []probes.Param{{Name: "clinician", Kind: "int", Required: true}}})
	actions.Register(cmdAction{id: "test-echo", line: "echo hello; echo oops >&2"})
	actions.Register(cmdAction{id: "test-backup", line: "echo dumped", artefacts: map[string]string{"kind": "backup", "verified": "true", "database": "appdb", "path": "b.dump", "sha256": "ab", "size": "10"}})
	actions.Register(cmdAction{id: "test-migrate", line: "echo migrated", destructive: true, recheck: []string{"test-ok"}})
	actions.Register(cmdAction{id: "test-sleep", line: "sleep 30", recheck: []string{"test-ok"}})
	actions.Register(cmdAction{id: "test-quiet", line: "echo working; sleep 30"})
}

const testRunbook = `---
id: test
title: Test runbook
severity: high
estimated_ttr: 2h
escalation:
  rules:
    - after: 1h
      to: Tech Lead
    - immediately: true
      to: Senior Developer
      when: data loss is possible
---
# Test

## Symptoms

- Numbers are wrong

## Diagnosis Steps

1. Healthy check

   ` + "```steady\n   probe: test-ok\n   ```" + `

2. Failing check

   ` + "```steady\n   probe: test-fail\n   ```" + `

3. Asks for a clinician

   ` + "```steady\n   probe: test-param\n   clinician: ask\n   ```" + `

## Root Causes

| Id | Cause | Likelihood | How to confirm | Probes |
| --- | --- | --- | --- | --- |
| broken | Broken | High | look | test-fail |
| fine | Fine | Low | look | test-ok |

## Resolution Steps

### For broken {#broken}

1. Back up

   ` + "```steady\n   action: test-backup\n   ```" + `

2. Migrate

   ` + "```steady\n   action: test-migrate\n   ```" + `

## Verification

- [ ] Numbers are right
`

func testRB(t testing.TB) *runbook.Runbook {
	t.Helper()
	r, ps := runbook.Lint("test.md", []byte(testRunbook), runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if len(ps) > 0 {
		t.Fatalf("test runbook: %v", ps)
	}
	return r
}

var alice = Actor{Name: "alice", Via: "local", Role: Operator}

func openTest(t *testing.T, dsn string) (*Session, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DB = dsn
	s, err := Open(Options{Runbook: testRB(t), Target: target.New(&cfg), Dir: dir, Actor: alice, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s, dir
}

func waitFor(t *testing.T, s *Session, what string, cond func(*State) bool) *State {
	t.Helper()
	sub := s.Subscribe()
	defer sub.Close()
	deadline := time.After(20 * time.Second)
	for {
		if st := s.State(); cond(st) {
			return st
		}
		select {
		case <-sub.C:
			sub.Next()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestReplayEqualsLiveState(t *testing.T) {
	s, _ := openTest(t, "postgres://app:pw@db/appdb")
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Tick(alice, "symptoms-1", true))
	must(s.Note(alice, "symptoms-1", "seen by two users"))
	must(s.Skip(alice, "diagnosis-3", "no clinician reported"))
	_, err := s.RunProbe(ctx, alice, "diagnosis-1", "test-ok", nil)
	must(err)
	_, err = s.RunProbe(ctx, alice, "diagnosis-2", "test-fail", nil)
	must(err)
	run, err := s.PlanAction(ctx, alice, "resolution-broken-1", "test-backup", nil)
	must(err)
	must(s.ExecuteAction(ctx, alice, run.ID, "", ""))
	must(s.Wait(ctx))
	must(s.Declare(alice, 1))
	must(s.Acknowledge(alice, 1))

	live := s.State()
	if got := live.Verdicts["broken"]; got != probes.Confirmed {
		t.Errorf("verdict of broken = %q, want confirmed", got)
	}
	if got := live.Verdicts["fine"]; got != probes.RuledOut {
		t.Errorf("verdict of fine = %q, want ruled out", got)
	}
	if got := live.Items["diagnosis-2"].Status; got != Failed {
		t.Errorf("diagnosis-2 status %q, want fail", got)
	}
	if got := live.Items["resolution-broken-1"].Status; got != Done {
		t.Errorf("backup item status %q, want done", got)
	}
	if len(live.VerifiedBackups("appdb")) != 1 {
		t.Errorf("the backup should count as verified")
	}

	events, info, err := ReadJournal(s.JournalPath())
	must(err)
	if info.Truncated {
		t.Error("a clean journal reads as truncated")
	}
	replayed := Fold(s.Runbook(), events)
	if !reflect.DeepEqual(replayed, live) {
		t.Errorf("replayed state differs from the live state\nlive:     %+v\nreplayed: %+v", live, replayed)
	}
	v, err := Verify(bytes.NewReader(mustRead(t, s.JournalPath())))
	must(err)
	if !v.OK() || v.Events != len(events) {
		t.Errorf("verify: %d events, problems %v", v.Events, v.Problems)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEvidenceIsBoundedInTheJournal(t *testing.T) {
	s, _ := openTest(t, "")
	if _, err := s.RunProbe(context.Background(), alice, "diagnosis-1", "test-ok", nil); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "probe result", func(st *State) bool { return st.LastResult("test-ok") != nil })
	r := st.LastResult("test-ok")
	if len(r.Evidence.Rows) != MaxEvidenceRows || r.Evidence.Omitted != 600-MaxEvidenceRows {
		t.Errorf("evidence rows %d omitted %d", len(r.Evidence.Rows), r.Evidence.Omitted)
	}
}

func TestVerifyNamesTheAlteredLine(t *testing.T) {
	s, _ := openTest(t, "")
	for i := 0; i < 4; i++ {
		if err := s.Note(alice, "", "note number "+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	data := mustRead(t, s.JournalPath())
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	tests := []struct {
		name string
		edit func([]string) []string
		line int
		msg  string
	}{
		{"content edited", func(l []string) []string {
			l[2] = strings.Replace(l[2], "note number b", "note number X", 1)
			return l
		}, 3, "altered"},
		{"last line edited", func(l []string) []string {
			l[4] = strings.Replace(l[4], "note number d", "nothing to see", 1)
			return l
		}, 5, "altered"},
		{"line removed", func(l []string) []string {
			return append(append([]string(nil), l[:2]...), l[3:]...)
		}, 3, "event 3 missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := tt.edit(append([]string(nil), lines...))
			v, err := Verify(strings.NewReader(strings.Join(edited, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			problems := v.Problems
			if len(problems) == 0 {
				t.Fatal("the edit went unnoticed")
			}
			if problems[0].Line != tt.line || !strings.Contains(problems[0].Msg, tt.msg) {
				t.Errorf("first problem %+v, want line %d mentioning %q", problems[0], tt.line, tt.msg)
			}
		})
	}
}

func TestSecretsNeverReachTheJournal(t *testing.T) {
	s, _ := openTest(t, "postgres://app:Sup3rSecret@db:5432/appdb")
	if err := s.Note(alice, "", "tried postgres://app:Sup3rSecret@db:5432/appdb by hand, and redis://:r3dpass@cache/0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Note(alice, "", `quote "Sup3rSecret" inside`); err != nil {
		t.Fatal(err)
	}
	data := string(mustRead(t, s.JournalPath()))
	for _, secret := range []string{"Sup3rSecret", "r3dpass"} {
		if strings.Contains(data, secret) {
			t.Errorf("journal contains %q:\n%s", secret, data)
		}
	}
	if !strings.Contains(data, "postgres://app:***@db:5432/appdb") {
		t.Errorf("the redacted target should be recorded:\n%s", data)
	}
	if v, _ := Verify(strings.NewReader(data)); !v.OK() {
		t.Errorf("scrubbed journal does not verify: %v", v.Problems)
	}
}

func TestParamsAreCheckedBeforeAProbeRuns(t *testing.T) {
	s, _ := openTest(t, "")
	if _, err := s.RunProbe(context.Background(), alice, "diagnosis-3", "test-param", nil); err == nil || !strings.Contains(err.Error(), "clinician") {
		t.Errorf("want an error naming the missing clinician, got %v", err)
	}
	if _, err := s.RunProbe(context.Background(), alice, "diagnosis-3", "test-param", map[string]string{"clinician": "x7"}); err == nil {
		t.Error("a non-numeric clinician was accepted")
	}
	run, err := s.RunProbe(context.Background(), alice, "diagnosis-3", "test-param", map[string]string{"clinician": "7"})
	if err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "param probe", func(st *State) bool { p := st.Probe(run); return p != nil && p.Result != nil })
	if got := st.Probe(run).Result.Summary; got != "summary of test-param 7" {
		t.Errorf("summary %q", got)
	}
}

func TestGuards(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "postgres://app@db/appdb")
	bob := Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:abc", Role: Observer}

	run, err := s.PlanAction(ctx, alice, "resolution-broken-2", "test-migrate", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ExecuteAction(ctx, bob, run.ID, "appdb", ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("observer executed an action: %v", err)
	}
	if _, err := s.RunProbe(ctx, bob, "", "test-ok", nil); !errors.Is(err, ErrForbidden) {
		t.Errorf("observer ran a probe: %v", err)
	}
	if err := s.Tick(bob, "symptoms-1", true); err != nil {
		t.Errorf("observer may tick: %v", err)
	}
	var ce *actions.ErrConfirmation
	if err := s.ExecuteAction(ctx, alice, run.ID, "wrongdb", ""); !errors.As(err, &ce) {
		t.Errorf("wrong phrase accepted: %v", err)
	}
	// No backup yet: refused, and the refusal is recorded.
	if err := s.ExecuteAction(ctx, alice, run.ID, "appdb", ""); err == nil || !strings.Contains(err.Error(), "backup") {
		t.Errorf("migrate without a backup: %v", err)
	}
	if o := s.State().Action(run.ID).Outcome; o == nil || o.Status != actions.Refused {
		t.Errorf("refusal not recorded: %+v", o)
	}
	// After a verified backup a fresh plan may run.
	b, _ := s.PlanAction(ctx, alice, "resolution-broken-1", "test-backup", nil)
	if err := s.ExecuteAction(ctx, alice, b.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	_ = s.Wait(ctx)
	run2, _ := s.PlanAction(ctx, alice, "resolution-broken-2", "test-migrate", nil)
	if len(run2.Plan.Blocked()) != 0 {
		t.Fatalf("precondition still blocked after backup: %+v", run2.Plan.Preconditions)
	}
	if err := s.ExecuteAction(ctx, alice, run2.ID, " appdb ", ""); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "migrate outcome and recheck", func(st *State) bool {
		a := st.Action(run2.ID)
		return a.Outcome != nil && st.LastResult("test-ok") != nil
	})
	if st.Action(run2.ID).Outcome.Status != actions.Succeeded {
		t.Errorf("migrate outcome %+v", st.Action(run2.ID).Outcome)
	}
	if st.Action(run2.ID).ConfirmedBy.Name != "alice" {
		t.Errorf("confirmation not attributed")
	}
}

func TestOneActionAtATimeAndCancel(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	a1, _ := s.PlanAction(ctx, alice, "", "test-sleep", nil)
	if err := s.ExecuteAction(ctx, alice, a1.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	a2, _ := s.PlanAction(ctx, alice, "", "test-echo", nil)
	carol := Actor{Name: "carol", Via: "ssh", Role: Operator}
	var busy *BusyError
	if err := s.ExecuteAction(ctx, carol, a2.ID, "", ""); !errors.As(err, &busy) || busy.By.Name != "alice" {
		t.Errorf("second action should say alice runs test-sleep: %v", err)
	}
	if err := s.CancelAction(alice, a1.ID); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "cancelled", func(st *State) bool { return st.Action(a1.ID).Outcome != nil })
	if got := st.Action(a1.ID).Outcome.Status; got != actions.Cancelled {
		t.Errorf("outcome %q, want cancelled", got)
	}
	if st.Action(a1.ID).CancelRequested == nil {
		t.Error("cancel request not recorded")
	}
}

func TestOutputIsJournaledInOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	a, _ := s.PlanAction(ctx, alice, "", "test-echo", nil)
	if err := s.ExecuteAction(ctx, alice, a.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "echo done", func(st *State) bool { return st.Action(a.ID).Outcome != nil })
	var got []string
	for _, l := range st.Action(a.ID).Output {
		got = append(got, l.Stream+":"+l.Text)
	}
	joined := strings.Join(got, ",")
	if !strings.Contains(joined, "stdout:hello") || !strings.Contains(joined, "stderr:oops") {
		t.Errorf("output %v", got)
	}
}

func TestSubscribersSeeEveryEventInOrderAndNeverBlock(t *testing.T) {
	s, _ := openTest(t, "")
	fast := s.Subscribe()
	defer fast.Close()
	slow := s.Subscribe() // never read until the end
	defer slow.Close()

	var wg sync.WaitGroup
	var got []int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range fast.C {
			evs, lagged, _ := fast.Next()
			if lagged {
				t.Error("fast subscriber lagged")
			}
			for _, e := range evs {
				got = append(got, e.Seq)
			}
			if len(got) == 200 {
				return
			}
		}
	}()
	for i := 0; i < 200; i++ {
		if err := s.Note(alice, "", "n"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("events out of order at %d: %v", i, got[i-1:i+1])
		}
	}
	evs, _, _ := slow.Next()
	if len(evs) != 200 {
		t.Errorf("slow subscriber got %d events, want 200", len(evs))
	}
}

func TestResumeAfterACrashMidAction(t *testing.T) {
	ctx := context.Background()
	s, dir := openTest(t, "")
	a, _ := s.PlanAction(ctx, alice, "", "test-sleep", nil)
	if err := s.ExecuteAction(ctx, alice, a.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	path := s.JournalPath()
	// Simulate the process dying: copy the journal as it is now, with a
	// half-written event at its end.
	crashed := filepath.Join(dir, "crashed.jsonl")
	data := append(mustRead(t, path), []byte(`{"seq":99,"time":"2026-`)...)
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(HeadPath(crashed), mustRead(t, HeadPath(path)), 0o600); err != nil {
		t.Fatal(err)
	}

	r, rep, err := Resume(crashed, Options{Runbook: testRB(t), Target: s.Target(), Dir: dir, Actor: alice})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	if !rep.Truncated || rep.DroppedBytes == 0 {
		t.Errorf("resume should report the cut line: %+v", rep)
	}
	if len(rep.Unknown) != 1 || rep.Unknown[0].ID != a.ID {
		t.Fatalf("unknown actions %+v", rep.Unknown)
	}
	if !strings.Contains(strings.Join(rep.Lines(), " "), "Outcome unknown: test-sleep") {
		t.Errorf("report lines %v", rep.Lines())
	}
	st := r.State()
	if st.Action(a.ID).Outcome.Status != actions.OutcomeUnknown || st.Items[""].Status == Running {
		t.Errorf("action outcome %+v", st.Action(a.ID).Outcome)
	}
	b, _ := r.PlanAction(ctx, alice, "", "test-echo", nil)
	if err := r.ExecuteAction(ctx, alice, b.ID, "", ""); err == nil || !strings.Contains(err.Error(), "test-ok") {
		t.Errorf("actions must wait for the recheck probe: %v", err)
	}
	if _, err := r.RunProbe(ctx, alice, "", "test-ok", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, "recheck cleared", func(st *State) bool { return len(st.Recheck) == 0 })
	if err := r.ExecuteAction(ctx, alice, b.ID, "", ""); err != nil {
		t.Errorf("after the recheck the action may run: %v", err)
	}
	_ = r.Wait(ctx)
	if v, _ := Verify(bytes.NewReader(mustRead(t, crashed))); !v.OK() {
		t.Errorf("resumed journal does not verify: %v", v.Problems)
	}
}

func TestEscalationRaisedOnceAfterThreshold(t *testing.T) {
	now := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(Options{Runbook: testRB(t), Dir: t.TempDir(), Actor: alice, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if err := s.CheckEscalations(now.Add(59 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(s.State().Escalations) != 0 {
		t.Fatal("raised before the threshold")
	}
	for i := 0; i < 3; i++ {
		if err := s.CheckEscalations(now.Add(61 * time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.State()
	if len(st.Escalations) != 1 || st.Escalations[0].To != "Tech Lead" || !st.Escalations[0].Auto {
		t.Fatalf("escalations %+v", st.Escalations)
	}
	if len(st.Unacknowledged()) != 1 {
		t.Error("should be unacknowledged")
	}
	if err := s.Acknowledge(alice, 0); err != nil {
		t.Fatal(err)
	}
	if len(s.State().Unacknowledged()) != 0 {
		t.Error("acknowledgement not folded")
	}
}

func TestAJournalHasOneWriter(t *testing.T) {
	s, dir := openTest(t, "")
	_, _, err := Resume(s.JournalPath(), Options{Runbook: testRB(t), Dir: dir, Actor: alice})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("a second writer was let in: %v", err)
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	r, _, err := Resume(s.JournalPath(), Options{Runbook: testRB(t), Dir: dir, Actor: alice})
	if err != nil {
		t.Fatalf("after the first writer ended the journal should open: %v", err)
	}
	r.Shutdown()
}

func TestARecheckUpdatesItemsThatRanTheProbe(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	if _, err := s.RunProbe(ctx, alice, "diagnosis-1", "test-ok", nil); err != nil {
		t.Fatal(err)
	}
	_ = s.Wait(ctx)
	first := s.State().Items["diagnosis-1"].LastRun
	run, err := s.RunProbe(ctx, System, "", "test-ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Wait(ctx)
	st := s.State()
	if got := st.Items["diagnosis-1"].LastRun; got != run || got == first {
		t.Errorf("diagnosis-1 still points at %s, want the re-check %s", got, run)
	}
	if st.Items["diagnosis-2"].Status != Todo {
		t.Error("an item that never ran must not change")
	}
}

// Closing keeps the session open for the clients still watching: they see
// who closed it and why. It is refused to an observer, while an action
// runs, and a second time.
func TestCloseIncident(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	bob := Actor{Name: "bob", Via: "ssh", Role: Observer}
	if err := s.CloseIncident(bob, "done"); !errors.Is(err, ErrForbidden) {
		t.Errorf("an observer closed the incident: %v", err)
	}
	a, _ := s.PlanAction(ctx, alice, "", "test-sleep", nil)
	if err := s.ExecuteAction(ctx, alice, a.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseIncident(alice, "done"); err == nil || !strings.Contains(err.Error(), "test-sleep is still running") {
		t.Errorf("closed while test-sleep runs: %v", err)
	}
	if err := s.CancelAction(alice, a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "cancelled", func(st *State) bool { return st.Action(a.ID).Outcome != nil })
	if err := s.CloseIncident(alice, "migration applied, figures agree"); err != nil {
		t.Fatal(err)
	}
	st := s.State()
	if st.Ended == nil || st.Closed == nil || st.Closed.Summary != "migration applied, figures agree" || st.ClosedBy.Name != "alice" {
		t.Errorf("closed state: ended %v, closed %+v by %+v", st.Ended, st.Closed, st.ClosedBy)
	}
	if err := s.CloseIncident(alice, "again"); !errors.Is(err, ErrAlreadyClosed) {
		t.Errorf("closed twice: %v", err)
	}
	if err := s.Note(alice, "", "still journaled"); err != nil {
		t.Errorf("a note after closing: %v", err)
	}
	// Whoever shuts the session down afterwards (steady drill scoring it)
	// closes without a second closing event.
	if err := s.Close(alice, "drill ended"); err != nil {
		t.Fatalf("close a closed incident: %v", err)
	}
	events, _, err := ReadJournal(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	closes := 0
	for _, e := range events {
		if e.Type == TypeClosed {
			closes++
		}
	}
	if closes != 1 {
		t.Errorf("%d closing events, want 1", closes)
	}
}

// A cause confirmed during the incident and fixed since (its probes pass
// now) is resolved, not ruled out: the postmortem must not say the cause
// never was.
func TestAFixedCauseIsResolved(t *testing.T) {
	rb := testRB(t)
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	var events []Event
	add := func(typ, data string) {
		events = append(events, Event{Seq: int64(len(events) + 1), Time: t0.Add(time.Duration(len(events)) * time.Minute), Actor: alice, Type: typ, Data: []byte(data)})
	}
	finished := func(run, probe, status string) {
		add(TypeProbeStarted, fmt.Sprintf(`{"run":%q,"probe":%q,"item":"diagnosis-2"}`, run, probe))
		add(TypeProbeFinished, fmt.Sprintf(`{"run":%q,"result":{"id":%q,"status":%q,"summary":"s","findings":[],"started_at":"2026-01-01T03:00:00Z","duration_ms":1}}`, run, probe, status))
	}
	add(TypeOpened, `{"id":"inc-t","runbook":"test","title":"Test runbook"}`)
	finished("probe-1", "test-ok", "ok")
	if v := Fold(rb, events).Verdicts["fine"]; v != probes.RuledOut {
		t.Errorf("never confirmed and passing: %q, want ruled out", v)
	}
	finished("probe-2", "test-fail", "fail")
	if v := Fold(rb, events).Verdicts["broken"]; v != probes.Confirmed {
		t.Errorf("failing: %q, want confirmed", v)
	}
	// The same probe passes after a fix (its id is the cause's probe).
	finished("probe-3", "test-fail", "ok")
	st := Fold(rb, events)
	if v := st.Verdicts["broken"]; v != probes.Resolved {
		t.Errorf("confirmed, then passing: %q, want resolved", v)
	}
	if v := st.Verdicts["fine"]; v != probes.RuledOut {
		t.Errorf("the other cause: %q, want ruled out", v)
	}
	finished("probe-4", "test-fail", "fail")
	if v := Fold(rb, events).Verdicts["broken"]; v != probes.Confirmed {
		t.Errorf("failing again: %q, want confirmed", v)
	}
}

// The resume report names the process group of the last command an
// unfinished action started: it may have outlived steady.
func TestResumeNamesTheCommandThatMayStillRun(t *testing.T) {
	a := &ActionRun{Action: "run-tests", Started: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC), Output: []OutputLine{
		{Stream: "steady", Text: "$ sleep 60"},
		{Stream: "steady", Text: target.StartedLine(4242)},
		{Stream: "stdout", Text: "started as process group 1 on elsewhere"},
	}}
	got := strings.Join(ResumeReport{Unknown: []*ActionRun{a}}.Lines(), "\n")
	if !strings.Contains(got, "Outcome unknown: run-tests") || !strings.Contains(got, "process group 4242 on ") || !strings.Contains(got, "kill -INT -4242") {
		t.Errorf("report lines:\n%s", got)
	}
	a.Output = a.Output[:1]
	if got := strings.Join(ResumeReport{Unknown: []*ActionRun{a}}.Lines(), "\n"); strings.Contains(got, "process group") {
		t.Errorf("no command started, yet:\n%s", got)
	}
}

// The output of a command that prints a line and then goes quiet reaches
// the journal without waiting for another line or the end: after a crash
// it is there to read.
func TestQuietOutputIsJournaled(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	a, err := s.PlanAction(ctx, alice, "", "test-quiet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ExecuteAction(ctx, alice, a.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.CancelAction(alice, a.ID) }()
	poll.Until(t, 10*time.Second, "the quiet command's first line to reach the journal", func() bool {
		events, _, err := ReadJournal(s.JournalPath())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Type == TypeActionOutput && strings.Contains(string(e.Data), "working") {
				return true
			}
		}
		return false
	}, nil)
}

func TestNarrationGivenTogetherIsFewEvents(t *testing.T) {
	s, _ := openTest(t, "")
	o := newOutput(s, "action-x")
	texts := make([]string, 2500)
	for i := range texts {
		texts[i] = fmt.Sprintf("enqueued task %d", i)
	}
	o.Lines(actions.StreamSteady, texts)
	events, _, err := ReadJournal(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	var batches, next int
	for _, e := range events {
		if e.Type != TypeActionOutput {
			continue
		}
		batches++
		var out ActionOutput
		if err := json.Unmarshal(e.Data, &out); err != nil {
			t.Fatal(err)
		}
		for _, l := range out.Lines {
			if want := fmt.Sprintf("enqueued task %d", next); l.Text != want {
				t.Fatalf("line %d is %q, want %q", next, l.Text, want)
			}
			next++
		}
	}
	if next != len(texts) || batches != 3 {
		t.Errorf("%d lines in %d events, want %d lines in 3 (at most %d an event)", next, batches, len(texts), outputMaxBatch)
	}
}
