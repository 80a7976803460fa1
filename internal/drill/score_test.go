package drill

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// defaultRunbook is the embedded runbook every drill plays.
func defaultRunbook(t *testing.T) *runbook.Runbook {
	t.Helper()
	k := runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()}
	rb, err := runbook.Load("", "", k)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// story writes a drill's journal by hand: what happened, minutes into the
// incident.
type story struct {
	t      *testing.T
	t0     time.Time
	events []session.Event
	probes int
	acts   int
}

func newStory(t *testing.T, sc Scenario) *story {
	s := &story{t: t, t0: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)}
	s.add(0, session.TypeOpened, session.Opened{ID: "inc-test", Runbook: "data-inconsistency", TTR: 2 * time.Hour,
		Drill: &session.Drill{Scenario: sc.Name, Seed: 7, Causes: sc.Causes}})
	return s
}

func (s *story) add(at time.Duration, typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		s.t.Fatal(err)
	}
	s.events = append(s.events, session.Event{Seq: int64(len(s.events) + 1), Time: s.t0.Add(at), Type: typ, Data: raw,
		Actor: session.Actor{Name: "trainee", Via: "local", Role: session.Operator}})
}

// probe records a probe whose result came in at the given minute.
func (s *story) probe(at time.Duration, id string, status probes.Status) *story {
	s.probes++
	run := fmt.Sprintf("probe-%d", s.probes)
	s.add(at, session.TypeProbeStarted, session.ProbeStarted{Run: run, Probe: id})
	s.add(at, session.TypeProbeFinished, session.ProbeFinished{Run: run, Result: probes.Result{Probe: id, Status: status, Started: s.t0.Add(at)}})
	return s
}

// action records an action planned, confirmed and run at the given
// minute, taking a minute.
func (s *story) action(at time.Duration, id string, plan actions.Plan, outcome actions.Outcome, override string) *story {
	s.acts++
	run := fmt.Sprintf("action-%d", s.acts)
	plan.Action = id
	s.add(at, session.TypeActionPlanned, session.ActionPlanned{Run: run, Action: id, Plan: plan})
	s.add(at, session.TypeActionConfirmed, session.ActionConfirmed{Run: run, Override: override})
	s.add(at, session.TypeActionStarted, session.ActionStarted{Run: run})
	s.add(at+time.Minute, session.TypeActionFinished, session.ActionFinished{Run: run, Outcome: outcome})
	return s
}

func (s *story) backup(at time.Duration) *story {
	return s.action(at, "backup", actions.Plan{}, actions.Outcome{Status: actions.Succeeded, Artefacts: map[string]string{
		actions.ArtefactKind: "backup", actions.ArtefactVerified: "true", actions.ArtefactDatabase: "clinic", actions.ArtefactPath: "/b/clinic.dump"}}, "")
}

func (s *story) run(at time.Duration, id string, destructive bool, facts map[string]string) *story {
	return s.action(at, id, actions.Plan{Destructive: destructive, Facts: facts}, actions.Outcome{Status: actions.Succeeded}, "")
}

func (s *story) tickVerification(at time.Duration, rb *runbook.Runbook) *story {
	for _, it := range rb.Items() {
		if it.Section == runbook.Verification {
			s.add(at, session.TypeTicked, session.Ticked{Item: it.ID, Checked: true})
		}
	}
	return s
}

func (s *story) state(rb *runbook.Runbook) *session.State { return session.Fold(rb, s.events) }

func scenario(t *testing.T, name string) Scenario {
	t.Helper()
	sc, err := Resolve(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestScore(t *testing.T) {
	rb := defaultRunbook(t)
	minute := time.Minute
	flushdb := map[string]string{"mode": "flushdb"}
	tests := []struct {
		name     string
		scenario string
		story    func(s *story) *story
		score    int
		check    func(t *testing.T, d Debrief)
	}{
		{"stale cache done well", "stale-cache", func(s *story) *story {
			return s.probe(2*minute, "cache", probes.Fail).probe(2*minute, "migrations", probes.OK).
				run(4*minute, "flush-cache", true, flushdb).run(6*minute, "restart", true, nil).run(8*minute, "recalculate", false, nil).
				probe(10*minute, "cache", probes.OK).tickVerification(12*minute, rb)
		}, 100, func(t *testing.T, d Debrief) {
			if !d.Followed || d.TimeToFirstCause != 2*minute || len(d.Resolved) != 1 || d.VerificationDone != d.VerificationTotal {
				t.Errorf("debrief %+v", d)
			}
			if d.Total != 12*minute {
				t.Errorf("total %s, want 12m (the last tick)", d.Total)
			}
		}},
		{"backup before migrate", "incomplete-migration", func(s *story) *story {
			return s.probe(minute, "migrations", probes.Fail).backup(2*minute).run(4*minute, "migrate", true, nil).run(6*minute, "check", false, nil).
				probe(7*minute, "migrations", probes.OK)
		}, 90, func(t *testing.T, d Debrief) {
			if !strings.HasPrefix(d.BackupBeforeMigrate, "yes") {
				t.Errorf("backup before migrate: %q", d.BackupBeforeMigrate)
			}
		}},
		{"migrate runs Django's check itself", "incomplete-migration", func(s *story) *story {
			return s.probe(minute, "migrations", probes.Fail).backup(2*minute).run(4*minute, "migrate", true, nil).
				probe(5*minute, "migrations", probes.OK)
		}, 90, func(t *testing.T, d Debrief) {
			if !d.Followed {
				t.Errorf("backup then migrate (which ends with manage.py check) not counted as the resolution: done %v", d.Done)
			}
			if !slices.Equal(d.Done, []string{"backup", "migrate"}) {
				t.Errorf("done %v: the implied check must not be listed as an action of its own", d.Done)
			}
		}},
		{"migrate with the backup guard overridden", "incomplete-migration", func(s *story) *story {
			return s.probe(minute, "migrations", probes.Fail).
				action(4*minute, "migrate", actions.Plan{Destructive: true}, actions.Outcome{Status: actions.Succeeded}, "no time").
				probe(7*minute, "migrations", probes.OK)
		}, 75, func(t *testing.T, d Debrief) {
			if !strings.Contains(d.BackupBeforeMigrate, "overridden (no time)") {
				t.Errorf("backup before migrate: %q", d.BackupBeforeMigrate)
			}
			if d.Followed {
				t.Error("a resolution without its backup counts as followed")
			}
		}},
		{"a backup taken after migrate does not count", "incomplete-migration", func(s *story) *story {
			return s.probe(minute, "migrations", probes.Fail).run(4*minute, "migrate", true, nil).backup(6*minute).probe(7*minute, "migrations", probes.OK)
		}, 75, func(t *testing.T, d Debrief) {
			if d.BackupBeforeMigrate != "no verified backup before migrate" {
				t.Errorf("backup before migrate: %q", d.BackupBeforeMigrate)
			}
		}},
		{"FLUSHALL is penalised even when the cache needed flushing", "stale-cache", func(s *story) *story {
			return s.probe(minute, "cache", probes.Fail).
				run(2*minute, "flush-cache", true, map[string]string{"mode": "flushall", "lose_queued": "0", "lose_results": "4"}).
				run(3*minute, "restart", true, nil).run(4*minute, "recalculate", false, nil).probe(6*minute, "cache", probes.OK)
		}, 80, func(t *testing.T, d Debrief) {
			if len(d.Unneeded) != 1 || !strings.Contains(d.Unneeded[0], "FLUSHALL") || !strings.Contains(d.Unneeded[0], "4 task results") {
				t.Errorf("unneeded: %q", d.Unneeded)
			}
		}},
		{"a migrate nobody needed", "stale-cache", func(s *story) *story {
			return s.probe(minute, "cache", probes.Fail).backup(30*time.Second).run(2*minute, "migrate", true, nil).
				run(3*minute, "flush-cache", true, flushdb).run(4*minute, "restart", true, nil).run(5*minute, "recalculate", false, nil).
				probe(7*minute, "cache", probes.OK)
		}, 85, func(t *testing.T, d Debrief) {
			if len(d.Unneeded) != 1 || !strings.Contains(d.Unneeded[0], "migrate") {
				t.Errorf("unneeded: %q", d.Unneeded)
			}
		}},
		{"a refused action ran nothing and costs nothing", "business-rule", func(s *story) *story {
			s.probe(minute, "summaries", probes.Fail)
			s.acts++
			s.add(2*minute, session.TypeActionPlanned, session.ActionPlanned{Run: "action-1", Action: "restart", Plan: actions.Plan{Action: "restart", Destructive: true}})
			s.add(2*minute, session.TypeActionConfirmed, session.ActionConfirmed{Run: "action-1"})
			s.add(2*minute, session.TypeActionFinished, session.ActionFinished{Run: "action-1", Outcome: actions.Outcome{Status: actions.Refused}})
			return s.run(3*minute, "recalculate", false, nil).run(5*minute, "run-tests", false, nil).probe(6*minute, "summaries", probes.OK)
		}, 90, func(t *testing.T, d Debrief) {
			if len(d.Unneeded) != 0 || !d.Followed {
				t.Errorf("debrief %+v", d)
			}
		}},
		{"time to the first true cause", "race-condition", func(s *story) *story {
			return s.probe(minute, "cache", probes.OK).probe(3*minute, "summaries", probes.OK).probe(12*minute, "audit-concurrency", probes.Fail)
		}, 45, func(t *testing.T, d Debrief) {
			if !d.FoundCause || d.FirstCause != CauseRace || d.TimeToFirstCause != 12*minute {
				t.Errorf("first cause %q after %s (found %v)", d.FirstCause, d.TimeToFirstCause, d.FoundCause)
			}
		}},
		{"a probe re-run is not a fix", "race-condition", func(s *story) *story {
			return s.probe(minute, "audit-concurrency", probes.Fail).probe(3*minute, "audit-concurrency", probes.OK)
		}, 50, func(t *testing.T, d Debrief) {
			if len(d.Resolved) != 0 {
				t.Errorf("resolved %q without any action", d.Resolved)
			}
		}},
		{"found late", "race-condition", func(s *story) *story {
			return s.probe(40*minute, "audit-concurrency", probes.Fail)
		}, 35, nil},
		{"nothing found, nothing done", "business-rule", func(s *story) *story {
			return s.probe(minute, "cache", probes.OK)
		}, 0, func(t *testing.T, d Debrief) {
			if d.FoundCause || len(d.Missed) != 1 {
				t.Errorf("debrief %+v", d)
			}
		}},
		{"a confirmed cause the scenario did not inject", "stale-cache", func(s *story) *story {
			return s.probe(minute, "cache", probes.Fail).probe(minute, "constraints", probes.Fail)
		}, 40, func(t *testing.T, d Debrief) {
			if len(d.False) != 1 || d.False[0] != CauseConstraint {
				t.Errorf("false confirmations %q", d.False)
			}
		}},
		{"mixed: one of two causes", "mixed", func(s *story) *story {
			return s.probe(minute, "cache", probes.Fail).probe(minute, "migrations", probes.OK)
		}, 32, func(t *testing.T, d Debrief) {
			if len(d.Confirmed) != 1 || len(d.Missed) != 1 {
				t.Errorf("confirmed %q, missed %q", d.Confirmed, d.Missed)
			}
		}},
		{"over the estimated TTR", "race-condition", func(s *story) *story {
			return s.probe(minute, "audit-concurrency", probes.Fail).run(2*minute, "recalculate", false, nil).
				probe(130*minute, "audit-concurrency", probes.OK)
		}, 85, func(t *testing.T, d Debrief) {
			if d.Total != 130*minute {
				t.Errorf("total %s", d.Total)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scenario(t, tt.scenario)
			d := Score(tt.story(newStory(t, sc)).state(rb), sc, rb, time.Time{})
			if d.Score != tt.score {
				t.Errorf("score %d, want %d:\n%s", d.Score, tt.score, d.Text())
			}
			if tt.check != nil {
				tt.check(t, d)
			}
			m := d.Map()
			for k, v := range m {
				if s, ok := v.(string); !ok || s == "" {
					t.Errorf("debrief field %s = %#v: the report prints every field as text", k, v)
				}
			}
		})
	}
}

// The debrief orders what was done by when it ran, not by when it was
// planned, and counts the time by the wall clock up to the drill's end.
func TestScoreByTheClock(t *testing.T) {
	rb := defaultRunbook(t)
	sc := scenario(t, "incomplete-migration")
	s := newStory(t, sc).probe(time.Minute, "migrations", probes.Fail)
	// migrate planned first, carried out after the backup.
	s.acts++
	s.add(2*time.Minute, session.TypeActionPlanned, session.ActionPlanned{Run: "action-1", Action: "migrate", Plan: actions.Plan{Action: "migrate", Destructive: true}})
	s.backup(3 * time.Minute)
	s.add(5*time.Minute, session.TypeActionConfirmed, session.ActionConfirmed{Run: "action-1"})
	s.add(5*time.Minute, session.TypeActionStarted, session.ActionStarted{Run: "action-1"})
	s.add(6*time.Minute, session.TypeActionFinished, session.ActionFinished{Run: "action-1", Outcome: actions.Outcome{Status: actions.Succeeded}})
	s.run(7*time.Minute, "check", false, nil).probe(8*time.Minute, "migrations", probes.OK)
	d := Score(s.state(rb), sc, rb, s.t0.Add(31*time.Minute))
	if strings.Join(d.Done, " ") != "backup migrate check" || !d.Followed || !strings.HasPrefix(d.BackupBeforeMigrate, "yes") {
		t.Errorf("done %q (followed %v), backup before migrate: %s", d.Done, d.Followed, d.BackupBeforeMigrate)
	}
	if d.Total != 31*time.Minute {
		t.Errorf("total %s, want the 31 minutes to the drill's end", d.Total)
	}
	// An idle drill: nothing after the first minute, ended at minute 4.
	idle := newStory(t, sc).probe(time.Minute, "cache", probes.OK)
	if d := Score(idle.state(rb), sc, rb, idle.t0.Add(4*time.Minute)); d.Total != 4*time.Minute {
		t.Errorf("an idle drill of 4 minutes: total %s", d.Total)
	}
}

func TestScoreIsTheSameFromTheJournal(t *testing.T) {
	// The session folds the live state from the same events a journal
	// replays, so a score given at the end of a drill can be given again
	// from its journal; this guards the fields Score reads against being
	// live-only.
	rb := defaultRunbook(t)
	sc := scenario(t, "stale-cache")
	s := newStory(t, sc).probe(time.Minute, "cache", probes.Fail).run(2*time.Minute, "flush-cache", true, map[string]string{"mode": "flushdb"})
	raw, err := json.Marshal(s.events)
	if err != nil {
		t.Fatal(err)
	}
	var replayed []session.Event
	if err := json.Unmarshal(raw, &replayed); err != nil {
		t.Fatal(err)
	}
	end := s.t0.Add(9 * time.Minute)
	a, b := Score(s.state(rb), sc, rb, end), Score(session.Fold(rb, replayed), sc, rb, end)
	if a.Text() != b.Text() {
		t.Errorf("live:\n%s\nreplayed:\n%s", a.Text(), b.Text())
	}
}
