package probes

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/clinic"
)

func TestAuditConcurrencyFindsEachRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	groups, err := clinic.RaceCondition(context.Background(), f.db, clinic.RaceOptions{Groups: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "audit-concurrency", nil)
	want(t, r, Fail)
	c := findings(r, "audit.concurrent")
	if len(c) != 1 || c[0].Data["groups"] != 4 || c[0].Data["entities"] != 4 || c[0].Data["writes"] != 8 {
		t.Fatalf("concurrent finding %v, want 4 groups of 2 writes on 4 shifts\n%s", c, describe(r))
	}
	if g := findings(r, "audit.group"); len(g) != 4 {
		t.Errorf("%d group findings, want 4", len(g))
	}
	for _, g := range groups {
		found := false
		for _, x := range findings(r, "audit.group") {
			found = found || x.Data["entity_id"] == g.Shift && strings.Contains(x.Message, "rota-admin")
		}
		if !found {
			t.Errorf("no finding for shift %d", g.Shift)
		}
	}
	// Two races may hit shifts of one clinician in one month: one scope.
	var wantScopes []Scope
	seen := map[Scope]bool{}
	for _, g := range groups {
		m := clinic.MonthOf(g.Date)
		s := Scope{Clinician: g.Clinician, From: m.FromDate(), To: m.ToDate()}
		if !seen[s] {
			seen[s] = true
			wantScopes = append(wantScopes, s)
		}
	}
	sort.Slice(wantScopes, func(i, j int) bool {
		if wantScopes[i].Clinician != wantScopes[j].Clinician {
			return wantScopes[i].Clinician < wantScopes[j].Clinician
		}
		return wantScopes[i].From < wantScopes[j].From
	})
	if !reflect.DeepEqual(r.Affected, wantScopes) {
		t.Errorf("affected %v, want %v", r.Affected, wantScopes)
	}
	if len(r.Evidence.Rows) != 50 || !reflect.DeepEqual(r.Evidence.Columns, []string{"timestamp", "entity_id", "action", "changed_by", "concurrent"}) {
		t.Errorf("evidence is not the last 50 changes: %d rows, columns %v", len(r.Evidence.Rows), r.Evidence.Columns)
	}
}

func TestAuditConcurrencyParams(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	if _, err := clinic.RaceCondition(context.Background(), f.db, clinic.RaceOptions{Groups: 2}); err != nil {
		t.Fatal(err)
	}
	// A write from long ago, concurrent with another: outside a short range.
	f.exec(t, `INSERT INTO config_auditlog (entity_type, entity_id, action, "timestamp", changed_by, changes)
SELECT 'Shift', 1, 'UPDATE', date_trunc('second', now()) - interval '30 days' + x * interval '10 ms', 'old', '{}' FROM generate_series(1, 2) x`)
	tests := []struct {
		params map[string]string
		groups int
	}{
		{map[string]string{}, 2},
		{map[string]string{"since": "60d"}, 3},
		{map[string]string{"since": "10s"}, 0},
		// Healthy writes of one shift are at least an hour apart.
		{map[string]string{"window": "1h"}, 2},
		{map[string]string{"window": "2s"}, 2},
	}
	for _, tt := range tests {
		r := f.run(t, "audit-concurrency", tt.params)
		got := 0
		if c := findings(r, "audit.concurrent"); len(c) == 1 {
			got = c[0].Data["groups"].(int)
		}
		if got != tt.groups {
			t.Errorf("%v: %d groups, want %d\n%s", tt.params, got, tt.groups, describe(r))
		}
	}
}

// Concurrency is measured by the clock: two writes 2 ms apart across a
// second's boundary are concurrent; two writes 1.5 s apart within a
// window of one second are not, whatever seconds they fall in.
func TestAuditConcurrencyByTheClockNotTheCalendar(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	f.exec(t, `INSERT INTO config_auditlog (entity_type, entity_id, action, "timestamp", changed_by, changes) VALUES
  ('Shift', 1, 'UPDATE', date_trunc('second', now()) - interval '1 hour' - interval '1 ms', 'alice', '{}'),
  ('Shift', 1, 'UPDATE', date_trunc('second', now()) - interval '1 hour' + interval '1 ms', 'bob', '{}'),
  ('Shift', 2, 'UPDATE', date_trunc('second', now()) - interval '2 hours' + interval '100 ms', 'alice', '{}'),
  ('Shift', 2, 'UPDATE', date_trunc('second', now()) - interval '2 hours' + interval '1600 ms', 'bob', '{}')`)
	r := f.run(t, "audit-concurrency", nil)
	want(t, r, Fail)
	groups := findings(r, "audit.group")
	if len(groups) != 1 || groups[0].Data["entity_id"] != int64(1) || groups[0].Data["writes"] != 2 {
		t.Errorf("want one group, shift 1's two writes 2 ms apart:\n%s", describe(r))
	}
	if r := f.run(t, "audit-concurrency", map[string]string{"window": "2s"}); len(findings(r, "audit.group")) != 2 {
		t.Errorf("with a 2 s window both pairs are concurrent:\n%s", describe(r))
	}
}

// TestAuditConcurrencyUsesTheIndex: on a table big enough for the planner
// to care, the probe's statement reads the range through the
// (entity_type, timestamp) index, never by a sequential scan.
func TestAuditConcurrencyUsesTheIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	// Two years of writes to 50,000 shifts: 200,000 rows, a week of them recent.
	f.exec(t, `INSERT INTO config_auditlog (entity_type, entity_id, action, "timestamp", changed_by, changes)
SELECT CASE WHEN x % 10 = 0 THEN 'Clinician' ELSE 'Shift' END, x % 50000, CASE WHEN x % 3 = 0 THEN 'CREATE' ELSE 'UPDATE' END,
       now() - (x * interval '5 minutes'), 'seed', '{}'
FROM generate_series(1, 200000) x`)
	f.exec(t, `ANALYZE config_auditlog`)
	cfg := f.tg.Config()
	for _, window := range []time.Duration{time.Second, 5 * time.Second} {
		var plan []string
		err := f.tg.ReadOnly(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "EXPLAIN "+auditGroupsSQL(&cfg.Profile), []string{"CREATE", "UPDATE"}, (7 * 24 * time.Hour).Seconds(), window.Seconds())
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if strings.Contains(text, "Seq Scan on config_auditlog") || !strings.Contains(text, "config_auditlog_entity_ts_idx") {
			t.Errorf("window %s: the plan does not read through config_auditlog_entity_ts_idx:\n%s", window, text)
		}
	}
	r := f.run(t, "audit-concurrency", nil)
	if len(findings(r, "audit.no_index")) != 0 {
		t.Errorf("the index exists, yet:\n%s", describe(r))
	}
	if r.Duration > 2*time.Second {
		t.Errorf("the probe took %s on 200,000 rows", r.Duration)
	}

	// Without the index the probe still answers, and says it scanned.
	f.exec(t, `DROP INDEX config_auditlog_entity_ts_idx`)
	r = f.run(t, "audit-concurrency", nil)
	want(t, r, Warn)
	if n := findings(r, "audit.no_index"); len(n) != 1 || !strings.Contains(n[0].Message, "scans the whole table") {
		t.Errorf("no finding about the missing index:\n%s", describe(r))
	}
}
