package probes

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/target"
)

func TestEveryProbeIsRegistered(t *testing.T) {
	want := []string{"audit-concurrency", "cache", "connectivity", "constraints", "migrations", "shift-counts", "source-data", "summaries"}
	if got := IDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("IDs() = %v, want %v", got, want)
	}
}

// TestHealthyNoProbeCriesWolf is the promise that makes verdicts worth
// anything: on healthy data every probe is ok.
func TestHealthyNoProbeCriesWolf(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{broker: true})
	m := f.lastMonth()
	params := map[string]string{"clinician": "1", "from": m.FromDate(), "to": m.ToDate()}
	for _, id := range IDs() {
		p, _ := Get(id)
		var in map[string]string
		if len(NeedsInput(p)) > 0 {
			in = params
		}
		r := f.run(t, id, in)
		want(t, r, OK)
		if len(r.Affected) != 0 {
			t.Errorf("%s: healthy data has affected scopes %v", id, r.Affected)
		}
		if len(r.Evidence.Rows) == 0 {
			t.Errorf("%s: no evidence\n%s", id, describe(r))
		}
	}
}

// TestEachFaultFailsOnlyItsProbe injects each fault of the runbook's root
// causes into a healthy fixture and runs the probes that take no input:
// exactly the probe bound to that cause fails, and no other does.
func TestEachFaultFailsOnlyItsProbe(t *testing.T) {
	tests := []struct {
		fault  string
		inject func(t *testing.T, f *fixture)
		fails  []string
	}{
		{"incomplete migration", func(t *testing.T, f *fixture) {
			if err := clinic.UnapplyMigration(context.Background(), f.db); err != nil {
				t.Fatal(err)
			}
		}, []string{"migrations"}},
		{"race condition", func(t *testing.T, f *fixture) {
			if _, err := clinic.RaceCondition(context.Background(), f.db, clinic.RaceOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"audit-concurrency"}},
		{"cache invalidation", func(t *testing.T, f *fixture) {
			if _, err := clinic.StaleCache(context.Background(), f.db, f.rdb, f.cfg, clinic.StaleOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"cache"}},
		{"business rule", func(t *testing.T, f *fixture) {
			if _, err := clinic.BusinessRule(context.Background(), f.db, clinic.BusinessRuleOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"summaries"}},
		{"constraint bypass", func(t *testing.T, f *fixture) {
			if _, err := clinic.ConstraintBypass(context.Background(), f.db); err != nil {
				t.Fatal(err)
			}
		}, []string{"constraints"}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{})
			tt.inject(t, f)
			var failed []string
			for _, id := range []string{"connectivity", "migrations", "audit-concurrency", "cache", "summaries", "constraints"} {
				r := f.run(t, id, nil)
				switch r.Status {
				case Fail:
					failed = append(failed, id)
				case OK:
				default:
					t.Errorf("%s: status %s\n%s", id, r.Status, describe(r))
				}
			}
			sort.Strings(failed)
			if !reflect.DeepEqual(failed, tt.fails) {
				t.Errorf("failing probes %v, want %v", failed, tt.fails)
			}
		})
	}
}

// TestMissingPrerequisitesSkip: with nothing configured every probe says
// what it needs rather than failing.
func TestMissingPrerequisitesSkip(t *testing.T) {
	cfg := config.Default()
	// A project directory alone is not enough for any probe.
	cfg.Django.Dir = t.TempDir()
	tg := target.New(&cfg)
	defer tg.Close()
	params := Params{"clinician": "1", "from": "2026-01-01", "to": "2026-01-31"}
	for _, id := range IDs() {
		p, _ := Get(id)
		r := p.Run(context.Background(), tg, params)
		if r.Status != Skipped || r.Summary == "" || r.Error != "" {
			t.Errorf("%s: status %s, summary %q, error %q; want skipped with a reason", id, r.Status, r.Summary, r.Error)
		}
	}
}

func TestParamCheck(t *testing.T) {
	clinician := Param{Name: "clinician", Kind: "int", Required: true}
	from := Param{Name: "from", Kind: "date", Required: true}
	to := Param{Name: "to", Kind: "date", Required: true}
	since := Param{Name: "since", Kind: "duration"}
	tests := []struct {
		name    string
		p       Param
		v       string
		all     map[string]string
		wantErr string
	}{
		{"a clinician id", clinician, "7", nil, ""},
		{"spaces around are fine", clinician, " 7 ", nil, ""},
		{"a required value", clinician, "", nil, "clinician is required"},
		{"not a number", clinician, "seven", nil, "not a whole number"},
		{"not negative", clinician, "-3", nil, "cannot be negative"},
		{"an ISO date", from, "2024-01-31", nil, ""},
		{"not a date", from, "31/01/2024", nil, "not a date (YYYY-MM-DD)"},
		{"no such day", from, "2024-02-30", nil, "not a date"},
		{"from before to", from, "2024-01-01", map[string]string{"to": "2024-01-31"}, ""},
		{"from equal to to", to, "2024-01-31", map[string]string{"from": "2024-01-31"}, ""},
		{"to before from", to, "2024-01-01", map[string]string{"from": "2024-02-01"}, "the range is reversed: from 2024-02-01 is after to 2024-01-01"},
		{"from after to", from, "2024-03-01", map[string]string{"to": "2024-02-01"}, "the range is reversed"},
		{"the other end not valid yet", to, "2024-01-01", map[string]string{"from": "2024-0"}, ""},
		{"an optional duration left empty", since, "", nil, ""},
		{"a duration in days", since, "7d", nil, ""},
		{"not a duration", since, "a week", nil, "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.v, tt.all)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Check(%q) = %v, want no error", tt.v, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Check(%q) = %v, want an error containing %q", tt.v, err, tt.wantErr)
			}
		})
	}
}
