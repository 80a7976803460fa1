package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"steady/internal/clinic"
	"steady/internal/config"
)

// The business-rule tests of the sandbox's `manage.py test calculations`:
// the example application's calculations/tests.py (the rule, the database
// constraints it relies on, deficiency, recalculation) plus the data check
// the runbook's "all tests pass" means during an incident: every stored
// summary follows the rule. They run in one transaction on the sandbox
// database, each in a savepoint, and everything is rolled back at the end.

// assertion is a test failure, as opposed to an error while testing.
type assertion struct{ msg string }

func (a *assertion) Error() string { return a.msg }

func failf(format string, args ...any) error { return &assertion{msg: fmt.Sprintf(format, args...)} }

// ruleTest is one test method.
type ruleTest struct {
	class, name string
	run         func(ctx context.Context, t *testDB) error
}

// testDB is a test's view of the database: a savepoint of its own.
type testDB struct {
	tx  pgx.Tx
	cfg *config.Config
}

func (t *testDB) clinician(ctx context.Context, contracted int) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, fmt.Sprintf(`INSERT INTO %s (name, email, contracted_shifts, active, created_at)
VALUES ('Dr Test', 'test@clinic.example', $1, true, now()) RETURNING id`, t.cfg.Profile.Clinician.Table), contracted).Scan(&id)
	return id, err
}

// shift inserts one shift inside a savepoint of its own, so a test can
// expect the insert to be refused and carry on.
func (t *testDB) shift(ctx context.Context, clinician int64, day string, status, typ string, duration float64) error {
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return err
	}
	_, err = sp.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (date, type, duration, status, created_at, updated_at, clinician_id)
VALUES ($1, $2, $3, $4, now(), now(), $5)`, t.cfg.Profile.Shift.Table), day, typ, duration, status, clinician)
	if err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

func (t *testDB) count(ctx context.Context, clinician int64, from, to string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, fmt.Sprintf(clinic.WorkedShiftsSQL, t.cfg.Profile.Shift.Table), clinician, from, to).Scan(&n)
	return n, err
}

func (t *testDB) recalculate(ctx context.Context, clinician int64, from, to string) (*recalculation, error) {
	f, _ := time.Parse(time.DateOnly, from)
	l, _ := time.Parse(time.DateOnly, to)
	return recalculate(ctx, t.tx, t.cfg, clinician, f, l)
}

// isViolation reports whether err is the constraint violation code
// (23514 check, 23505 unique).
func isViolation(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func countTest(name string, setup func(ctx context.Context, t *testDB, me, other int64) error, want int) ruleTest {
	return ruleTest{class: "WorkedShiftRuleTests", name: name, run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 4)
		if err != nil {
			return err
		}
		other, err := t.clinician(ctx, 4)
		if err != nil {
			return err
		}
		if err := setup(ctx, t, me, other); err != nil {
			return err
		}
		got, err := t.count(ctx, me, "2024-01-01", "2024-01-31")
		if err != nil {
			return err
		}
		if got != want {
			return failf("%d != %d: the worked-shift rule counted %d shifts, the rule (COMPLETED and duration > 0) gives %d", got, want, got, want)
		}
		return nil
	}}
}

var ruleTests = []ruleTest{
	countTest("test_completed_shifts_count", func(ctx context.Context, t *testDB, me, _ int64) error {
		return errors.Join(t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "DAY", 8), t.shift(ctx, me, "2024-01-03", clinic.StatusCompleted, "NIGHT", 12))
	}, 2),
	countTest("test_cancelled_and_scheduled_shifts_never_count", func(ctx context.Context, t *testDB, me, _ int64) error {
		return errors.Join(t.shift(ctx, me, "2024-01-02", clinic.StatusCancelled, "DAY", 8), t.shift(ctx, me, "2024-01-03", clinic.StatusScheduled, "DAY", 8),
			t.shift(ctx, me, "2024-01-04", clinic.StatusCompleted, "DAY", 8))
	}, 1),
	countTest("test_range_is_inclusive", func(ctx context.Context, t *testDB, me, _ int64) error {
		return errors.Join(t.shift(ctx, me, "2024-01-01", clinic.StatusCompleted, "DAY", 8), t.shift(ctx, me, "2024-01-31", clinic.StatusCompleted, "DAY", 8),
			t.shift(ctx, me, "2024-02-01", clinic.StatusCompleted, "DAY", 8))
	}, 2),
	countTest("test_other_clinicians_shifts_do_not_count", func(ctx context.Context, t *testDB, _, other int64) error {
		return t.shift(ctx, other, "2024-01-02", clinic.StatusCompleted, "DAY", 8)
	}, 0),
	{class: "DatabaseConstraintTests", name: "test_duration_must_be_positive", run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 4)
		if err != nil {
			return err
		}
		err = t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "DAY", 0)
		switch {
		case err == nil:
			return failf("IntegrityError not raised: a shift of 0 hours was accepted (the CHECK (duration > 0) of config.0003_shift_constraints is missing)")
		case !isViolation(err, "23514"):
			return err
		}
		return nil
	}},
	{class: "DatabaseConstraintTests", name: "test_one_shift_per_clinician_date_and_type", run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 4)
		if err != nil {
			return err
		}
		if err := t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "DAY", 8); err != nil {
			return err
		}
		err = t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "DAY", 8)
		switch {
		case err == nil:
			return failf("IntegrityError not raised: a second DAY shift of one clinician on one date was accepted (the UNIQUE (clinician_id, date, type) of config.0003_shift_constraints is missing)")
		case !isViolation(err, "23505"):
			return err
		}
		return t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "NIGHT", 10)
	}},
	{class: "DeficiencyTests", name: "test_deficiency_is_contracted_minus_worked", run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 3)
		if err != nil {
			return err
		}
		if err := t.shift(ctx, me, "2024-01-02", clinic.StatusCompleted, "DAY", 8); err != nil {
			return err
		}
		r, err := t.recalculate(ctx, me, "2024-01-01", "2024-01-31")
		if err != nil {
			return err
		}
		if d := r.Months[0].Deficiency; d != 2 {
			return failf("%d != 2: 3 contracted, 1 worked", d)
		}
		return nil
	}},
	{class: "DeficiencyTests", name: "test_deficiency_is_never_negative", run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 3)
		if err != nil {
			return err
		}
		for day := 1; day <= 5; day++ {
			if err := t.shift(ctx, me, fmt.Sprintf("2024-01-%02d", day), clinic.StatusCompleted, "DAY", 8); err != nil {
				return err
			}
		}
		r, err := t.recalculate(ctx, me, "2024-01-01", "2024-01-31")
		if err != nil {
			return err
		}
		if d := r.Months[0].Deficiency; d != 0 {
			return failf("%d != 0: a surplus is not a negative deficiency", d)
		}
		return nil
	}},
	{class: "RecalculationTests", name: "test_recalculation_stores_monthly_summaries", run: func(ctx context.Context, t *testDB) error {
		me, err := t.clinician(ctx, 2)
		if err != nil {
			return err
		}
		for _, s := range []struct{ day, status string }{
			{"2024-01-02", clinic.StatusCompleted}, {"2024-01-03", clinic.StatusCancelled},
			{"2024-02-05", clinic.StatusCompleted}, {"2024-02-06", clinic.StatusCompleted}, {"2024-02-07", clinic.StatusCompleted},
		} {
			if err := t.shift(ctx, me, s.day, s.status, "DAY", 8); err != nil {
				return err
			}
		}
		r, err := t.recalculate(ctx, me, "2024-01-01", "2024-02-29")
		if err != nil {
			return err
		}
		if r.Total != 4 {
			return failf("%d != 4 worked shifts over January and February", r.Total)
		}
		rows, err := t.tx.Query(ctx, fmt.Sprintf(`SELECT period_start::text, worked_shifts, deficiency FROM %s WHERE clinician_id = $1 ORDER BY period_start`, t.cfg.Profile.Summary.Table), me)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var from string
			var w, d int
			err := r.Scan(&from, &w, &d)
			return fmt.Sprintf("%s %d %d", from, w, d), err
		})
		if err != nil {
			return err
		}
		if want := "2024-01-01 1 1, 2024-02-01 3 0"; strings.Join(got, ", ") != want {
			return failf("summaries %q != %q", strings.Join(got, ", "), want)
		}
		return nil
	}},
	{class: "StoredFigureTests", name: "test_stored_summaries_follow_the_rule", run: func(ctx context.Context, t *testDB) error {
		pf := t.cfg.Profile
		rows, err := t.tx.Query(ctx, fmt.Sprintf(`
SELECT m.clinician_id, m.period_start::text, m.period_end::text, m.worked_shifts, m.deficiency, w.n, greatest(c.contracted_shifts - w.n, 0)
FROM %[1]s m JOIN %[2]s c ON c.id = m.clinician_id
CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM %[3]s s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND %[4]s) w
WHERE m.worked_shifts <> w.n OR m.deficiency <> greatest(c.contracted_shifts - w.n, 0)
ORDER BY m.clinician_id, m.period_start`, pf.Summary.Table, pf.Clinician.Table, pf.Shift.Table, clinic.WorkedCondition))
		if err != nil {
			return err
		}
		wrong, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var c int64
			var from, to string
			var w, d, rw, rd int
			err := r.Scan(&c, &from, &to, &w, &d, &rw, &rd)
			return fmt.Sprintf("clinician %d, %s..%s: stored %d worked / deficiency %d, the rule gives %d / %d", c, from, to, w, d, rw, rd), err
		})
		if err != nil {
			return err
		}
		if len(wrong) > 0 {
			shown := wrong[:min(len(wrong), 5)]
			more := ""
			if len(wrong) > len(shown) {
				more = fmt.Sprintf("\n  … and %d more", len(wrong)-len(shown))
			}
			return failf("%d stored summaries do not follow the worked-shift rule:\n  %s%s", len(wrong), strings.Join(shown, "\n  "), more)
		}
		return nil
	}},
}

// runTests is `manage.py test [calculations]`, printed as Django's test
// runner prints at verbosity 1. Any failure or error exits 1.
func runTests(ctx context.Context, conn *pgx.Conn, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a != "calculations" && !strings.HasPrefix(a, "-") {
			fmt.Fprintf(stderr, "steady's sandbox has the tests of calculations only, not %q\n", a)
			return 2
		}
	}
	cfg := config.Default()
	started := time.Now()
	fmt.Fprintln(stderr, "Using the sandbox database inside a transaction that is rolled back at the end (steady's built-in tests)...")
	fmt.Fprintln(stderr, "System check identified no issues (0 silenced).")
	tx, err := conn.Begin(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "django.db.utils.OperationalError: %s\n", oneLine(err))
		return 1
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // everything is thrown away on purpose
	type problem struct {
		kind string
		t    ruleTest
		err  error
	}
	var problems []problem
	var dots strings.Builder
	for _, rt := range ruleTests {
		sp, err := tx.Begin(ctx)
		if err == nil {
			err = rt.run(ctx, &testDB{tx: sp, cfg: &cfg})
			_ = sp.Rollback(ctx)
		}
		var a *assertion
		switch {
		case err == nil:
			dots.WriteByte('.')
		case errors.As(err, &a):
			dots.WriteByte('F')
			problems = append(problems, problem{"FAIL", rt, err})
		default:
			dots.WriteByte('E')
			problems = append(problems, problem{"ERROR", rt, err})
		}
	}
	fmt.Fprintln(stderr, dots.String())
	failures, errs := 0, 0
	for _, p := range problems {
		if p.kind == "FAIL" {
			failures++
		} else {
			errs++
		}
		fmt.Fprintln(stderr, strings.Repeat("=", 70))
		fmt.Fprintf(stderr, "%s: %s (calculations.tests.%s)\n", p.kind, p.t.name, p.t.class)
		fmt.Fprintln(stderr, strings.Repeat("-", 70))
		kind := "AssertionError"
		if p.kind == "ERROR" {
			kind = "django.db.utils." + strings.SplitN(describePgError(p.err), ":", 2)[0]
		}
		fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"calculations/tests.py\", in %s\n%s: %s\n\n", p.t.name, kind, p.err)
	}
	fmt.Fprintln(stderr, strings.Repeat("-", 70))
	fmt.Fprintf(stderr, "Ran %d tests in %.3fs\n\n", len(ruleTests), time.Since(started).Seconds())
	if len(problems) == 0 {
		fmt.Fprintln(stderr, "OK")
		return 0
	}
	var parts []string
	if failures > 0 {
		parts = append(parts, fmt.Sprintf("failures=%d", failures))
	}
	if errs > 0 {
		parts = append(parts, fmt.Sprintf("errors=%d", errs))
	}
	fmt.Fprintf(stderr, "FAILED (%s)\n", strings.Join(parts, ", "))
	return 1
}
