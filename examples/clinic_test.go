package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
)

func TestPythonHasDebiansPackages(t *testing.T) {
	python, err := examples.Python()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("using %s", python)
}

func TestPythonOverrideMustWork(t *testing.T) {
	t.Setenv(examples.EnvPython, "/nonexistent/python3")
	_, err := examples.Python()
	if err == nil || !strings.Contains(err.Error(), examples.DebianPackages) {
		t.Errorf("Python() with a broken %s = %v; want an error naming %s", examples.EnvPython, err, examples.DebianPackages)
	}
}

// `manage.py test calculations` is what the run-tests action runs: it
// passes on the application as shipped and fails when the worked-shift rule
// is misread.
func TestBusinessRuleTests(t *testing.T) {
	for _, tc := range []struct {
		rule string
		pass bool
	}{{"completed", true}, {"not-cancelled", false}} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			app := examples.NewClinic(t, sandboxtest.Database(t), "redis://127.0.0.1:1/0")
			app.Env = append(app.Env, "CLINIC_WORKED_SHIFT_RULE="+tc.rule)
			out, err := app.Manage(t.Context(), "test", "calculations", "--noinput")
			switch {
			case tc.pass && err != nil:
				t.Fatal(err)
			case !tc.pass && err == nil:
				t.Fatalf("the tests passed with the rule misread:\n%s", out)
			case !tc.pass && !strings.Contains(out, "test_cancelled_and_scheduled_shifts_never_count"):
				t.Errorf("the wrong test failed:\n%s", out)
			}
		})
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	const shifts = `SELECT string_agg(concat_ws(',', c.name, c.contracted_shifts, s.date, s.type, s.duration, s.status), ';' ORDER BY s.id)
FROM config_shift s JOIN config_clinician c ON c.id = s.clinician_id`
	seeded := make([]string, 3)
	// The group returns once its parallel subtests have all finished.
	t.Run("seed", func(t *testing.T) {
		for i, seed := range []string{"1", "1", "2"} {
			t.Run(seed, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				e.app.MustManage(t, "migrate", "--noinput")
				e.app.MustManage(t, "seed_clinic", "--clinicians", "4", "--months", "2", "--seed", seed)
				seeded[i] = rows(t, e.db, shifts)[0][0]
			})
		}
	})
	if seeded[0] == "" {
		t.Fatal("nothing was seeded")
	}
	if seeded[0] != seeded[1] {
		t.Error("the same seed gave different data")
	}
	if seeded[0] == seeded[2] {
		t.Error("different seeds gave the same data")
	}
}

// figures are one clinician's worked shifts over one period, three ways.
type figures struct {
	source, summary int
	cache           string
}

func (e env) figures(t *testing.T, clinician int, from, to string) figures {
	t.Helper()
	ctx := context.Background()
	var f figures
	if err := e.db.QueryRow(ctx, fmt.Sprintf(clinic.WorkedShiftsSQL, "config_shift"), clinician, from, to).Scan(&f.source); err != nil {
		t.Fatal(err)
	}
	if err := e.db.QueryRow(ctx, `SELECT worked_shifts FROM calculations_shiftsummary
WHERE clinician_id = $1 AND period_start = $2 AND period_end = $3`, clinician, from, to).Scan(&f.summary); err != nil {
		t.Fatalf("summary of clinician %d for %s: %v", clinician, from, err)
	}
	profile := config.Default()
	f.cache, _ = e.cache.Get(ctx, profile.Profile.Cache.WorkedKeyOf(int64(clinician), from, to)).Result()
	return f
}

func (f figures) consistent() bool { return f.cache == strconv.Itoa(f.source) && f.summary == f.source }

// everyMonth lists each clinician's seeded months: (clinician, first, last).
func (e env) everyMonth(t *testing.T) [][]string {
	return rows(t, e.db, `SELECT clinician_id, period_start::text, period_end::text
FROM calculations_shiftsummary ORDER BY 1, 2`)
}

// report is what `inject_fault --json` prints.
type report struct {
	Fault       string `json:"fault"`
	Clinicians  []int  `json:"clinicians"`
	PeriodStart string `json:"period_start"`
	PeriodEnd   string `json:"period_end"`
	Detail      string `json:"detail"`
}

// Each fault must leave the signature the runbook diagnoses, and nothing
// that a different root cause would leave.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		fault string
		check func(t *testing.T, e env, r report)
	}{
		{"none", func(t *testing.T, e env, _ report) {
			for _, m := range e.everyMonth(t) {
				id, _ := strconv.Atoi(m[0])
				if f := e.figures(t, id, m[1], m[2]); !f.consistent() {
					t.Errorf("freshly seeded clinician %d, %s: %+v", id, m[1], f)
				}
			}
		}},
		{"unapplied-migration", func(t *testing.T, e env, _ report) {
			out := e.app.MustManage(t, "showmigrations", "config")
			if !strings.Contains(out, " [ ] 0003_shift_constraints") || !strings.Contains(out, " [X] 0002_auditlog_entity_timestamp_idx") {
				t.Errorf("showmigrations:\n%s", out)
			}
			if got := constraintNames(t, e); strings.Contains(got, "config_shift_duration_positive") || strings.Contains(got, "config_shift_unique") {
				t.Errorf("0003's constraints are still there: %s", got)
			}
			// The runbook's fix.
			e.app.MustManage(t, "migrate", "--noinput")
			if got := constraintNames(t, e); !strings.Contains(got, "config_shift_duration_positive") || !strings.Contains(got, "config_shift_unique_clinician_date_type") {
				t.Errorf("after migrate the constraints are %s", got)
			}
		}},
		{"race-condition", func(t *testing.T, e env, r report) {
			f := e.figures(t, r.Clinicians[0], r.PeriodStart, r.PeriodEnd)
			if f.summary != f.source-1 || f.cache != strconv.Itoa(f.summary) {
				t.Errorf("figures = %+v; want summary and cache one below the source", f)
			}
			// Two UPDATEs of one shift, by two people, within a second.
			got := rows(t, e.db, `SELECT entity_id, count(*), count(DISTINCT changed_by),
  max(timestamp) - min(timestamp) < interval '1 second'
FROM config_auditlog WHERE entity_type = 'Shift' AND action = 'UPDATE' GROUP BY entity_id`)
			if len(got) != 1 || got[0][1] != "2" || got[0][2] != "2" || got[0][3] != "true" {
				t.Errorf("concurrent updates in the audit log: %v", got)
			}
		}},
		{"stale-cache", func(t *testing.T, e env, r report) {
			f := e.figures(t, r.Clinicians[0], r.PeriodStart, r.PeriodEnd)
			if f.summary != f.source || f.cache != strconv.Itoa(f.source+2) {
				t.Errorf("figures = %+v; want the summary right and the cache two above", f)
			}
		}},
		{"constraint-bypass", func(t *testing.T, e env, r report) {
			f := e.figures(t, r.Clinicians[0], r.PeriodStart, r.PeriodEnd)
			if f.source != f.summary+2 || f.cache != strconv.Itoa(f.summary) {
				t.Errorf("figures = %+v; want the source two above summary and cache", f)
			}
			notValid := rows(t, e.db, `SELECT conname FROM pg_constraint WHERE NOT convalidated`)
			if len(notValid) != 1 || notValid[0][0] != "config_shift_duration_positive" {
				t.Errorf("NOT VALID constraints: %v", notValid)
			}
			if got := constraintNames(t, e); strings.Contains(got, "config_shift_unique_clinician_date_type") {
				t.Errorf("the unique constraint survived: %s", got)
			}
			if out := e.app.MustManage(t, "showmigrations", "config"); !strings.Contains(out, " [X] 0003_shift_constraints") {
				t.Errorf("0003 should still be recorded as applied:\n%s", out)
			}
		}},
		{"business-rule", func(t *testing.T, e env, r report) {
			if len(r.Clinicians) == 0 {
				t.Fatal("no clinician affected")
			}
			wrong := map[int]bool{}
			for _, m := range e.everyMonth(t) {
				id, _ := strconv.Atoi(m[0])
				f := e.figures(t, id, m[1], m[2])
				if f.cache != strconv.Itoa(f.summary) || f.summary < f.source {
					t.Errorf("clinician %d, %s: %+v; want summary = cache >= source", id, m[1], f)
				}
				if f.summary > f.source {
					wrong[id] = true
				}
			}
			for _, id := range r.Clinicians {
				if !wrong[id] {
					t.Errorf("clinician %d is reported affected but all figures are right", id)
				}
			}
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.app.MustManage(t, "migrate", "--noinput")
			e.app.MustManage(t, "seed_clinic", "--clinicians", "5", "--months", "2")
			var r report
			if tc.fault != "none" {
				out := e.app.MustManage(t, "inject_fault", "--fault", tc.fault, "--json")
				if err := json.Unmarshal([]byte(out), &r); err != nil || r.Fault != tc.fault {
					t.Fatalf("inject_fault printed %q (%v)", out, err)
				}
				t.Log(r.Detail)
			}
			tc.check(t, e, r)
		})
	}
}

func constraintNames(t *testing.T, e env) string {
	return fmt.Sprint(rows(t, e.db, `SELECT conname FROM pg_constraint WHERE conrelid = 'config_shift'::regclass ORDER BY 1`))
}
