package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"steady/internal/clinic"
	"steady/internal/profile"
)

// TestLostIn: each way an audit trail shows a lost update, and the ways
// it shows none.
func TestLostIn(t *testing.T) {
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	log := profile.Audit{Kind: profile.AuditLog, Shape: profile.ShapeDiff, Changes: "changes", Actions: profile.AuditActions{Create: "CREATE", Update: "UPDATE"}}
	hist := profile.Audit{Kind: profile.AuditHistory, Actions: profile.AuditActions{Create: "+", Update: "~"}}
	w := func(ms int, action, by, payload string) *auditWrite {
		return &auditWrite{ts: t0.Add(time.Duration(ms) * time.Millisecond), action: action, actor: by, payload: payload}
	}
	row := func(kv ...string) map[string]Value {
		m := map[string]Value{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = Value{Text: kv[i+1]}
		}
		return m
	}
	tests := []struct {
		name   string
		audit  profile.Audit
		writes []*auditWrite
		row    map[string]Value
		want   []string // state field lost by silent
	}{
		{"a diff against the stored row records the revert", log, []*auditWrite{
			w(-3600000, "CREATE", "seed", `{"status": "COMPLETED", "duration": "12.00"}`),
			w(0, "UPDATE", "alice", `{"status": ["COMPLETED", "CANCELLED"]}`),
			w(40, "UPDATE", "bob", `{"status": ["CANCELLED", "COMPLETED"], "duration": ["12.00", "12.50"]}`),
		}, row("status", "COMPLETED", "duration", "12.50"), []string{"lost status 'CANCELLED' bob false"}},

		{"a diff against a stale copy that leaves the field out", log, []*auditWrite{
			w(-3600000, "CREATE", "seed", `{"status": "COMPLETED", "duration": 12.00}`),
			w(0, "UPDATE", "rota-admin", `{"duration": ["12.00", "14.00"]}`),
			w(300, "UPDATE", "alice", `{"status": ["SCHEDULED", "COMPLETED"]}`),
		}, row("status", "COMPLETED", "duration", "12.00"), []string{"lost duration '14.00' alice true"}},

		{"both writers set the field: nobody can know", log, []*auditWrite{
			w(0, "UPDATE", "alice", `{"duration": ["12.00", "14.00"]}`),
			w(10, "UPDATE", "bob", `{"duration": ["12.00", "13.00"]}`),
		}, row("duration", "13.00"), []string{"conflict duration '14.00' bob false"}},

		{"restored since", log, []*auditWrite{
			w(0, "UPDATE", "rota-admin", `{"duration": ["12.00", "14.00"]}`),
			w(300, "UPDATE", "alice", `{"status": ["SCHEDULED", "COMPLETED"]}`),
		}, row("duration", "14.00"), nil},

		{"set again by a later write: a person decides", log, []*auditWrite{
			w(0, "UPDATE", "alice", `{"status": ["COMPLETED", "CANCELLED"]}`),
			w(40, "UPDATE", "bob", `{"status": ["CANCELLED", "COMPLETED"]}`),
			w(90000, "UPDATE", "carol", `{"status": ["COMPLETED", "SCHEDULED"]}`),
		}, row("status", "SCHEDULED"), []string{"changed status 'CANCELLED' bob false"}},

		{"restored through the application", log, []*auditWrite{
			w(0, "UPDATE", "alice", `{"status": ["COMPLETED", "CANCELLED"]}`),
			w(40, "UPDATE", "bob", `{"status": ["CANCELLED", "COMPLETED"]}`),
			w(90000, "UPDATE", "system", `{"status": ["COMPLETED", "CANCELLED"]}`),
		}, row("status", "CANCELLED"), []string{"restored status 'CANCELLED' bob false"}},

		{"writes a window apart are not compared", log, []*auditWrite{
			w(0, "UPDATE", "alice", `{"status": ["COMPLETED", "CANCELLED"]}`),
			w(1500, "UPDATE", "bob", `{"status": ["CANCELLED", "COMPLETED"]}`),
		}, row("status", "COMPLETED"), nil},

		{"two fields, each its own write: nothing lost", log, []*auditWrite{
			w(0, "UPDATE", "alice", `{"status": ["COMPLETED", "CANCELLED"]}`),
			w(40, "UPDATE", "bob", `{"duration": ["12.00", "12.50"]}`),
		}, row("status", "CANCELLED", "duration", "12.50"), nil},

		{"history snapshots: the stale save writes the old state back", hist, []*auditWrite{
			w(-86400000, "+", "seed", `{"id": 7, "state": "done", "hours": "8.00", "history_id": 1, "history_date": "x"}`),
			w(0, "~", "alice", `{"id": 7, "state": "called_off", "hours": "8.00", "history_id": 2, "history_date": "y"}`),
			w(25, "~", "bob", `{"id": 7, "state": "done", "hours": "8.50", "history_id": 3, "history_date": "z"}`),
		}, row("id", "7", "state", "done", "hours", "8.50"), []string{"lost state 'called_off' bob false"}},

		{"history snapshots with one write after another: nothing lost", hist, []*auditWrite{
			w(-86400000, "+", "seed", `{"id": 7, "state": "planned", "hours": "8.00"}`),
			w(0, "~", "alice", `{"id": 7, "state": "done", "hours": "8.00"}`),
			w(25, "~", "bob", `{"id": 7, "state": "done", "hours": "8.50"}`),
		}, row("id", "7", "state", "done", "hours", "8.50"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range lostIn(tt.audit, 7, tt.writes, tt.row, time.Second) {
				got = append(got, fmt.Sprintf("%s %s %s %s %t", l.State, l.Field, l.Lost, l.By, l.Silent))
				if l.State != LostRestorable && l.State != LostRestored && l.Why == "" {
					t.Errorf("%s says no why: %+v", l.State, l)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValueEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b Value
		eq   bool
	}{
		{Value{Text: "12.00"}, Value{Text: "12"}, true},
		{Value{Text: "12.00"}, Value{Text: "12.5"}, false},
		{Value{Text: "2026-11-03T10:00:00+00:00"}, Value{Text: "2026-11-03T11:00:00+01:00"}, true},
		{Value{Text: "COMPLETED"}, Value{Text: "completed"}, false},
		{Value{Null: true}, Value{Text: ""}, false},
		{Value{Null: true}, Value{Null: true}, true},
	} {
		if got := tt.a.Equal(tt.b); got != tt.eq {
			t.Errorf("%v = %v: %t, want %t", tt.a, tt.b, got, tt.eq)
		}
	}
}

// The drill's race: the rota office's overtime, written in the same second
// as the sign-off that saved the old duration back, is named with its
// value, both writers and the value to restore.
func TestAuditConcurrencyNamesTheLostUpdates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	groups, err := clinic.RaceCondition(context.Background(), f.db, clinic.RaceOptions{Groups: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "audit-concurrency", nil)
	lost := map[int64]LostUpdate{}
	for _, x := range findings(r, "audit.lost_update") {
		l, ok := LostFromFinding(x)
		if !ok {
			t.Fatalf("a lost-update finding without its data: %+v", x)
		}
		lost[l.Entity] = l
	}
	if len(lost) != len(groups) {
		t.Fatalf("%d lost updates, want %d:\n%s", len(lost), len(groups), describe(r))
	}
	for _, g := range groups {
		l := lost[g.Shift]
		if l.Field != "duration" || l.LostBy != "rota-admin" || l.By != g.Writers[1] || !l.Silent || !l.Restorable() ||
			!strings.Contains(g.Lost, "→ "+l.Lost.Text+" ") || !l.Current.Equal(l.Before) {
			t.Errorf("shift %d: %+v, want the overtime of %q", g.Shift, l, g.Lost)
		}
	}
	if !strings.Contains(r.Summary, "3 values lost, restorable") {
		t.Errorf("summary %q does not count them", r.Summary)
	}
	// The result carries them whole for the repair action, beyond the
	// findings that name the first few.
	if len(r.Lost) != len(groups) {
		t.Fatalf("the result carries %d lost updates, want %d", len(r.Lost), len(groups))
	}
	for _, l := range r.Lost {
		if want := lost[l.Entity]; l.Field != want.Field || !l.Lost.Equal(want.Lost) || l.State != want.State {
			t.Errorf("shift %d: the result carries %+v, the finding %+v", l.Entity, l, want)
		}
	}
}
