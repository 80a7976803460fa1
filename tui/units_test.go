package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"steady/actions"
	"steady/internal/session"
	"steady/runbook"
)

func TestFilterRows(t *testing.T) {
	rows := buildRows(testRunbook(t))
	states := map[string]session.ItemState{"diagnosis-3": {Status: session.Failed}}
	shown := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			r := rows[i]
			switch r.kind {
			case rowSection:
				out = append(out, "§"+r.section.Title)
			case rowPath:
				out = append(out, "¶"+r.path.Cause)
			case rowCause:
				out = append(out, "cause:"+r.cause.ID)
			default:
				out = append(out, r.item.ID)
			}
		}
		return out
	}
	tests := []struct {
		query string
		want  string
	}{
		{"", ""}, // everything: checked by length below
		{"backup", "§Resolution Steps ¶incomplete-migration resolution-incomplete-migration-1"},
		{"MIGRATION", "§Diagnosis Steps diagnosis-3 §Root Causes cause:incomplete-migration §Resolution Steps ¶incomplete-migration resolution-incomplete-migration-1 resolution-incomplete-migration-2 resolution-incomplete-migration-3"},
		{"fail", "§Diagnosis Steps diagnosis-3"},
		{"tui-test-migrate", "§Resolution Steps ¶incomplete-migration resolution-incomplete-migration-2"},
		{"verify unapplied", "§Resolution Steps ¶incomplete-migration resolution-incomplete-migration-3"},
		{"nothing like this", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := filterRows(rows, tt.query, states)
			if tt.query == "" {
				if len(got) != len(rows) {
					t.Errorf("empty filter kept %d of %d rows", len(got), len(rows))
				}
				return
			}
			if g := strings.Join(shown(got), " "); g != tt.want {
				t.Errorf("filter %q shows\n %s\nwant\n %s", tt.query, g, tt.want)
			}
		})
	}
}

// A plan whose precondition cannot be overridden cannot start, and the
// screen says why; enter plans it again rather than asking to confirm.
func TestHardBlockedPlanCannotStart(t *testing.T) {
	s := openSession(t)
	m := New(testOptions(s)).(*Model)
	run := &session.ActionRun{ID: "action-1", Action: "tui-test-migrate", Item: "resolution-incomplete-migration-2",
		PlannedBy: alice, PlannedAt: opened,
		Plan: actions.Plan{Title: "Apply 2 migrations", Risk: actions.High, Destructive: true, ConfirmPhrase: "appdb",
			Steps:         []actions.Step{{Kind: actions.StepCommand, Text: "manage.py migrate"}},
			Preconditions: []actions.Precondition{{Name: "lock", Holds: false, Detail: "another migrate holds the advisory lock"}}}}
	text := ansi.Strip(planView(m.c, run, 60, true))
	for _, want := range []string{"✗ lock: another migrate holds the advisory lock", "Cannot start: lock must hold first"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan view lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Press enter to confirm") {
		t.Errorf("a blocked plan offers to confirm:\n%s", text)
	}

	m.c.st.Actions = append(m.c.st.Actions, run)
	it := m.c.rb.Item(run.Item)
	if cmd := m.enter(it); cmd == nil || m.dialog != nil || !m.planning[it.ID] {
		t.Errorf("enter on a blocked plan: dialog %v, planning %v; want a new plan", m.dialog != nil, m.planning[it.ID])
	}
}

func TestEscalationClock(t *testing.T) {
	s := openSession(t)
	m := New(testOptions(s)).(*Model)
	st := m.c.styles
	tests := []struct {
		elapsed time.Duration
		want    string
		style   string
	}{
		{12 * time.Minute, "escalate to Tech Lead in 3:48:00", "calm"},
		{3*time.Hour + 10*time.Minute, "SOON: escalate to Tech Lead in 0:50:00", "near"},
		{3*time.Hour + 45*time.Minute, "SOON: escalate to Tech Lead in 0:15:00", "near"},
		{4*time.Hour + time.Second, "ESCALATE: Tech Lead (over 4:00:00)", "crossed"},
	}
	styles := map[string]string{"calm": st.ClockCalm.Render("x"), "near": st.ClockNear.Render("x"), "crossed": st.ClockCrossed.Render("x")}
	for _, tt := range tests {
		text, style := escalationClock(m.c, tt.elapsed)
		if text != tt.want || style.Render("x") != styles[tt.style] {
			t.Errorf("at %s: %q (%q), want %q (%s)", tt.elapsed, text, style.Render("x"), tt.want, tt.style)
		}
	}
}

func TestFmtClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00:00", 63 * time.Second: "0:01:03", 4*time.Hour + 5*time.Minute: "4:05:00", -time.Second: "0:00:00", 1500 * time.Millisecond: "0:00:01"} {
		if got := fmtClock(d); got != want {
			t.Errorf("fmtClock(%s) = %q, want %q", d, got, want)
		}
	}
}

// The keys an observer may not use are neither offered nor honoured.
func TestObserverKeys(t *testing.T) {
	k := DefaultKeyMap(session.Observer)
	for name, b := range map[string]bool{"run": k.Run.Enabled(), "run all": k.RunAll.Enabled(), "skip": k.Skip.Enabled(), "close": k.Close.Enabled()} {
		if b {
			t.Errorf("%s is enabled for an observer", name)
		}
	}
	if !k.Tick.Enabled() || !k.Note.Enabled() {
		t.Error("an observer should tick and take notes")
	}
	if op := DefaultKeyMap(session.Operator); !op.Run.Enabled() || !op.RunAll.Enabled() {
		t.Error("an operator must be able to run probes")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// The detail pane's title carries an action's progress only when the
// action reports it, and says where more text is in arrows: a percentage
// beside an action's name would read as its progress.
func TestDetailTitle(t *testing.T) {
	s := openSession(t)
	m := New(testOptions(s)).(*Model)
	it := m.c.rb.Item("resolution-race-condition-2")
	plan := actions.Plan{Title: "Recalculate", Risk: actions.Medium,
		Steps: []actions.Step{{Kind: actions.StepTask, Text: "recalculate_clinician(7)"}}}
	running := &session.ActionRun{ID: "action-1", Action: "tui-test-slow", Item: it.ID, Plan: plan,
		PlannedBy: alice, PlannedAt: opened, Started: opened}
	withProgress := *running
	withProgress.Progress = &session.ActionProgress{Done: 1, Total: 3, Label: "tasks"}
	finished := withProgress
	finished.Outcome = &actions.Outcome{Status: actions.Succeeded}
	tests := []struct {
		name   string
		run    *session.ActionRun
		height int
		want   string
	}{
		{"planned, nothing to report", &session.ActionRun{ID: "action-1", Action: "tui-test-slow", Item: it.ID, Plan: plan, PlannedBy: alice, PlannedAt: opened}, 40,
			"Recalculate the figures of the affected clinicians"},
		{"running without progress", running, 40, "Recalculate the figures of the affected clinicians"},
		{"running with progress", &withProgress, 40, "Recalculate the figures of the affected cli… · 1/3 tasks"},
		{"progress is not shown once it ended", &finished, 40, "Recalculate the figures of the affected clinicians"},
		{"more text below", running, 8, "Recalculate the figures of the affected clinic… · more ↓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.c.st = s.State()
			m.c.st.Actions = []*session.ActionRun{tt.run}
			d := newDetail(m.c)
			d.setSize(60, tt.height)
			d.show(it, nil)
			title := strings.TrimSpace(ansi.Strip(strings.SplitN(d.View(false), "\n", 2)[0]))
			if title != tt.want {
				t.Errorf("title %q, want %q", title, tt.want)
			}
			if strings.Contains(title, "%") {
				t.Errorf("title %q has a percentage", title)
			}
		})
	}
}

// The section counts and the close dialog count an item as finished only
// when it needs no more work: a failed probe answered its question, a
// failed action fixed nothing, an unknown outcome must be checked.
func TestFinished(t *testing.T) {
	probe := &runbook.Item{Binding: &runbook.Binding{Probe: "migrations"}}
	action := &runbook.Item{Binding: &runbook.Binding{Action: "migrate"}}
	manual := &runbook.Item{}
	tests := []struct {
		it   *runbook.Item
		st   session.ItemState
		want bool
	}{
		{probe, session.ItemState{Status: session.Failed}, true},
		{probe, session.ItemState{Status: session.Errored}, false},
		{probe, session.ItemState{Status: session.ItemOK}, true},
		{action, session.ItemState{Status: session.Failed}, false},
		{action, session.ItemState{Status: session.Unknown}, false},
		{action, session.ItemState{Status: session.Running}, false},
		{action, session.ItemState{Status: session.Done}, true},
		{action, session.ItemState{Status: session.Failed, Checked: true}, true},
		{manual, session.ItemState{Status: session.ItemSkipped}, true},
		{manual, session.ItemState{Status: session.Todo}, false},
	}
	for _, tt := range tests {
		if got := finished(tt.it, tt.st); got != tt.want {
			t.Errorf("finished(%+v, %+v) = %v, want %v", tt.it.Binding, tt.st, got, tt.want)
		}
	}
}
