package actions

import (
	"context"
	"strings"
	"testing"
	"time"

	"steady/internal/clinic"
)

// TestRepairBySQL: the overtime the races lost is restored by one
// conditional UPDATE per row in one transaction, behind a verified backup,
// with the statements that undo it journaled; a row that changed since
// the plan stops the whole repair.
func TestRepairBySQL(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	groups, err := clinic.RaceCondition(ctx, f.db, clinic.RaceOptions{Groups: 3})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"mode": "sql"}

	p := plan(t, "repair-lost-updates", f.env(&history{}), params)
	if len(p.Repairs) != 3 || !p.Destructive || p.ConfirmPhrase == "" || p.Risk != High {
		t.Fatalf("plan %+v", p)
	}
	if o := execute(t, f.env(&history{}), p, nil); o.Status != Refused || !strings.Contains(o.Summary, "verified backup") {
		t.Fatalf("without a backup: %+v", o)
	}
	backed := &history{backups: []Backup{{Database: f.tg.DBName(), Path: "/backups/x.dump", SHA256: "ab", Size: 1, At: time.Now()}}}
	p = plan(t, "repair-lost-updates", f.env(backed), params)
	var sql []string
	for _, s := range p.Steps {
		if s.Kind == StepSQL {
			sql = append(sql, s.Text)
		}
	}
	if len(sql) != 3 || !strings.Contains(sql[0], `UPDATE "config_shift" SET "duration" = '`) || !strings.Contains(sql[0], `IS NOT DISTINCT FROM '`) {
		t.Fatalf("statements %q", sql)
	}

	// Someone corrects the first row by hand after the plan was made.
	first := p.Repairs[0]
	f.exec(t, `UPDATE config_shift SET duration = 9 WHERE id = $1`, first.Entity)
	o := execute(t, f.env(backed), p, nil)
	if o.Status != Failed || !strings.Contains(o.Summary, "nothing was restored") {
		t.Fatalf("a row changed since the plan: %+v", o)
	}
	for _, l := range p.Repairs[1:] {
		if got := f.duration(t, l.Entity); got != l.Current.Text {
			t.Errorf("shift %d is %s after a rolled-back repair, want %s", l.Entity, got, l.Current.Text)
		}
	}
	f.exec(t, `UPDATE config_shift SET duration = $2::numeric WHERE id = $1`, first.Entity, first.Current.Text)

	p = plan(t, "repair-lost-updates", f.env(backed), params)
	o = execute(t, f.env(backed), p, nil)
	if o.Status != Succeeded || o.Artefacts["restored"] != "3" || strings.Count(o.Artefacts["undo"], "UPDATE") != 3 {
		t.Fatalf("repair: %+v", o)
	}
	for _, g := range groups {
		want := g.Lost[strings.Index(g.Lost, "→ ")+len("→ "):]
		want = want[:strings.IndexByte(want, ' ')]
		if got := f.duration(t, g.Shift); got != want {
			t.Errorf("shift %d: duration %s after the repair, want the lost %s", g.Shift, got, want)
		}
	}
	// Nothing is left to restore, and the plan says so.
	a, _ := Get("repair-lost-updates")
	if _, err := a.Plan(ctx, f.env(backed), params); err == nil || !strings.Contains(err.Error(), "no lost update") {
		t.Errorf("after the repair, planning again: %v", err)
	}
	// The undo puts the rows back as they were.
	if _, err := f.db.Exec(ctx, "BEGIN; "+o.Artefacts["undo"]+" COMMIT"); err != nil {
		t.Fatalf("undo: %v", err)
	}
	for _, l := range p.Repairs {
		if got := f.duration(t, l.Entity); got != l.Current.Text {
			t.Errorf("shift %d is %s after the undo, want %s", l.Entity, got, l.Current.Text)
		}
	}
}

// TestRepairNeedsALostUpdate: with no race in the trail, nothing is planned.
func TestRepairNeedsALostUpdate(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a, _ := Get("repair-lost-updates")
	if _, err := a.Plan(context.Background(), f.env(&history{}), map[string]string{"mode": "sql"}); err == nil || !strings.Contains(err.Error(), "no lost update") {
		t.Errorf("plan on a healthy trail: %v", err)
	}
	if _, err := a.Plan(context.Background(), f.env(&history{}), map[string]string{"mode": "guess"}); err == nil || !strings.Contains(err.Error(), "not app or sql") {
		t.Errorf("a bad mode: %v", err)
	}
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) duration(t *testing.T, id int64) string {
	t.Helper()
	var d string
	if err := f.db.QueryRow(context.Background(), `SELECT duration::text FROM config_shift WHERE id = $1`, id).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d
}
