package probes

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"steady/internal/clinic"
)

func TestSummariesFindEveryWrongSummary(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	wrong, err := clinic.BusinessRule(context.Background(), f.db, clinic.BusinessRuleOptions{Clinicians: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "summaries", nil)
	want(t, r, Fail)
	var wantScopes []Scope
	var wantRows [][]string
	for _, w := range wrong {
		wantScopes = append(wantScopes, Scope{Clinician: w.Clinician, From: w.Period.FromDate(), To: w.Period.ToDate()})
		wantRows = append(wantRows, []string{fmt.Sprint(w.Clinician), w.Period.String(), fmt.Sprint(w.Stored), fmt.Sprint(w.Actual)})
	}
	if !reflect.DeepEqual(r.Affected, wantScopes) {
		t.Errorf("affected %v, want %v", r.Affected, wantScopes)
	}
	var gotRows [][]string
	for _, row := range r.Evidence.Rows {
		gotRows = append(gotRows, row[:4])
		if !strings.HasPrefix(row[6], "counts the ") || !strings.HasSuffix(row[6], "as worked") {
			t.Errorf("row %v does not say cancelled shifts were counted", row)
		}
	}
	if !reflect.DeepEqual(gotRows, wantRows) {
		t.Errorf("evidence %v, want %v", gotRows, wantRows)
	}
	total := len(f.ds.Clinicians) * len(f.ds.Months)
	wantSummary := fmt.Sprintf("%d of %d stored summaries differ from steady's reading of the rule, for 3 clinicians: each counts cancelled shifts as worked", len(wrong), total)
	if r.Summary != wantSummary {
		t.Errorf("summary %q, want %q", r.Summary, wantSummary)
	}

	// Narrowed to one clinician, only theirs.
	r = f.run(t, "summaries", map[string]string{"clinician": fmt.Sprint(wrong[0].Clinician)})
	for _, s := range r.Affected {
		if s.Clinician != wrong[0].Clinician {
			t.Errorf("narrowed to clinician %d, yet %v", wrong[0].Clinician, s)
		}
	}
}

func TestSummariesOtherDisagreements(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	m := f.lastMonth()
	// A summary computed before a shift was added, and a deficiency that
	// ignores the contract.
	f.exec(t, `UPDATE calculations_shiftsummary SET worked_shifts = worked_shifts - 1, deficiency = greatest(deficiency, 1) + 1 WHERE clinician_id = 4 AND period_start = $1`, m.From)
	f.exec(t, `UPDATE calculations_shiftsummary SET deficiency = deficiency + 3 WHERE clinician_id = 5 AND period_start = $1`, m.From)
	r := f.run(t, "summaries", nil)
	want(t, r, Fail)
	if len(r.Evidence.Rows) != 2 {
		t.Fatalf("want 2 rows\n%s", describe(r))
	}
	if why := r.Evidence.Rows[0][6]; !strings.Contains(why, "recalculate") {
		t.Errorf("clinician 4: %q", why)
	}
	if why := r.Evidence.Rows[1][6]; !strings.Contains(why, "does not follow contracted − worked") {
		t.Errorf("clinician 5: %q", why)
	}
}
