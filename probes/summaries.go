package probes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/clinic"
	"steady/config"
	"steady/target"
)

// Summaries answers "does the stored calculation follow the rule?" — the
// runbook's business-rule cause: every stored summary (worked shifts and
// deficiency per clinician and period) against the figures recomputed from
// the shift rows under the worked-shift rule (COMPLETED, duration > 0;
// deficiency = max(contracted − worked, 0)).
//
// Reads: the summary table (optionally narrowed by clinician and dates),
// the clinicians' contracted shifts, and the shift rows of the summarised
// periods, joined on clinician_id in one statement.
// Cost: one pass over the summaries and the shift rows they cover, joined
// per clinician and calendar month by hash (measured: 1.4 s for 48,000
// summaries over 720,000 shifts, 2 CPU cores; linear beyond); bounded by
// probes.statement_timeout — narrow it with clinician/from/to if it is cut
// short.
// Never: recalculates or writes a summary.
type Summaries struct{}

func init() { Register(Summaries{}) }

// ID implements Probe.
func (Summaries) ID() string { return "summaries" }

// Title implements Probe.
func (Summaries) Title() string { return "Stored summaries against the calculation rule" }

// Params implements Probe.
func (Summaries) Params() []Param {
	return []Param{
		{Name: "clinician", Kind: "int", Help: "check only this clinician's summaries"},
		{Name: "from", Kind: "date", Help: "check only summaries ending on or after this date"},
		{Name: "to", Kind: "date", Help: "check only summaries starting on or before this date"},
	}
}

// summaryRow is one stored summary with the figures recomputed for it.
type summaryRow struct {
	clinician          int64
	from, to           time.Time
	worked, deficiency int64
	contracted         *int64
	actual             int64 // worked shifts under the rule
	withCancelled      int64 // the same counting cancelled shifts
	cancelled          int64
}

func (s summaryRow) expectedDeficiency() int64 {
	if s.contracted == nil {
		return s.deficiency
	}
	return int64(clinic.DeficiencyOf(int(*s.contracted), int(s.actual)))
}

func (s summaryRow) differs() bool {
	return s.worked != s.actual || s.deficiency != s.expectedDeficiency()
}

// explain says in words why a summary differs.
func (s summaryRow) explain() string {
	switch {
	case s.worked == s.actual:
		return fmt.Sprintf("deficiency %d does not follow contracted − worked (%d)", s.deficiency, s.expectedDeficiency())
	case s.cancelled > 0 && s.worked == s.withCancelled:
		return fmt.Sprintf("counts the %s as worked", plural(int(s.cancelled), "cancelled shift", "cancelled shifts"))
	case s.worked < s.actual:
		return "fewer than the shift rows give: computed before later changes (recalculate)"
	}
	return "more than the shift rows give"
}

// Run implements Probe.
func (s Summaries) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, s.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		tb := cfg.Django.Tables
		if tb.Summary == "" {
			return skip("no summary table in the profile (django.tables.summary in steady.yaml)")
		}
		where := []string{"true"}
		var args []any
		if p["clinician"] != "" {
			c, err := p.int("clinician")
			if err != nil {
				return err
			}
			args = append(args, c)
			where = append(where, fmt.Sprintf("m.clinician_id = $%d", len(args)))
		}
		if p["from"] != "" {
			d, err := p.date("from")
			if err != nil {
				return err
			}
			args = append(args, d)
			where = append(where, fmt.Sprintf("m.period_end >= $%d", len(args)))
		}
		if p["to"] != "" {
			d, err := p.date("to")
			if err != nil {
				return err
			}
			args = append(args, d)
			where = append(where, fmt.Sprintf("m.period_start <= $%d", len(args)))
		}
		var total int
		var bad []summaryRow
		err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, tb.Summary).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return skip("the summary table %s does not exist (is calculations.0001 applied? see the migrations probe; or set django.tables.summary)", tb.Summary)
			}
			rows, err := tx.Query(ctx, summariesSQL(cfg, strings.Join(where, " AND ")), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var s summaryRow
				var differing int
				if err := rows.Scan(&differing, &s.clinician, &s.from, &s.to, &s.worked, &s.deficiency, &s.contracted, &s.actual, &s.withCancelled, &s.cancelled, &total); err != nil {
					return err
				}
				bad = append(bad, s)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if len(bad) > 0 {
				return nil
			}
			// All agree: the evidence says what was checked, per period.
			rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT m.period_start, m.period_end, count(*)::int, sum(m.worked_shifts)::int8, sum(m.deficiency)::int8
FROM %s m WHERE %s GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %d`, ident(tb.Summary), strings.Join(where, " AND "), maxRows), args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			r.Evidence = Table{Title: "summaries checked, per period (all agree with the rule)", Columns: []string{"period", "summaries", "worked shifts", "deficiency"}}
			for rs.Next() {
				var from, to time.Time
				var n int
				var worked, deficiency int64
				if err := rs.Scan(&from, &to, &n, &worked, &deficiency); err != nil {
					return err
				}
				total += n
				r.Evidence.Rows = append(r.Evidence.Rows, []string{dateOnly(from) + ".." + dateOnly(to), fmt.Sprint(n), fmt.Sprint(worked), fmt.Sprint(deficiency)})
			}
			return rs.Err()
		})
		if err != nil {
			return err
		}
		if len(bad) == 0 {
			r.Summary = fmt.Sprintf("all %s agree with the rule (worked = COMPLETED with duration > 0; deficiency = contracted − worked, at least 0)", plural(total, "stored summary", "stored summaries"))
			r.add(OK, "summaries.agree", r.Summary, map[string]any{"checked": total})
			return nil
		}
		r.Evidence = Table{Title: "summaries that differ from the rule", Columns: []string{"clinician", "period", "stored worked", "rule worked", "stored deficiency", "rule deficiency", "why"}}
		clinicians := map[int64]bool{}
		counted := 0
		for _, s := range bad {
			clinicians[s.clinician] = true
			if s.cancelled > 0 && s.worked == s.withCancelled && s.worked != s.actual {
				counted++
			}
		}
		r.Summary = fmt.Sprintf("%d of %s differ from the rule, for %s", len(bad), plural(total, "stored summary", "stored summaries"), plural(len(clinicians), "clinician", "clinicians"))
		if counted == len(bad) {
			r.Summary += ": each counts cancelled shifts as worked"
		}
		r.add(Fail, "summaries.differ", r.Summary, map[string]any{"differ": len(bad), "checked": total, "clinicians": len(clinicians), "cancelled_counted": counted})
		for i, s := range bad {
			period := dateOnly(s.from) + ".." + dateOnly(s.to)
			r.Affected = append(r.Affected, Scope{Clinician: s.clinician, From: dateOnly(s.from), To: dateOnly(s.to)})
			r.Evidence.Rows = append(r.Evidence.Rows, []string{fmt.Sprint(s.clinician), period, fmt.Sprint(s.worked), fmt.Sprint(s.actual),
				fmt.Sprint(s.deficiency), fmt.Sprint(s.expectedDeficiency()), s.explain()})
			if i < maxFindings {
				r.add(Fail, "summaries.row", fmt.Sprintf("clinician %d, %s: stored %d worked / deficiency %d, rule gives %d / %d: %s",
					s.clinician, period, s.worked, s.deficiency, s.actual, s.expectedDeficiency(), s.explain()),
					map[string]any{"clinician": s.clinician, "from": dateOnly(s.from), "to": dateOnly(s.to), "stored": s.worked, "actual": s.actual,
						"stored_deficiency": s.deficiency, "expected_deficiency": s.expectedDeficiency()})
			}
		}
		if len(bad) > maxFindings {
			r.add(Fail, "summaries.row", fmt.Sprintf("… and %d more (see the evidence)", len(bad)-maxFindings), nil)
		}
		r.Evidence.limit(maxRows)
		return nil
	})
}

// summariesSQL compares every summary matching where (conditions on m)
// with the rule; it returns the differing ones (at most 1000) with the
// number that differ and the number checked.
func summariesSQL(cfg *config.Config, where string) string {
	tb := cfg.Django.Tables
	return fmt.Sprintf(`
WITH m AS (
  SELECT m.id, m.clinician_id, m.period_start, m.period_end, m.worked_shifts::int8 AS worked, m.deficiency::int8 AS deficiency,
         m.period_start = date_trunc('month', m.period_start)::date
           AND m.period_end = (date_trunc('month', m.period_start) + interval '1 month - 1 day')::date AS monthly
  FROM %[1]s m WHERE %[4]s
), per_month AS (
  -- Calendar-month summaries (the application's) join the shifts counted
  -- once per clinician and month: a hash join, not a range join.
  SELECT x.clinician_id, date_trunc('month', x.date)::date AS month,
         count(*) FILTER (WHERE %[5]s) AS actual,
         count(*) FILTER (WHERE %[6]s) AS with_cancelled,
         count(*) FILTER (WHERE x.status = 'CANCELLED') AS cancelled
  FROM %[2]s x
  WHERE x.date BETWEEN (SELECT min(period_start) FROM m WHERE monthly) AND (SELECT max(period_end) FROM m WHERE monthly)
  GROUP BY 1, 2
), a AS (
  SELECT m.id, coalesce(p.actual, 0) AS actual, coalesce(p.with_cancelled, 0) AS with_cancelled, coalesce(p.cancelled, 0) AS cancelled
  FROM m LEFT JOIN per_month p ON p.clinician_id = m.clinician_id AND p.month = m.period_start
  WHERE m.monthly
  UNION ALL
  SELECT m.id,
         count(x.id) FILTER (WHERE %[5]s),
         count(x.id) FILTER (WHERE %[6]s),
         count(x.id) FILTER (WHERE x.status = 'CANCELLED')
  FROM m LEFT JOIN %[2]s x ON x.clinician_id = m.clinician_id AND x.date BETWEEN m.period_start AND m.period_end
  WHERE NOT m.monthly
  GROUP BY m.id
)
SELECT count(*) OVER (), d.* FROM (
  SELECT m.clinician_id, m.period_start, m.period_end, m.worked, m.deficiency, c.contracted_shifts::int8, a.actual, a.with_cancelled, a.cancelled,
         count(*) OVER () AS checked
  FROM m JOIN a USING (id) LEFT JOIN %[3]s c ON c.id = m.clinician_id
) d
WHERE d.worked <> d.actual OR (d.contracted_shifts IS NOT NULL AND d.deficiency <> greatest(d.contracted_shifts - d.actual, 0))
ORDER BY d.clinician_id, d.period_start LIMIT 1000`,
		ident(tb.Summary), ident(tb.Shift), ident(tb.Clinician), where,
		qualify("x", clinic.WorkedCondition), qualify("x", clinic.CancelledAsWorkedCondition))
}

// qualify prefixes the column names of a rule condition with a table alias.
func qualify(alias, cond string) string {
	for _, col := range []string{"status", "duration"} {
		cond = strings.ReplaceAll(cond, col+" ", alias+"."+col+" ")
	}
	return cond
}

// storedFigure is what the summary table says about one clinician over one
// range, and how that was worked out.
type storedFigure struct {
	// how says which summaries were used: an exact period match, or the
	// sum of the summaries inside the range.
	how string
	// worked is the stored figure; rule and withCancelled are recomputed
	// over the same periods, so they compare like with like.
	worked, rule, withCancelled int64
	// covers is true when the periods used are exactly the range.
	covers bool
	from   time.Time
	to     time.Time
}

// storedSummary reads the summaries of clinician that lie inside [from,
// to]; nil when the profile has no summary table or none lies inside.
func storedSummary(ctx context.Context, tx pgx.Tx, cfg *config.Config, clinician int64, from, to time.Time) (*storedFigure, error) {
	tb := cfg.Django.Tables
	if tb.Summary == "" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`
SELECT m.period_start, m.period_end, m.worked_shifts::int8,
  (SELECT count(*) FROM %[2]s s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND %[3]s),
  (SELECT count(*) FROM %[2]s s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND %[4]s)
FROM %[1]s m WHERE m.clinician_id = $1 AND m.period_start >= $2 AND m.period_end <= $3
ORDER BY m.period_start, m.period_end LIMIT 500`, ident(tb.Summary), ident(tb.Shift), qualify("s", clinic.WorkedCondition), qualify("s", clinic.CancelledAsWorkedCondition)),
		clinician, from, to)
	if err != nil {
		return nil, err
	}
	type row struct {
		from, to                    time.Time
		worked, rule, withCancelled int64
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.from, &x.to, &x.worked, &x.rule, &x.withCancelled)
		return x, err
	})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	f := &storedFigure{from: list[0].from, to: list[len(list)-1].to}
	contiguous := true
	for i, x := range list {
		f.worked += x.worked
		f.rule += x.rule
		f.withCancelled += x.withCancelled
		if i > 0 && !x.from.Equal(list[i-1].to.AddDate(0, 0, 1)) {
			contiguous = false
		}
	}
	f.covers = contiguous && f.from.Equal(from) && f.to.Equal(to)
	switch {
	case len(list) == 1 && f.covers:
		f.how = "exact period match " + dateOnly(from) + ".." + dateOnly(to)
	case f.covers:
		f.how = fmt.Sprintf("sum of %d summaries covering the range", len(list))
	default:
		f.how = fmt.Sprintf("sum of %s inside the range, covering %s..%s only; compared with the rule over the same periods",
			plural(len(list), "summary", "summaries"), dateOnly(f.from), dateOnly(f.to))
	}
	return f, nil
}
