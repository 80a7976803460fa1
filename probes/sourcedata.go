package probes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// SourceData answers the built-in runbook's Diagnosis step 3 (verify the
// source data) for one clinician and
// range: the shift rows themselves (date, type, duration, status) with the
// anomalies that corrupt counts marked — duplicates on (clinician, date,
// type), non-positive durations, cancelled rows — and, when the stored
// summary equals the count that includes the cancelled rows, the verdict
// "cancelled rows counted as worked".
//
// Reads: the clinician's shift rows in the range through the index on the
// clinician (at most 200 shown, anomalies counted over all), and the summaries
// lying inside the range.
// Cost: a few index lookups for one clinician, whatever the table size.
// Never: writes or corrects a row.
type SourceData struct{}

func init() { Register(SourceData{}) }

// ID implements Probe.
func (SourceData) ID() string { return "source-data" }

// Title implements Probe.
func (SourceData) Title() string { return "Shift rows of one clinician, anomalies marked" }

// Params implements Probe.
func (SourceData) Params() []Param { return clinicianParams() }

// Run implements Probe: read the rows and their counts, show the rows with
// their anomalies, then say what is wrong.
func (s SourceData) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, s.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		clinician, from, to, err := p.clinicianRange()
		if err != nil {
			return err
		}
		sr := &sourceRun{pf: &cfg.Profile, clinician: clinician, from: from, to: to}
		if err := t.ReadOnly(ctx, sr.read); err != nil {
			return err
		}
		rng := dateOnly(from) + ".." + dateOnly(to)
		sh := sr.pf.Shift
		r.Evidence = Table{Title: fmt.Sprintf("shifts of clinician %d, %s", clinician, rng), Columns: []string{sh.Date, or(sh.Type, "type"), or(sh.Duration, "duration"), sh.Status, "anomaly"}}
		sr.addRows(r)
		problems := sr.problems(r)
		if len(problems) > 0 {
			r.Affected = []Scope{{Clinician: clinician, From: dateOnly(from), To: dateOnly(to)}}
			r.Summary = fmt.Sprintf("clinician %d, %s: %s in %s: %s", clinician, rng, plural.Count(len(problems), "anomaly", "anomalies"), plural.Count(sr.total, "row", "rows"), strings.Join(problems, ", "))
		} else {
			r.Summary = fmt.Sprintf("clinician %d, %s: %s, no duplicates or non-positive durations", clinician, rng, plural.Count(sr.total, "row", "rows"))
			if sr.cancelled > 0 {
				r.Summary += fmt.Sprintf(" (%d cancelled, not counted)", sr.cancelled)
			}
			r.add(OK, "source.clean", r.Summary, map[string]any{"rows": sr.total})
		}
		return nil
	})
}

// sourceShift is one shift row as the source-data probe shows it.
type sourceShift struct {
	id                    int64
	date                  time.Time
	typ, duration, status string
	positive, cancelled   bool
	copies                int // rows of the same date and type
}

// sourceRun is one run of the source-data probe.
type sourceRun struct {
	pf                                                *profile.Profile
	clinician                                         int64
	from, to                                          time.Time
	rows                                              []sourceShift // the first maxRows+1
	total, dupGroups, dupRows, nonPositive, cancelled int           // over every row of the range
	stored                                            *storedFigure
}

// read reads the rows shown, the counts over every row of the range, and
// the stored summary.
func (sr *sourceRun) read(ctx context.Context, tx pgx.Tx) error {
	pf, sh := sr.pf, sr.pf.Shift
	if err := needProfile(ctx, tx, pf, profile.RoleShift); err != nil {
		return err
	}
	// The columns the profile may lack read as constants.
	typ, duration, positive := "''", "''", "true"
	if sh.Type != "" {
		typ = profile.Col("", sh.Type) + "::text"
	}
	if sh.Duration != "" {
		duration, positive = profile.Col("", sh.Duration)+"::text", "NOT "+sh.NonPositiveSQL("")
	}
	shiftCols := fmt.Sprintf("%s::int8, %s, %s, %s, %s::text, %s", profile.Col("", sh.ID), profile.Col("", sh.Date), typ, duration, profile.Col("", sh.Status), positive)
	scope := fmt.Sprintf("FROM %s WHERE %s = $1 AND %s BETWEEN $2 AND $3", profile.Ident(sh.Table), profile.Col("", sh.Clinician), profile.Col("", sh.Date))
	rs, err := tx.Query(ctx, fmt.Sprintf(`
SELECT %s, count(*) OVER (PARTITION BY %s, %s)::int, %s
%s ORDER BY 2, 3, 1 LIMIT %d`, shiftCols, profile.Col("", sh.Date), typ, sh.CancelledSQL(""), scope, maxRows+1),
		sr.clinician, sr.from, sr.to)
	if err != nil {
		return err
	}
	sr.rows, err = pgx.CollectRows(rs, func(row pgx.CollectableRow) (sourceShift, error) {
		var x sourceShift
		err := row.Scan(&x.id, &x.date, &x.typ, &x.duration, &x.status, &x.positive, &x.copies, &x.cancelled)
		return x, err
	})
	if err != nil {
		return err
	}
	// Counted over every row of the range, not just those shown.
	if err := tx.QueryRow(ctx, fmt.Sprintf(`
SELECT coalesce(sum(n), 0)::int, count(*) FILTER (WHERE n > 1)::int, coalesce(sum(n) FILTER (WHERE n > 1), 0)::int,
       coalesce(sum(non_positive), 0)::int, coalesce(sum(cancelled), 0)::int
FROM (SELECT count(*) AS n, count(*) FILTER (WHERE %s) AS non_positive, count(*) FILTER (WHERE %s) AS cancelled
      %s GROUP BY %s, %s) g`, sh.NonPositiveSQL(""), sh.CancelledSQL(""), scope, profile.Col("", sh.Date), typ),
		sr.clinician, sr.from, sr.to).Scan(&sr.total, &sr.dupGroups, &sr.dupRows, &sr.nonPositive, &sr.cancelled); err != nil {
		return err
	}
	sr.stored, err = storedSummaryIfAny(ctx, tx, pf, sr.clinician, sr.from, sr.to)
	return err
}

// addRows shows the rows, each with its anomalies.
func (sr *sourceRun) addRows(r *Result) {
	shown := 0
	for _, x := range sr.rows {
		var marks []string
		if x.copies > 1 {
			marks = append(marks, fmt.Sprintf("duplicate (%d rows for this date and type)", x.copies))
		}
		if !x.positive {
			marks = append(marks, "duration not positive")
		}
		if x.cancelled {
			marks = append(marks, "cancelled (not worked)")
		}
		if shown < maxRows {
			r.Evidence.Rows = append(r.Evidence.Rows, []string{dateOnly(x.date), x.typ, x.duration, x.status, strings.Join(marks, "; ")})
			shown++
		}
	}
	r.Evidence.Omitted = sr.total - shown
}

// problems adds a finding per kind of anomaly and names those that are
// problems.
func (sr *sourceRun) problems(r *Result) []string {
	var problems []string
	if sr.dupGroups > 0 {
		msg := fmt.Sprintf("%s share a (clinician, date, type) with another row: %s", plural.Count(sr.dupRows, "row", "rows"), plural.Count(sr.dupGroups, "duplicate group", "duplicate groups"))
		r.add(Fail, "source.duplicates", msg+"; each copy may be counted", map[string]any{"groups": sr.dupGroups, "rows": sr.dupRows})
		problems = append(problems, plural.Count(sr.dupGroups, "duplicate", "duplicates"))
	}
	if sr.nonPositive > 0 {
		r.add(Fail, "source.non_positive", fmt.Sprintf("%s with a duration of zero or less", plural.Count(sr.nonPositive, "row", "rows")), map[string]any{"rows": sr.nonPositive})
		problems = append(problems, plural.Count(sr.nonPositive, "non-positive duration", "non-positive durations"))
	}
	if sr.cancelled > 0 {
		r.add(OK, "source.cancelled", fmt.Sprintf("%s (never worked by steady's reading of the rule)", plural.Count(sr.cancelled, "cancelled row", "cancelled rows")), map[string]any{"rows": sr.cancelled})
	}
	if stored := sr.stored; stored != nil && stored.withCancelled != stored.rule && stored.worked == stored.withCancelled {
		r.add(Fail, "source.cancelled_counted", fmt.Sprintf("cancelled rows counted as worked: the stored summary (%d, %s) equals the count including the %s; the rule gives %d",
			stored.worked, stored.how, plural.Count(int(stored.withCancelled-stored.rule), "cancelled shift", "cancelled shifts"), stored.rule),
			map[string]any{"stored": stored.worked, "rule": stored.rule, "with_cancelled": stored.withCancelled})
		problems = append(problems, "cancelled rows counted as worked")
	}
	return problems
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
