package clinic

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/config"
)

// The faults below each turn a healthy database (Install, Seed, WarmCache)
// into one with a single root cause of the runbook, the way it happens in
// production, and say exactly what they changed so a test can demand the
// right numbers from the probe that should notice. They touch nothing the
// other causes' probes look at, so each probe's verdict stands alone.

// UnapplyMigration leaves the database as `manage.py migrate config 0002`
// would: config.0003_shift_constraints is reverted (its CHECK on positive
// durations and its UNIQUE on clinician, date and type are dropped) and
// its django_migrations row is deleted, since Django keeps no "unapplied"
// flag. The data is untouched.
func UnapplyMigration(ctx context.Context, db DB) error {
	_, err := db.Exec(ctx, `
ALTER TABLE config_shift DROP CONSTRAINT IF EXISTS config_shift_unique_clinician_date_type;
ALTER TABLE config_shift DROP CONSTRAINT IF EXISTS config_shift_duration_positive;
DELETE FROM django_migrations WHERE app = 'config' AND name = '0003_shift_constraints';`)
	if err != nil {
		return fmt.Errorf("unapply config.0003_shift_constraints: %w", err)
	}
	return nil
}

// RaceOptions tunes RaceCondition.
type RaceOptions struct {
	// Groups is how many shifts get a concurrent write (default 3).
	Groups int
	// Within is how recent the chosen sign-offs are (default 5 days, so the
	// audit probe's default range of 7 days sees them).
	Within time.Duration
	// Seed picks the shifts reproducibly (default 1).
	Seed int64
}

// RaceGroup is one shift written twice within one second.
type RaceGroup struct {
	Shift     int64
	Clinician int64
	Date      time.Time
	// Second is the second both writes fall in.
	Second time.Time
	// Writers are the changed_by of the two writes, in time order.
	Writers []string
	// Lost describes the update that did not survive.
	Lost string
}

// RaceCondition reproduces the lost update of two requests saving one shift
// at once: for Groups recently completed shifts, a rota admin recorded
// overtime (duration +2 h) in the same second as the clinician's sign-off,
// both working from the row as it was before either wrote. The audit log
// has both UPDATE rows within one second; the shift row shows the
// sign-off's save, which wrote the old duration back, so the overtime in
// the audit log is missing from the data. Worked counts do not change.
func RaceCondition(ctx context.Context, db DB, opts RaceOptions) ([]RaceGroup, error) {
	if opts.Groups <= 0 {
		opts.Groups = 3
	}
	if opts.Within <= 0 {
		opts.Within = 5 * 24 * time.Hour
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	// Only sign-offs at least 100 ms into their second, so the earlier
	// write fits in the same second.
	rows, err := db.Query(ctx, `
SELECT a.entity_id, a.timestamp, a.changed_by, s.clinician_id, s.date, s.duration::float8
FROM config_auditlog a JOIN config_shift s ON s.id = a.entity_id
WHERE a.entity_type = 'Shift' AND a.action = 'UPDATE' AND s.status = 'COMPLETED'
  AND a.timestamp >= now() - make_interval(secs => $1) AND a.timestamp < now() - interval '1 minute'
  AND a.timestamp - date_trunc('second', a.timestamp) >= interval '100 milliseconds'
ORDER BY a.entity_id`, opts.Within.Seconds())
	if err != nil {
		return nil, fmt.Errorf("race condition: find recent sign-offs: %w", err)
	}
	type candidate struct {
		shift, clinician int64
		ts               time.Time
		by               string
		date             time.Time
		duration         float64
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := r.Scan(&c.shift, &c.ts, &c.by, &c.clinician, &c.date, &c.duration)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("race condition: %w", err)
	}
	if len(cands) < opts.Groups {
		return nil, fmt.Errorf("race condition: only %d shifts were signed off in the last %s, need %d (seed with Now close to the present)", len(cands), opts.Within, opts.Groups)
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x7ace))
	var groups []RaceGroup
	for _, i := range rng.Perm(len(cands))[:opts.Groups] {
		c := cands[i]
		second := c.ts.Truncate(time.Second)
		into := c.ts.Sub(second)
		earlier := second.Add(time.Duration(rng.Int64N(int64(into/time.Millisecond))) * time.Millisecond)
		old := fmt.Sprintf("%.2f", c.duration)
		overtime := fmt.Sprintf("%.2f", c.duration+2)
		if _, err := db.Exec(ctx, `INSERT INTO config_auditlog (entity_type, entity_id, action, timestamp, changed_by, changes)
VALUES ('Shift', $1, 'UPDATE', $2, 'rota-admin', $3)`, c.shift, earlier, map[string]any{"duration": []string{old, overtime}}); err != nil {
			return nil, fmt.Errorf("race condition: write the concurrent update of shift %d: %w", c.shift, err)
		}
		groups = append(groups, RaceGroup{
			Shift: c.shift, Clinician: c.clinician, Date: c.date, Second: second,
			Writers: []string{"rota-admin", c.by},
			Lost:    fmt.Sprintf("duration %s → %s by rota-admin (the row still says %s)", old, overtime, old),
		})
	}
	return groups, nil
}

// StaleOptions tunes StaleCache.
type StaleOptions struct {
	// Clinicians is how many clinicians get a stale cached count (default 3).
	Clinicians int
	// Seed picks them reproducibly (default 1).
	Seed int64
}

// StaleKey is a cache key whose value no longer matches the database.
type StaleKey struct {
	Key       string
	Clinician int64
	Period    Period
	Cached    int
	Actual    int
}

// StaleCache reproduces a missing cache invalidation: for Clinicians
// clinicians, one shift they completed last month is cancelled after the
// fact (row, audit UPDATE, and the month's summary recalculated, as the
// application's save does), but the cached worked-shift count of that
// month is not deleted. The cache then says one more than the database.
// The keys must exist (WarmCache first).
func StaleCache(ctx context.Context, db DB, rdb redis.UniversalClient, cfg *config.Config, opts StaleOptions) ([]StaleKey, error) {
	if opts.Clinicians <= 0 {
		opts.Clinicians = 3
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	// The earliest completed shift of each clinician last month: its
	// sign-off is weeks old, far from the write made here.
	rows, err := db.Query(ctx, fmt.Sprintf(`
SELECT DISTINCT ON (clinician_id) clinician_id, id, date FROM config_shift
WHERE %s AND date >= date_trunc('month', now()) - interval '1 month' AND date < date_trunc('month', now())
ORDER BY clinician_id, date`, WorkedCondition))
	if err != nil {
		return nil, fmt.Errorf("stale cache: find last month's shifts: %w", err)
	}
	type candidate struct {
		clinician, shift int64
		date             time.Time
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := r.Scan(&c.clinician, &c.shift, &c.date)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("stale cache: %w", err)
	}
	if len(cands) < opts.Clinicians {
		return nil, fmt.Errorf("stale cache: only %d clinicians worked last month, need %d", len(cands), opts.Clinicians)
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x57a1e))
	var out []StaleKey
	for _, i := range rng.Perm(len(cands))[:opts.Clinicians] {
		c := cands[i]
		p := MonthOf(c.date)
		key := cfg.Profile.Cache.WorkedKeyOf(c.clinician, p.FromDate(), p.ToDate())
		raw, err := rdb.Get(ctx, key).Result()
		if err != nil {
			return nil, fmt.Errorf("stale cache: read %s: %w (run WarmCache first)", key, err)
		}
		cached, err := strconv.Atoi(raw)
		if err != nil {
			return nil, fmt.Errorf("stale cache: %s holds %q, not a count", key, raw)
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("stale cache: begin: %w", err)
		}
		actual, err := cancelShift(ctx, tx, c.shift, c.clinician, p)
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // the error that matters is err
			return nil, fmt.Errorf("stale cache: cancel shift %d: %w", c.shift, err)
		}
		out = append(out, StaleKey{Key: key, Clinician: c.clinician, Period: p, Cached: cached, Actual: actual})
	}
	return out, nil
}

// cancelShift cancels one shift as the application does (row, audit,
// summary) and returns the month's worked count afterwards.
func cancelShift(ctx context.Context, tx pgx.Tx, shift, clinician int64, p Period) (int, error) {
	if _, err := tx.Exec(ctx, `UPDATE config_shift SET status = 'CANCELLED', updated_at = now() WHERE id = $1`, shift); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO config_auditlog (entity_type, entity_id, action, timestamp, changed_by, changes)
VALUES ('Shift', $1, 'UPDATE', clock_timestamp(), 'rota-admin', $2)`, shift, map[string]any{"status": []string{StatusCompleted, StatusCancelled}}); err != nil {
		return 0, err
	}
	var actual int
	err := tx.QueryRow(ctx, fmt.Sprintf(`
UPDATE calculations_shiftsummary m
SET worked_shifts = w.n, deficiency = greatest(c.contracted_shifts - w.n, 0), computed_at = now()
FROM (SELECT count(*)::int AS n FROM config_shift WHERE clinician_id = $1 AND date BETWEEN $2 AND $3 AND %s) w, config_clinician c
WHERE m.clinician_id = $1 AND m.period_start = $2 AND m.period_end = $3 AND c.id = m.clinician_id
RETURNING w.n`, WorkedCondition), clinician, p.From, p.To).Scan(&actual)
	return actual, err
}

// Bypass is what ConstraintBypass did.
type Bypass struct {
	// Clinician owns the rows that break the rules.
	Clinician int64
	// Constraint is the CHECK re-added NOT VALID.
	Constraint string
	// NonPositive are the shifts with duration <= 0.
	NonPositive []int64
	// Duplicate is the second row of one (clinician, date, type).
	Duplicate int64
	// Orphan is the shift whose clinician was deleted, MissingClinician.
	Orphan           int64
	MissingClinician int64
	// DisabledTriggers are the foreign key's triggers left disabled on
	// config_clinician.
	DisabledTriggers []string
}

// ConstraintBypass reproduces integrity bypassed by hand, the way a rushed
// bulk fix does it, in one transaction:
//
//   - the CHECK (duration > 0) is dropped, two shifts with durations 0 and
//     -8 are inserted, and the CHECK is re-added NOT VALID, so it guards new
//     rows while the bad ones stay;
//   - the UNIQUE (clinician_id, date, type) is dropped and one shift is
//     entered a second time (scheduled, so no count changes);
//   - the foreign key's triggers on config_clinician are disabled and a
//     locum clinician with one shift is deleted, orphaning that shift; the
//     triggers stay disabled.
//
// No audit rows are written (raw SQL bypasses the application), and no
// figure the other probes compare changes.
func ConstraintBypass(ctx context.Context, db DB) (*Bypass, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("constraint bypass: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	bp := &bypass{tx: tx, b: &Bypass{Constraint: "config_shift_duration_positive"}}
	// The foreign key is deferred; checking it at once lets the locum's
	// shift be checked before its clinician goes.
	if err := bp.step(ctx, "check constraints immediately", `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		return nil, err
	}
	days, err := bp.freeDays(ctx)
	if err != nil {
		return nil, err
	}
	bp.b.Clinician = days[0].clinician
	for _, fn := range []func(context.Context, []bypassDay) error{bp.nonPositive, bp.duplicate, bp.orphan} {
		if err := fn(ctx, days); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("constraint bypass: commit: %w", err)
	}
	return bp.b, nil
}

// bypass is the constraint bypass in its transaction.
type bypass struct {
	tx pgx.Tx
	b  *Bypass
}

// bypassDay is a day a clinician has no shift.
type bypassDay struct {
	clinician int64
	date      time.Time
}

// step runs one statement of the bypass.
func (bp *bypass) step(ctx context.Context, what, sql string, args ...any) error {
	if _, err := bp.tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("constraint bypass: %s: %w", what, err)
	}
	return nil
}

// freeDays finds two free days last month of the clinician with the lowest
// id.
func (bp *bypass) freeDays(ctx context.Context) ([]bypassDay, error) {
	rows, err := bp.tx.Query(ctx, `
SELECT c.id, d::date FROM (SELECT min(id) AS id FROM config_clinician) c,
     generate_series(date_trunc('month', now()) - interval '1 month', date_trunc('month', now()) - interval '1 day', interval '1 day') d
WHERE NOT EXISTS (SELECT 1 FROM config_shift s WHERE s.clinician_id = c.id AND s.date = d::date)
ORDER BY d LIMIT 2`)
	if err != nil {
		return nil, fmt.Errorf("constraint bypass: find free days: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bypassDay, error) {
		var d bypassDay
		err := r.Scan(&d.clinician, &d.date)
		return d, err
	})
	if err != nil || len(days) < 2 {
		return nil, fmt.Errorf("constraint bypass: no two free days last month (%v); seed first", err)
	}
	return days, nil
}

// nonPositive drops the CHECK, inserts two shifts of no length on the free
// days, and adds the CHECK back NOT VALID: it holds for new rows only.
func (bp *bypass) nonPositive(ctx context.Context, days []bypassDay) error {
	if err := bp.step(ctx, "drop the CHECK", `ALTER TABLE config_shift DROP CONSTRAINT IF EXISTS config_shift_duration_positive`); err != nil {
		return err
	}
	for i, dur := range []float64{0, -8} {
		var id int64
		if err := bp.tx.QueryRow(ctx, `INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id)
VALUES ($1, 'DAY', $2, 'COMPLETED', now(), now(), $3) RETURNING id`, days[i].date, dur, bp.b.Clinician).Scan(&id); err != nil {
			return fmt.Errorf("constraint bypass: insert a shift of duration %v: %w", dur, err)
		}
		bp.b.NonPositive = append(bp.b.NonPositive, id)
	}
	return bp.step(ctx, "re-add the CHECK NOT VALID", `ALTER TABLE config_shift ADD CONSTRAINT config_shift_duration_positive CHECK (duration > 0) NOT VALID`)
}

// duplicate drops the UNIQUE and copies the clinician's latest shift of
// before this month.
func (bp *bypass) duplicate(ctx context.Context, _ []bypassDay) error {
	if err := bp.step(ctx, "drop the UNIQUE", `ALTER TABLE config_shift DROP CONSTRAINT IF EXISTS config_shift_unique_clinician_date_type`); err != nil {
		return err
	}
	if err := bp.tx.QueryRow(ctx, `
INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id)
SELECT date, type, duration, 'SCHEDULED', now(), now(), clinician_id FROM config_shift
WHERE clinician_id = $1 AND date < date_trunc('month', now()) AND duration > 0 ORDER BY date DESC LIMIT 1
RETURNING id`, bp.b.Clinician).Scan(&bp.b.Duplicate); err != nil {
		return fmt.Errorf("constraint bypass: insert a duplicate shift: %w", err)
	}
	return nil
}

// orphan inserts a locum with a shift, then deletes the locum with the
// foreign key's triggers disabled: the shift is left without its clinician.
func (bp *bypass) orphan(ctx context.Context, days []bypassDay) error {
	b, tx := bp.b, bp.tx
	if err := tx.QueryRow(ctx, `INSERT INTO config_clinician (name, email, contracted_shifts, active, created_at)
VALUES ('Locum Cover', 'locum.cover@agency.example', 0, true, now()) RETURNING id`).Scan(&b.MissingClinician); err != nil {
		return fmt.Errorf("constraint bypass: insert a locum: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id)
VALUES ($1, 'NIGHT', 10, 'COMPLETED', now(), now(), $2) RETURNING id`, days[0].date, b.MissingClinician).Scan(&b.Orphan); err != nil {
		return fmt.Errorf("constraint bypass: insert the locum's shift: %w", err)
	}
	rows, err := tx.Query(ctx, `
SELECT t.tgname FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint
WHERE c.contype = 'f' AND c.conrelid = 'config_shift'::regclass AND c.confrelid = 'config_clinician'::regclass
  AND t.tgrelid = 'config_clinician'::regclass
ORDER BY t.tgname`)
	if err != nil {
		return fmt.Errorf("constraint bypass: find the foreign key's triggers: %w", err)
	}
	if b.DisabledTriggers, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("constraint bypass: %w", err)
	}
	for _, name := range b.DisabledTriggers {
		if err := bp.step(ctx, "disable "+name, `ALTER TABLE config_clinician DISABLE TRIGGER `+pgx.Identifier{name}.Sanitize()); err != nil {
			return err
		}
	}
	return bp.step(ctx, "delete the locum", `DELETE FROM config_clinician WHERE id = $1`, b.MissingClinician)
}

// BusinessRuleOptions tunes BusinessRule.
type BusinessRuleOptions struct {
	// Clinicians is how many clinicians' summaries are recomputed wrongly
	// (default 3); only clinicians with cancelled shifts are chosen.
	Clinicians int
}

// WrongSummary is a stored summary that disagrees with the rule.
type WrongSummary struct {
	Clinician int64
	Period    Period
	// Stored is what the summary says; Actual is the rule's count.
	Stored int
	Actual int
}

// BusinessRule reproduces a calculation that misreads the rule: the
// summaries of the first Clinicians clinicians (by id) with a cancelled
// shift are recomputed counting cancelled shifts as worked, deficiency
// included. It returns the summaries that now differ from the rule (months
// without a cancelled shift come out right, as they would in production).
// Source rows and the cache are untouched.
func BusinessRule(ctx context.Context, db DB, opts BusinessRuleOptions) ([]WrongSummary, error) {
	if opts.Clinicians <= 0 {
		opts.Clinicians = 3
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`
WITH chosen AS (
  SELECT DISTINCT s.clinician_id FROM config_shift s
  JOIN calculations_shiftsummary m ON m.clinician_id = s.clinician_id AND s.date BETWEEN m.period_start AND m.period_end
  WHERE s.status = 'CANCELLED' AND s.duration > 0
  ORDER BY 1 LIMIT $1
), wrong AS (
  SELECT m.id,
    (SELECT count(*)::int FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND %s) AS stored,
    (SELECT count(*)::int FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND %s) AS actual
  FROM calculations_shiftsummary m WHERE m.clinician_id IN (SELECT clinician_id FROM chosen)
)
UPDATE calculations_shiftsummary m
SET worked_shifts = w.stored, deficiency = greatest(c.contracted_shifts - w.stored, 0), computed_at = now()
FROM wrong w, config_clinician c
WHERE m.id = w.id AND c.id = m.clinician_id
RETURNING m.clinician_id, m.period_start, m.period_end, w.stored, w.actual`, CancelledAsWorkedCondition, WorkedCondition), opts.Clinicians)
	if err != nil {
		return nil, fmt.Errorf("business rule: recompute summaries: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WrongSummary, error) {
		var w WrongSummary
		err := r.Scan(&w.Clinician, &w.Period.From, &w.Period.To, &w.Stored, &w.Actual)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("business rule: %w", err)
	}
	var out []WrongSummary
	for _, w := range all {
		if w.Stored != w.Actual {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("business rule: no clinician has a cancelled shift, so no summary changed; seed more data")
	}
	slices.SortFunc(out, func(a, b WrongSummary) int {
		if a.Clinician != b.Clinician {
			return cmp.Compare(a.Clinician, b.Clinician)
		}
		return a.Period.From.Compare(b.Period.From)
	})
	return out, nil
}
