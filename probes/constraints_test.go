package probes

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"steady/internal/clinic"
)

func TestConstraintsFindTheBypass(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	b, err := clinic.ConstraintBypass(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "constraints", nil)
	want(t, r, Fail)
	count := map[string]int{}
	for _, x := range r.Findings {
		count[x.Code]++
	}
	wantCount := map[string]int{
		"constraints.not_valid":        1,
		"constraints.trigger_disabled": len(b.DisabledTriggers),
		"constraints.missing":          1, // the UNIQUE, dropped though config.0003 is recorded
		"constraints.violation":        2, // the CHECK's rows and the UNIQUE's duplicate
		"constraints.orphans":          1,
	}
	if !reflect.DeepEqual(count, wantCount) {
		t.Errorf("findings %v, want %v\n%s", count, wantCount, describe(r))
	}
	for _, x := range findings(r, "constraints.violation") {
		switch x.Data["constraint"] {
		case "config_shift_duration_positive":
			if x.Data["rows"] != len(b.NonPositive) {
				t.Errorf("CHECK violations %v, want %d", x.Data["rows"], len(b.NonPositive))
			}
		case "config_shift_unique_clinician_date_type":
			if x.Data["rows"] != 1 {
				t.Errorf("duplicate rows %v, want 1", x.Data["rows"])
			}
		}
	}
	o := findings(r, "constraints.orphans")
	if len(o) == 1 && !reflect.DeepEqual(o[0].Data["missing"], []int64{b.MissingClinician}) {
		t.Errorf("orphans point at %v, want clinician %d", o[0].Data["missing"], b.MissingClinician)
	}
	if !strings.HasPrefix(r.Summary, "integrity was bypassed: 1 NOT VALID constraint, 2 disabled triggers, 2 broken rules, 1 foreign key with orphaned rows") {
		t.Errorf("summary %q", r.Summary)
	}
}

// TestConstraintsOfAnUnappliedMigration: constraints a migration has not
// created yet are not "missing", and rows that would stop it from
// applying are reported.
func TestConstraintsOfAnUnappliedMigration(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{install: clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}})
	r := f.run(t, "constraints", nil)
	want(t, r, OK)
	f.exec(t, `INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id)
SELECT date, type, duration, 'SCHEDULED', now(), now(), clinician_id FROM config_shift WHERE id = 1`)
	r = f.run(t, "constraints", nil)
	want(t, r, Fail)
	v := findings(r, "constraints.violation")
	if len(v) != 1 || !strings.Contains(v[0].Message, "applying config.0003_shift_constraints will fail") || len(findings(r, "constraints.missing")) != 0 {
		t.Errorf("findings\n%s", describe(r))
	}
}
