package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// Fixed stand-ins for probes and actions: the report's job is layout, and
// these keep every figure and time in the golden file stable.

type fixedProbe struct {
	id     string
	status probes.Status
}

func (p fixedProbe) ID() string             { return p.id }
func (p fixedProbe) Title() string          { return p.id }
func (p fixedProbe) Params() []probes.Param { return nil }
func (p fixedProbe) Run(context.Context, *target.Target, probes.Params) probes.Result {
	r := probes.Result{Status: p.status, Summary: p.id + " looked", Duration: 12 * time.Millisecond,
		Evidence: probes.Table{Columns: []string{"app", "migration"}, Rows: [][]string{{"config", "0003_shift_constraints"}}}}
	if p.status == probes.Fail {
		r.Summary = "1 unapplied migration: config.0003_shift_constraints"
		r.Findings = []probes.Finding{{Status: probes.Fail, Code: "migration.unapplied", Message: "config.0003_shift_constraints is not applied"}}
	}
	return r
}

type fixedAction struct {
	id          string
	destructive bool
	lines       int
	artefacts   map[string]string
}

func (a fixedAction) ID() string             { return a.id }
func (a fixedAction) Title() string          { return "Fixed " + a.id }
func (a fixedAction) Params() []probes.Param { return nil }
func (a fixedAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	plan := &actions.Plan{Title: a.Title(), Summary: "does " + a.id, Risk: actions.Low,
		Steps: []actions.Step{{Kind: actions.StepCommand, Text: "python manage.py " + a.id}}}
	if a.destructive {
		plan.Risk, plan.Destructive, plan.ConfirmPhrase = actions.High, true, "appdb"
		ok := len(env.History.VerifiedBackups("appdb")) > 0
		plan.Preconditions = []actions.Precondition{{Name: "verified backup", Holds: ok, Detail: "a verified backup of appdb from this incident", Overridable: true}}
	}
	return plan, nil
}
func (a fixedAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	for i := 1; i <= a.lines; i++ {
		out.Line("stdout", "line "+strings.Repeat("x", i%3)+string(rune('0'+i%10)))
	}
	return actions.Outcome{Status: actions.Succeeded, Summary: "exit 0", Duration: 1500 * time.Millisecond, Artefacts: a.artefacts}
}

func init() {
	probes.Register(fixedProbe{id: "report-ok", status: probes.OK})
	probes.Register(fixedProbe{id: "report-fail", status: probes.Fail})
	actions.Register(fixedAction{id: "report-backup", artefacts: map[string]string{"kind": "backup", "verified": "true", "database": "appdb", "path": "backups/appdb.dump", "sha256": "5e2b", "size": "4096"}})
	actions.Register(fixedAction{id: "report-migrate", destructive: true, lines: 55})
}

const testRunbook = `---
id: report-test
title: Report test
severity: high
estimated_ttr: 2h
escalation:
  rules:
    - after: 4h
      to: Tech Lead
      when: still unresolved
    - immediately: true
      to: Senior Developer
      when: data loss is possible
---
# Report test

## Symptoms

- Shift counts do not add up
- Leave balances are wrong

## Diagnosis Steps

1. Check migrations

   ` + "```steady\n   probe: report-fail\n   ```" + `

2. Check the cache

   ` + "```steady\n   probe: report-ok\n   ```" + `

3. Ask the user what they saw

## Root Causes

| Id | Cause | Likelihood | How to confirm | Probes |
| --- | --- | --- | --- | --- |
| migration | Incomplete migration | High | Check migrations | report-fail |
| cache | Cache issue | Low | Check the cache | report-ok |

## Resolution Steps

### For incomplete migration {#migration}

1. Back up

   ` + "```steady\n   action: report-backup\n   ```" + `

2. Migrate

   ` + "```steady\n   action: report-migrate\n   ```" + `

## Verification

- [ ] Inconsistent data corrected
- [ ] Audit logs show expected behaviour

## Prevention

- Add database constraints for critical data
`

// incident plays a whole incident with a pinned clock and returns the
// runbook and the journal's path.
func incident(t *testing.T) (*runbook.Runbook, string) {
	t.Helper()
	rb, ps := runbook.Lint("report-test.md", []byte(testRunbook), runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	var mu sync.Mutex
	now := time.Date(2026, 3, 14, 3, 2, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(30 * time.Second)
		return now
	}
	cfg := config.Default()
	cfg.DB = "postgres://app:hunter2secret@db:5432/appdb"
	alice := session.Actor{Name: "alice", Via: "local", Role: session.Operator}
	bob := session.Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:Zm9vYmFyYmF6cXV4cXV1eA", Role: session.Observer}
	s, err := session.Open(session.Options{Runbook: rb, Target: target.New(&cfg), Dir: t.TempDir(), Actor: alice, Now: clock, ID: "inc-20260314-030230-7f3a", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(s.Join(bob))
	step(s.Tick(alice, "symptoms-1", true))
	step(s.Note(bob, "symptoms-1", "reported by ward 7 at 02:40"))
	_, err = s.RunProbe(ctx, alice, "diagnosis-1", "report-fail", nil)
	step(err)
	step(s.Wait(ctx))
	_, err = s.RunProbe(ctx, alice, "diagnosis-2", "report-ok", nil)
	step(err)
	step(s.Wait(ctx))
	step(s.Skip(alice, "diagnosis-3", "the reporter is off shift"))
	b, err := s.PlanAction(ctx, alice, "resolution-migration-1", "report-backup", nil)
	step(err)
	step(s.ExecuteAction(ctx, alice, b.ID, "", ""))
	step(s.Wait(ctx))
	m, err := s.PlanAction(ctx, alice, "resolution-migration-2", "report-migrate", nil)
	step(err)
	step(s.ExecuteAction(ctx, alice, m.ID, "appdb", ""))
	step(s.Wait(ctx))
	step(s.Declare(alice, 1))
	step(s.Acknowledge(alice, 1))
	step(s.Tick(bob, "verification-1", true))
	step(s.Close(alice, "config.0003 applied after a verified backup"))
	return rb, s.JournalPath()
}

func build(t *testing.T) (*Report, []byte) {
	t.Helper()
	rb, path := incident(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := session.Verify(bytes.NewReader(data))
	if err != nil || !v.OK() {
		t.Fatalf("journal does not verify: %v %v", v.Problems, err)
	}
	n := v.Events
	events, _, err := session.ReadEvents(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return Build(rb, events, Integrity{Events: n, Verified: true}, "incidents/inc-20260314-030230-7f3a.jsonl"), data
}

func TestMarkdownReport(t *testing.T) {
	r, journal := build(t)
	md := r.Markdown()
	golden.RequireEqual(t, []byte(md))
	if strings.Contains(md, "hunter2secret") || bytes.Contains(journal, []byte("hunter2secret")) {
		t.Fatal("the database password reached the journal or the report")
	}
}

func TestJSONReportSchema(t *testing.T) {
	r, _ := build(t)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "incident", "integrity", "symptoms", "diagnosis", "causes", "actions", "verification", "follow_ups", "escalations", "notes", "open", "timeline"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("JSON report lacks %q", key)
		}
	}
	if doc["schema"] != Schema {
		t.Errorf("schema %v", doc["schema"])
	}
	if len(r.Actions) != 2 || r.Actions[1].ConfirmedBy != "alice" || r.Actions[1].OutputLines != 55 || len(r.Actions[1].Output) != OutputTail {
		t.Errorf("actions %+v", r.Actions)
	}
	if got := r.Causes[0].Verdict; got != probes.Confirmed {
		t.Errorf("migration verdict %s", got)
	}
	wantOpen := "verification not ticked: Audit logs show expected behaviour"
	if len(r.Open) == 0 || !strings.Contains(strings.Join(r.Open, "\n"), wantOpen) {
		t.Errorf("open items %v", r.Open)
	}
	if !r.Incident.Closed || r.Incident.DurationS <= 0 || r.Incident.EstimatedS != 7200 {
		t.Errorf("header %+v", r.Incident)
	}
}

// A journal that does not verify is said at the top: the count in the
// header, each problem listed in a section of its own (never crammed into
// one cell), and the rest counted. The head is given to quote.
func TestMarkdownSaysWhenTheJournalDoesNotVerify(t *testing.T) {
	r, _ := build(t)
	r.Integrity = Integrity{Events: 57, Head: "57:9f86d081884c7d65", Problems: []string{
		"line 12: event 12 missing: this line holds event 13 where event 12 was expected (lines were removed)",
		"line 30: altered: its content does not match its hash",
	}, More: 3}
	md := r.Markdown()
	for _, want := range []string{
		"| Journal | `incidents/inc-20260314-030230-7f3a.jsonl` — **NOT VERIFIED**: 5 problems, see Journal integrity below |",
		"| Journal head | `57:9f86d081884c7d65`",
		"## Journal integrity",
		"- line 12: event 12 missing",
		"- line 30: altered",
		"- and 3 more (`steady report verify incidents/inc-20260314-030230-7f3a.jsonl` lists them)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if i, j := strings.Index(md, "## Journal integrity"), strings.Index(md, "## Symptoms"); i < 0 || i > j {
		t.Error("the integrity section must come before the incident's content")
	}
}

// Text that came from a server (a probe's summary, findings and evidence,
// a command's output) or from a person over SSH (a note) reaches the report
// with its escape sequences visible, never as bytes a viewer would obey;
// even a journal written before steady made them visible as it recorded.
func TestTheReportShowsEscapesInsteadOfCarryingThem(t *testing.T) {
	rb, path := incident(t)
	events, _, err := session.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	evil := "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u009b0m"
	raw := func(typ string, data any) session.Event {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		last := events[len(events)-1]
		return session.Event{Seq: last.Seq + 1, Time: last.Time, Actor: session.System, Type: typ, Data: b}
	}
	var migrate string
	for _, e := range events {
		var d session.ActionPlanned
		if e.Type == session.TypeActionPlanned && e.Decode(&d) == nil && d.Action == "report-migrate" {
			migrate = d.Run
		}
	}
	events = append(events[:len(events)-2],
		raw(session.TypeProbeStarted, session.ProbeStarted{Run: "probe-9", Probe: "report-fail", Item: "diagnosis-1"}),
		raw(session.TypeProbeFinished, session.ProbeFinished{Run: "probe-9", Result: probes.Result{Probe: "report-fail", Status: probes.Fail,
			Summary: "query " + evil, Findings: []probes.Finding{{Status: probes.Fail, Code: "x", Message: "finding " + evil}},
			Evidence: probes.Table{Columns: []string{"query"}, Rows: [][]string{{evil}}}}}),
		raw(session.TypeNoted, session.Noted{Text: "note " + evil}),
		raw(session.TypeActionOutput, session.ActionOutput{Run: migrate, Lines: []session.OutputLine{{Stream: "stdout", Text: "output " + evil}}}),
	)
	md := Build(rb, events, Integrity{Events: len(events), Verified: true}, path).Markdown()
	if strings.ContainsAny(md, "\x1b\x07\u009b") {
		t.Errorf("the report carries a raw escape sequence")
	}
	for _, want := range []string{"query \\e]0;pwned\\a\\e[2J\\e[31mred\\u009b0m", "finding \\e]0;", "note \\e]0;", "output \\e]0;"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// A journal that ends while an action runs (steady died, and nobody has
// resumed the incident yet): the report says the action was running and
// its outcome is unknown, never that it did not run.
func TestAnActionRunningWhenTheJournalEndsIsNotCalledNotRun(t *testing.T) {
	rb, path := incident(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := session.ReadEvents(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var kept []session.Event
	run := ""
	for _, e := range events {
		if e.Type == session.TypeActionFinished && run == "" {
			var d session.ActionFinished
			if err := e.Decode(&d); err != nil {
				t.Fatal(err)
			}
			run = d.Run
			continue
		}
		kept = append(kept, e)
	}
	if run == "" {
		t.Fatal("the incident finished no action")
	}
	r := Build(rb, kept, Integrity{Events: len(kept), Verified: true}, "incidents/crashed.jsonl")
	md := r.Markdown()
	if !strings.Contains(md, "— running when the journal ends, outcome unknown") {
		t.Errorf("the report does not say %s was running:\n%s", run, md)
	}
	if !strings.Contains(strings.Join(r.Open, "\n"), "("+run+") was running when the journal ends") {
		t.Errorf("open items %q do not name %s", r.Open, run)
	}
}

// The timeline says with what a probe ran, written as the runbook writes
// it, and for which action when an action consulted it.
func TestTheTimelineSaysWhatAProbeRanWithAndForWhom(t *testing.T) {
	rb, _ := incident(t)
	for _, tt := range []struct {
		started session.ProbeStarted
		want    string
	}{
		{session.ProbeStarted{Run: "probe-8", Probe: "report-ok"}, "ran probe report-ok"},
		{session.ProbeStarted{Run: "probe-8", Probe: "report-ok", Params: map[string]string{"window": "1s", "since": "7d"}},
			"ran probe report-ok (since 7d, window 1s)"},
		{session.ProbeStarted{Run: "probe-8", Probe: "report-ok", Action: "action-2"}, "ran probe report-ok for action-2"},
	} {
		b, err := json.Marshal(tt.started)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(rb, session.Event{Seq: 1, Type: session.TypeProbeStarted, Data: b}); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.started, got, tt.want)
		}
	}
}
