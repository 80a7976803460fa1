package probes

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"steady/clinic"
	"steady/config"
	"steady/target"
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
