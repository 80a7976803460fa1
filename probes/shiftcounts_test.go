package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"steady/internal/clinic"
	"steady/internal/plural"
)

func TestShiftCounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	wrong, err := clinic.BusinessRule(ctx, f.db, clinic.BusinessRuleOptions{Clinicians: 1})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := clinic.StaleCache(ctx, f.db, f.rdb, f.cfg, clinic.StaleOptions{Clinicians: 3})
	if err != nil {
		t.Fatal(err)
	}
	// One stale key of another clinician, and one wrong summary that the
	// stale-cache fault (which recalculates its month) left wrong.
	touched := map[int64]bool{}
	for _, x := range stale {
		touched[x.Clinician] = true
	}
	var s clinic.StaleKey
	for _, x := range stale {
		if x.Clinician != wrong[0].Clinician {
			s = x
		}
	}
	var w clinic.WrongSummary
	for _, x := range wrong {
		if !touched[x.Clinician] || x.Period != s.Period {
			w = x
		}
	}
	if s.Key == "" || w.Clinician == 0 {
		t.Fatalf("no usable stale key in %v and wrong summary in %v", stale, wrong)
	}
	two := clinic.Period{From: f.ds.Months[0].From, To: f.ds.Months[1].To}
	other := int64(1)
	for touched[other] || other == w.Clinician {
		other++
	}
	tests := []struct {
		name      string
		clinician int64
		period    clinic.Period
		status    Status
		summary   []string
	}{
		{"healthy month", other, f.lastMonth(), OK, []string{"every figure available agrees"}},
		{"stale cache", s.Clinician, s.Period, Fail, []string{fmt.Sprintf("cache says %d, steady's reading of the rule gives %d: the cache is stale", s.Cached, s.Actual)}},
		{"summary counting cancelled shifts", w.Clinician, w.Period, Fail, []string{
			fmt.Sprintf("summary says %d, steady's reading of the rule gives %d: it counted the %s as worked", w.Stored, w.Actual, plural.Count(w.Stored-w.Actual, "cancelled shift", "cancelled shifts")),
		}},
		{"two months: summaries summed, no cache key", other, two, OK, []string{"every figure available agrees"}},
		{"no such clinician", 999, f.lastMonth(), Warn, []string{"0 worked shifts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "shift-counts", map[string]string{"clinician": fmt.Sprint(tt.clinician), "from": tt.period.FromDate(), "to": tt.period.ToDate()})
			want(t, r, tt.status)
			for _, s := range tt.summary {
				if !strings.Contains(r.Summary, s) {
					t.Errorf("summary %q lacks %q", r.Summary, s)
				}
			}
			if len(r.Evidence.Rows) != 3 || r.Evidence.Rows[0][0] != "database (steady's reading)" {
				t.Errorf("evidence is not the three figures side by side: %v", r.Evidence.Rows)
			}
			if (tt.status == Fail) != (len(r.Affected) == 1) {
				t.Errorf("affected %v", r.Affected)
			}
		})
	}

	r := f.run(t, "shift-counts", map[string]string{"clinician": fmt.Sprint(other), "from": two.FromDate(), "to": two.ToDate()})
	if got := r.Evidence.Rows[1][2]; got != "sum of 2 summaries covering the range" {
		t.Errorf("summary detail %q", got)
	}
	if got := r.Evidence.Rows[2][2]; !strings.HasPrefix(got, "not cached") {
		t.Errorf("cache detail %q", got)
	}
	part := f.lastMonth()
	r = f.run(t, "shift-counts", map[string]string{"clinician": fmt.Sprint(other), "from": part.From.AddDate(0, 0, -3).Format("2006-01-02"), "to": part.ToDate()})
	if got := r.Evidence.Rows[1][2]; !strings.Contains(got, "inside the range, covering") {
		t.Errorf("a range covering part of a month: summary detail %q", got)
	}
	want(t, r, OK)
}

func TestClinicianParams(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	for _, id := range []string{"shift-counts", "source-data"} {
		p, _ := Get(id)
		if _, err := Resolve(p, map[string]string{"clinician": "1"}); err == nil || !strings.Contains(err.Error(), "from, to") {
			t.Errorf("%s: Resolve without dates: %v", id, err)
		}
		if _, err := Resolve(p, map[string]string{"clinician": "1", "from": "2026-02-01", "to": "2026-01-01"}); err == nil {
			t.Errorf("%s: a reversed range resolved", id)
		}
		r := p.Run(context.Background(), f.tg, Params{"clinician": "x", "from": "2026-01-01", "to": "2026-01-31"})
		if r.Status != Error || !strings.Contains(r.Error, "not a whole number") {
			t.Errorf("%s: bad clinician gave %s %q", id, r.Status, r.Error)
		}
	}
}
