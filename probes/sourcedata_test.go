package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"steady/internal/clinic"
)

func TestSourceData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	wrong, err := clinic.BusinessRule(ctx, f.db, clinic.BusinessRuleOptions{Clinicians: 1})
	if err != nil {
		t.Fatal(err)
	}
	bypass, err := clinic.ConstraintBypass(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	w := wrong[len(wrong)-1]
	if w.Clinician == bypass.Clinician {
		// The bypass clinician is the lowest id; BusinessRule's first may
		// be it too. Then its rows carry both anomalies, which the first
		// case below checks anyway.
		t.Logf("business-rule and bypass faults share clinician %d", w.Clinician)
	}
	clean := bypass.Clinician + 1
	for clean == w.Clinician {
		clean++
	}
	last := f.lastMonth()
	tests := []struct {
		name      string
		clinician int64
		period    clinic.Period
		status    Status
		codes     []string
	}{
		{"healthy rows", clean, last, OK, []string{"source.clean"}},
		{"rows written past the constraints", bypass.Clinician, last, Fail, []string{"source.duplicates", "source.non_positive"}},
		{"a summary counting cancelled rows", w.Clinician, w.Period, Fail, []string{"source.cancelled", "source.cancelled_counted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "source-data", map[string]string{"clinician": fmt.Sprint(tt.clinician), "from": tt.period.FromDate(), "to": tt.period.ToDate()})
			want(t, r, tt.status)
			for _, code := range tt.codes {
				if len(findings(r, code)) != 1 {
					t.Errorf("no %s finding\n%s", code, describe(r))
				}
			}
			var rows int
			if err := f.db.QueryRow(ctx, `SELECT count(*) FROM config_shift WHERE clinician_id = $1 AND date BETWEEN $2 AND $3`, tt.clinician, tt.period.From, tt.period.To).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if len(r.Evidence.Rows)+r.Evidence.Omitted != rows || rows == 0 {
				t.Errorf("evidence has %d rows (+%d omitted), the range has %d", len(r.Evidence.Rows), r.Evidence.Omitted, rows)
			}
		})
	}

	r := f.run(t, "source-data", map[string]string{"clinician": fmt.Sprint(bypass.Clinician), "from": last.FromDate(), "to": last.ToDate()})
	marks := map[string]int{}
	for _, row := range r.Evidence.Rows {
		for _, m := range strings.Split(row[4], "; ") {
			if m != "" {
				marks[strings.SplitN(m, " (", 2)[0]]++
			}
		}
	}
	if marks["duplicate"] != 2 || marks["duration not positive"] != len(bypass.NonPositive) {
		t.Errorf("anomaly marks %v, want 2 duplicate rows and %d non-positive\n%s", marks, len(bypass.NonPositive), describe(r))
	}
	if w := findings(r, "source.cancelled_counted"); w != nil && bypass.Clinician != wrong[0].Clinician {
		t.Errorf("cancelled_counted without the business-rule fault: %v", w)
	}

	// Wider than 200 rows: the table is bounded, the counts are not.
	wide := clinic.Period{From: f.ds.Months[0].From, To: f.ds.Months[len(f.ds.Months)-1].To}
	f.exec(t, `INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id)
SELECT $1::date + (x % 80), 'EXTRA' || (x / 80), 1, 'COMPLETED', now(), now(), $2 FROM generate_series(0, 239) x`, wide.From, clean)
	r = f.run(t, "source-data", map[string]string{"clinician": fmt.Sprint(clean), "from": wide.FromDate(), "to": wide.ToDate()})
	if len(r.Evidence.Rows) != maxRows || r.Evidence.Omitted == 0 {
		t.Errorf("evidence %d rows, %d omitted; want %d and the rest omitted", len(r.Evidence.Rows), r.Evidence.Omitted, maxRows)
	}
}
