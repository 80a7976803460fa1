package drill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/celery"
	"steady/internal/clinic"
	"steady/internal/config"
)

// This file is the sandbox's copy of the application's calculation
// (examples/clinic/calculations/summaries.py): the one code path that writes
// summaries and cached counts. The worker runs it for every
// recalculate_clinician task and the built-in tests run it in a rolled-back
// transaction, so what the tests prove is what the worker does.

// recalculation is what one recalculate_clinician call stored.
type recalculation struct {
	Clinician int64
	From, To  time.Time
	Total     int
	Months    []monthFigure
	// figures are the cache entries to write: key → worked shifts.
	figures map[string]int
}

// monthFigure is one calendar month's summary.
type monthFigure struct {
	Period     clinic.Period
	Worked     int
	Deficiency int
}

// result is the task's return value, shaped like the Python task's.
func (r *recalculation) result() map[string]any {
	months := make([]map[string]any, len(r.Months))
	for i, m := range r.Months {
		months[i] = map[string]any{"period_start": m.Period.FromDate(), "period_end": m.Period.ToDate(),
			"worked_shifts": m.Worked, "deficiency": m.Deficiency}
	}
	return map[string]any{
		"clinician_id": r.Clinician, "start_date": r.From.Format(time.DateOnly), "end_date": r.To.Format(time.DateOnly),
		"worked_shifts": r.Total, "months": months,
	}
}

// months returns every calendar month overlapping [from, to].
func months(from, to time.Time) []clinic.Period {
	var out []clinic.Period
	for p := clinic.MonthOf(from); !p.From.After(to); p = clinic.MonthOf(p.To.AddDate(0, 0, 1)) {
		out = append(out, p)
	}
	return out
}

// errNoClinician is how the task fails for an unknown clinician, as
// Django's Clinician.objects.get does.
func errNoClinician(id int64) error {
	return &celery.TaskError{Type: "DoesNotExist", Module: "config.models", Args: []any{fmt.Sprintf("Clinician matching query does not exist. (id=%d)", id)}}
}

// recalculate recomputes, inside tx, the summary of every calendar month
// overlapping [from, to] for one clinician under the worked-shift rule,
// holding the clinician's row locked (the runbook's select_for_update) so
// two recalculations of one clinician never interleave.
func recalculate(ctx context.Context, tx pgx.Tx, cfg *config.Config, clinician int64, from, to time.Time) (*recalculation, error) {
	if to.Before(from) {
		return nil, &celery.TaskError{Type: "ValueError", Module: "builtins", Args: []any{fmt.Sprintf("end_date %s is before start_date %s", to.Format(time.DateOnly), from.Format(time.DateOnly))}}
	}
	pf := cfg.Profile
	var contracted int
	err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT contracted_shifts FROM %s WHERE id = $1 FOR UPDATE`, pf.Clinician.Table), clinician).Scan(&contracted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoClinician(clinician)
	}
	if err != nil {
		return nil, fmt.Errorf("lock clinician %d: %w", clinician, err)
	}
	count := func(from, to time.Time) (int, error) {
		var n int
		err := tx.QueryRow(ctx, fmt.Sprintf(clinic.WorkedShiftsSQL, pf.Shift.Table), clinician, from, to).Scan(&n)
		return n, err
	}
	r := &recalculation{Clinician: clinician, From: from, To: to, figures: map[string]int{}}
	for _, p := range months(from, to) {
		worked, err := count(p.From, p.To)
		if err != nil {
			return nil, fmt.Errorf("count the worked shifts of clinician %d in %s: %w", clinician, p, err)
		}
		m := monthFigure{Period: p, Worked: worked, Deficiency: clinic.DeficiencyOf(contracted, worked)}
		// update_or_create: update, and insert only when there was nothing.
		tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET worked_shifts = $4, deficiency = $5, computed_at = now()
WHERE clinician_id = $1 AND period_start = $2 AND period_end = $3`, pf.Summary.Table), clinician, p.From, p.To, m.Worked, m.Deficiency)
		if err == nil && tag.RowsAffected() == 0 {
			_, err = tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (clinician_id, period_start, period_end, worked_shifts, deficiency, computed_at)
VALUES ($1, $2, $3, $4, $5, now())`, pf.Summary.Table), clinician, p.From, p.To, m.Worked, m.Deficiency)
		}
		if err != nil {
			return nil, fmt.Errorf("store the summary of clinician %d for %s: %w", clinician, p, err)
		}
		r.Months = append(r.Months, m)
		r.figures[cfg.Profile.Cache.WorkedKeyOf(clinician, p.FromDate(), p.ToDate())] = worked
	}
	total, err := count(from, to)
	if err != nil {
		return nil, fmt.Errorf("count the worked shifts of clinician %d: %w", clinician, err)
	}
	r.Total = total
	r.figures[cfg.Profile.Cache.WorkedKeyOf(clinician, from.Format(time.DateOnly), to.Format(time.DateOnly))] = total
	return r, nil
}

// cacheFigures writes the counts as django-redis stores ints: plain
// digits, no expiry (cache.set_many(figures, timeout=None)).
func cacheFigures(ctx context.Context, rdb redis.UniversalClient, figures map[string]int) error {
	pipe := rdb.Pipeline()
	for k, v := range figures {
		pipe.Set(ctx, k, strconv.Itoa(v), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cache the recalculated counts: %w", err)
	}
	return nil
}
