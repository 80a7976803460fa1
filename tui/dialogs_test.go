package tui

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/session"
	"steady/probes"
)

// A parameterised probe opens a form that checks each value as it is
// entered: a whole number, ISO dates, and a range that is not reversed.
func TestParamsForm(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.down(3) // diagnosis-2, which asks for a clinician and a period
	h.press("r")
	h.waitText("Run tui-test-counts", "┃ clinician (int)")
	h.typeText("seven")
	h.press("enter")
	h.waitText(`"seven" is not a whole number`)
	for range "seven" {
		h.press("backspace")
	}
	h.typeText("7")
	h.press("enter")
	h.waitText("┃ from (date)")
	h.typeText("2024-02-01")
	h.press("enter")
	h.waitText("┃ to (date)")
	h.typeText("2024-01-01")
	h.press("enter")
	h.waitText("the range is reversed")
	h.golden()
}

func TestParamsFormRunsTheProbe(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.down(3)
	h.press("r")
	h.waitText("┃ clinician (int)")
	h.typeText("7")
	h.press("enter")
	h.waitText("┃ from (date)")
	h.typeText("2024-02-01")
	h.press("enter")
	h.waitText("┃ to (date)")
	h.typeText("2024-02-29")
	h.press("enter")
	h.waitText("> [FAIL] Compare one", "clinician 7: source 20 shifts")
	st := s.State()
	p := st.Probes[len(st.Probes)-1]
	want := map[string]string{"clinician": "7", "from": "2024-02-01", "to": "2024-02-29"}
	for k, v := range want {
		if p.Params[k] != v {
			t.Errorf("param %s = %q, want %q (all: %v)", k, p.Params[k], v, p.Params)
		}
	}
	if p.By.Name != "alice" || p.Item != "diagnosis-2" {
		t.Errorf("probe run by %s for %s, want alice for diagnosis-2", p.By.Name, p.Item)
	}
}

// runSlow plans and starts the recalculation, which runs until cancelled.
func runSlow(h *harness) {
	h.t.Helper()
	h.waitText("Checklist")
	h.press("/")
	h.typeText("recalc")
	h.press("enter")
	h.waitText(">  [ ]    Recalculate")
	h.press("enter")
	h.waitText("Plan: Recalculate 3 clinicians")
	h.press("enter")
	h.waitText("Run tui-test-slow now?")
	h.press("y")
	h.waitText("enqueued 3 tasks", "1/3 tasks")
}

// ctrl+c while an action runs cancels the action, after asking, and never
// the program.
func TestCtrlCCancelsTheRunningAction(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	runSlow(h)
	h.press("ctrl+c")
	h.waitText("Cancel tui-test-slow?", "Keep it running")
	h.press("ctrl+c") // a second ctrl+c does not confirm the cancel
	h.waitText("Press y to cancel tui-test-slow")
	h.press("y")
	h.waitText("tui-test-slow ended: CANCELLED")
	st := h.waitState("the cancel recorded", func(st *session.State) bool {
		a := st.Actions[len(st.Actions)-1]
		return a.Outcome != nil
	})
	a := st.Actions[len(st.Actions)-1]
	if a.Outcome.Status != actions.Cancelled || a.CancelRequested == nil || a.CancelRequested.Name != "alice" {
		t.Errorf("slow action = %+v (cancel by %v), want cancelled by alice", a.Outcome, a.CancelRequested)
	}
}

func TestQuitAsksWhileAnActionRuns(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	runSlow(h)
	h.press("q")
	h.waitText("Quit steady?", "tui-test-slow is running. Quitting stops")
	h.press("n")
	h.waitGone("Quit steady?")
	h.waitText("enqueued 3 tasks")
}

func TestCtrlCAsksOnceThenQuits(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("ctrl+c")
	h.waitText("Quit steady?")
	h.press("ctrl+c")
	h.tm.WaitFinished(t)
	h.done = true
}

func TestSkipNeedsAReasonAndNotesAreShown(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.press("down", "s")
	h.waitText("Why skip it?")
	h.press("enter")
	h.waitText("the reason cannot be empty")
	h.typeText("no leave data in this incident")
	h.press("enter")
	h.waitText("> [skip] Leave balances", "skipped by alice at 03:00:00")
	h.press("n")
	h.waitText("Add a note")
	h.typeText("paged the DBA")
	h.press("enter")
	h.waitText("03:00:00 alice: paged the DBA")
	if st := s.State(); st.Items["symptoms-2"].SkipReason != "no leave data in this incident" {
		t.Errorf("skip reason = %q", st.Items["symptoms-2"].SkipReason)
	}
}

func TestEscalationBanner(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Checklist")
	h.press("e")
	h.waitText("Escalate now to Senior Developer?")
	h.press("y")
	h.waitText("ESCALATE NOW to Senior Developer", "contact:", "#clinic-oncall")
	h.golden()
}

func TestEscalationIsAcknowledged(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.press("e")
	h.waitText("Escalate now to Senior Developer?")
	h.press("y")
	h.waitText("ESCALATE NOW to Senior Developer")
	h.press("a")
	h.waitGone("ESCALATE NOW")
	h.waitText("Acknowledged the escalation to Senior Developer.")
	st := s.State()
	if len(st.Escalations) != 1 || st.Escalations[0].AckedBy == nil || st.Escalations[0].AckedBy.Name != "alice" {
		t.Errorf("escalations = %+v, want one acknowledged by alice", st.Escalations)
	}
}

// A journal that refuses an event (a full disk) is the most urgent banner
// on every screen: from then on the record is incomplete.
func TestJournalRefusalBanner(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	fi, err := os.Stat(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()) + 100, Max: old.Max}); err != nil {
		t.Skipf("cannot limit the file size here: %v", err)
	}
	defer func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) }()
	if err := s.Note(alice, "", "a note the full disk refuses, long enough not to fit in what is left"); err == nil {
		t.Fatal("the note was recorded on a full disk")
	}
	h.waitText("JOURNAL NOT WRITTEN: 1 event(s) since", "file too large")
}

// Past the runbook's four hours the clock raises the escalation itself,
// with the contact from the runbook.
func TestEscalationClockCrossed(t *testing.T) {
	s := openSession(t)
	o := testOptions(s)
	o.Now = func() time.Time { return opened.Add(4*time.Hour + time.Minute) }
	h := start(t, o, 80, 24)
	h.waitText("ESCALATE NOW to Tech Lead", "threshold crossed", "ESCALATE: Tech Lead (over 4:00:00)")
}

// A resumed incident shows the resume report before anything else, and
// the re-check banner until the probe has run again.
func TestResumeReport(t *testing.T) {
	s := openSession(t)
	o := testOptions(s)
	h := start(t, o, 80, 24)
	runSlow(h)
	// Copy the journal while the action runs: as if steady had died here.
	crashed := filepath.Join(t.TempDir(), "crashed.jsonl")
	data, err := os.ReadFile(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(session.HeadPath(s.JournalPath()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(session.HeadPath(crashed), head, 0o600); err != nil {
		t.Fatal(err)
	}
	h.finish()

	rs, rep, err := session.Resume(crashed, session.Options{Runbook: testRunbook(t), Actor: alice, Now: func() time.Time { return opened }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Shutdown() })
	o = testOptions(rs)
	o.Resume = &rep
	h2 := start(t, o, 80, 24)
	h2.waitText("Resumed incident", "Outcome unknown: tui-test-slow", "Press enter to continue.")
	h2.golden()
}

// A server's text reaches the screen with its escape sequences visible:
// the colour codes, screen clears and title changes of a query text are
// shown, never obeyed, even from a journal recorded before steady made
// them visible as it recorded.
func TestAServersEscapesAreShownNotObeyed(t *testing.T) {
	s := openSession(t)
	if _, err := s.Append(alice, session.TypeProbeStarted, session.ProbeStarted{Run: "probe-1", Probe: "tui-test-connect", Item: "diagnosis-1"}); err != nil {
		t.Fatal(err)
	}
	res := probes.Result{Probe: "tui-test-connect", Status: probes.Fail, Started: opened,
		Summary: "query \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b[2J"}
	if _, err := s.Append(session.System, session.TypeProbeFinished, session.ProbeFinished{Run: "probe-1", Result: res}); err != nil {
		t.Fatal(err)
	}
	h := start(t, testOptions(s), 100, 30)
	h.waitText("Checklist")
	h.down(2)
	h.waitText(`query \e[31mred\e[0m \e]0;pwned\a \e[2J`)
}
