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

// Summaries answers "does the stored calculation follow the rule?" — the
// runbook's business-rule cause: every stored summary (worked shifts and
// deficiency per clinician and period) against the figures recomputed from
// the shift rows by steady's reading of the rule (the profile's worked
// status values, a positive duration; deficiency = max(contracted −
// worked, 0)), then, where the profile names the application's
// calculator, against the application's own figure for those the reading
// disputes and a sample of those it does not.
//
// Reads: the summary table (optionally narrowed by clinician and dates),
// the clinicians' contracted shifts, and the shift rows of the summarised
// periods, joined on the clinician in one statement; the calculator runs
// in one `manage.py shell`, read-only.
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
	clinician     int64
	from, to      time.Time
	worked        int64
	deficiency    *int64 // nil when the profile names no deficiency column
	contracted    *int64
	actual        int64 // worked shifts by steady's reading of the rule
	withCancelled int64 // the same counting cancelled shifts
	cancelled     int64
	// app is the application's calculator's figure, when it ran.
	app *int64
}

// truth is the worked-shift figure the stored one is held against: the
// application's own, else steady's reading of the rule.
func (s summaryRow) truth() int64 {
	if s.app != nil {
		return *s.app
	}
	return s.actual
}

func (s summaryRow) scope() Scope {
	return Scope{Clinician: s.clinician, From: dateOnly(s.from), To: dateOnly(s.to)}
}

func (s summaryRow) differs() bool {
	return s.worked != s.truth() || s.storedDeficiency() != s.expectedDeficiency()
}

func (s summaryRow) expectedDeficiency() int64 {
	switch {
	case s.contracted != nil:
		// Contracted shifts not worked, never negative.
		return max(*s.contracted-s.truth(), 0)
	case s.deficiency != nil:
		// Nothing to compare the stored figure with.
		return *s.deficiency
	}
	return 0
}

func (s summaryRow) storedDeficiency() int64 {
	if s.deficiency == nil {
		return s.expectedDeficiency()
	}
	return *s.deficiency
}

// explain says in words why a summary differs.
func (s summaryRow) explain() string {
	switch {
	case s.worked == s.truth():
		return fmt.Sprintf("deficiency %d does not follow contracted − worked (%d)", s.storedDeficiency(), s.expectedDeficiency())
	case s.cancelled > 0 && s.worked == s.withCancelled:
		return fmt.Sprintf("counts the %s as worked", plural.Count(int(s.cancelled), "cancelled shift", "cancelled shifts"))
	case s.worked < s.truth():
		return "fewer than the shift rows give: computed before later changes (recalculate)"
	}
	return "more than the shift rows give"
}

// Run implements Probe: read the summaries that differ (or, when none does,
// what was checked), hold them against the application's calculator, then
// present them.
func (s Summaries) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, s.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		pf := &cfg.Profile
		if pf.Summary.Table == "" {
			return skip("no stored summary in the profile (profile.summary in steady.yaml)")
		}
		where, args, err := summaryFilter(pf.Summary, p)
		if err != nil {
			return err
		}
		sr := &summariesRun{pf: pf, where: where, args: args, app: calculatorOf(t)}
		if err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error { return sr.read(ctx, tx, r) }); err != nil {
			return err
		}
		by := sr.holdAgainstApp(ctx, t, r)
		if len(sr.bad) == 0 {
			r.Summary = fmt.Sprintf("%s %s with %s (deficiency = contracted − worked, at least 0)", plural.All(sr.total, "stored summary", "stored summaries"), plural.Word(sr.total, "agrees", "agree"), by)
			r.add(OK, "summaries.agree", r.Summary, map[string]any{"checked": sr.total})
			return nil
		}
		sr.present(r, by)
		return nil
	})
}

// summaryFilter is the WHERE clause, over the summary table as m, and its
// arguments for the clinician and range asked for.
func summaryFilter(sm profile.Summary, p Params) (string, []any, error) {
	where := []string{"true"}
	var args []any
	if p["clinician"] != "" {
		c, err := p.int("clinician")
		if err != nil {
			return "", nil, err
		}
		args = append(args, c)
		where = append(where, fmt.Sprintf("%s = $%d", profile.Col("m", sm.Clinician), len(args)))
	}
	for _, bound := range []struct{ param, col, op string }{{"from", sm.PeriodEnd, ">="}, {"to", sm.PeriodStart, "<="}} {
		if p[bound.param] == "" {
			continue
		}
		d, err := p.date(bound.param)
		if err != nil {
			return "", nil, err
		}
		args = append(args, d)
		where = append(where, fmt.Sprintf("%s %s $%d", profile.Col("m", bound.col), bound.op, len(args)))
	}
	return strings.Join(where, " AND "), args, nil
}

// summariesRun is one run of the summaries probe.
type summariesRun struct {
	pf    *profile.Profile
	where string // the filter, over the summary table as m
	args  []any
	app   oracle
	total int // summaries checked
	// bad differ from the truth; agreeing are the newest that do not, for
	// the calculator to check steady's reading on.
	bad, agreeing []summaryRow
}

// read finds the summaries that differ from steady's reading of the rule;
// when none does, the evidence says what was checked, per period.
func (sr *summariesRun) read(ctx context.Context, tx pgx.Tx, r *Result) error {
	sm := sr.pf.Summary
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, sm.Table).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return skip("the summary table %s does not exist (is its migration applied? see the migrations probe; or run `steady init` to refresh the profile)", sm.Table)
	}
	if err := needProfile(ctx, tx, sr.pf, profile.RoleSummary, profile.RoleShift, profile.RoleClinician); err != nil {
		return err
	}
	sampleSize := 0
	if sr.app.why == "" {
		// The newest summaries that agree with steady's reading: the
		// calculator checks the reading itself on them.
		sampleSize = 20
	}
	rows, err := tx.Query(ctx, summariesSQL(sr.pf, sr.where, sampleSize), sr.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s summaryRow
		var differs bool
		if err := rows.Scan(&differs, &s.clinician, &s.from, &s.to, &s.worked, &s.deficiency, &s.contracted, &s.actual, &s.withCancelled, &s.cancelled, &sr.total); err != nil {
			return err
		}
		if differs {
			sr.bad = append(sr.bad, s)
		} else {
			sr.agreeing = append(sr.agreeing, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(sr.bad) > 0 {
		return nil
	}
	return sr.readChecked(ctx, tx, r)
}

// readChecked shows, when all agree, what was checked per period.
func (sr *summariesRun) readChecked(ctx context.Context, tx pgx.Tx, r *Result) error {
	sm := sr.pf.Summary
	rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s, %s, count(*)::int, sum(%s)::int8, coalesce(sum(%s), 0)::int8
FROM %s m WHERE %s GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %d`, profile.Col("m", sm.PeriodStart), profile.Col("m", sm.PeriodEnd), profile.Col("m", sm.Worked), deficiencyExpr(sm, "m"),
		profile.Ident(sm.Table), sr.where, maxRows), sr.args...)
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
		sr.total += n
		r.Evidence.Rows = append(r.Evidence.Rows, []string{dateOnly(from) + ".." + dateOnly(to), fmt.Sprint(n), fmt.Sprint(worked), fmt.Sprint(deficiency)})
	}
	return rs.Err()
}

// holdAgainstApp holds the summaries against the application's calculator
// when it can run, and says what they were held against.
func (sr *summariesRun) holdAgainstApp(ctx context.Context, t *target.Target, r *Result) (by string) {
	by = "steady's reading of the rule"
	app := sr.app
	if app.why != "" || len(sr.bad)+len(sr.agreeing) == 0 {
		return by
	}
	checked, off, err := holdAgainstApp(ctx, t, app, &sr.bad, sr.agreeing)
	if err != nil {
		r.add(Warn, "summaries.calculator", fmt.Sprintf("the application's calculator %s did not run (%s); summaries are held against steady's reading of the rule instead", app.call, t.Scrubber.Scrub(oneLine(err.Error()))), nil)
		return by
	}
	r.add(OK, "summaries.calculator", fmt.Sprintf("the application's calculator %s ran for %s (those steady's reading disputes, and the newest it does not)", app.call, plural.Count(checked, "summary", "summaries")),
		map[string]any{"checked": checked, "call": app.call})
	if off > 0 {
		r.add(Warn, "summaries.reading", fmt.Sprintf("steady's reading of the rule (%s) disagrees with the application's code on %d of %s: the profile's shift.worked or positive_duration may not match the code (`steady init` reads them from it)",
			sr.pf.Shift.RuleText(), off, plural.Count(checked, "summary", "summaries")), map[string]any{"disagree": off, "checked": checked})
	}
	return "the application's calculator " + app.call
}

// present shows the summaries that differ from what they were held against
// (by), each with why.
func (sr *summariesRun) present(r *Result, by string) {
	bad := sr.bad
	title := "summaries that differ from " + by
	if sr.app.why != "" || !strings.HasPrefix(by, "the application") {
		title += " (worked = " + sr.pf.Shift.RuleText() + ")"
	}
	r.Evidence = Table{Title: title, Columns: []string{"clinician", "period", "stored worked", "expected worked", "stored deficiency", "expected deficiency", "why"}}
	clinicians := map[int64]bool{}
	counted := 0
	for _, s := range bad {
		clinicians[s.clinician] = true
		if s.cancelled > 0 && s.worked == s.withCancelled && s.worked != s.truth() {
			counted++
		}
	}
	r.Summary = fmt.Sprintf("%d of %s differ from %s, for %s", len(bad), plural.Count(sr.total, "stored summary", "stored summaries"), by, plural.Count(len(clinicians), "clinician", "clinicians"))
	if counted == len(bad) {
		r.Summary += ": each counts cancelled shifts as worked"
	}
	r.add(Fail, "summaries.differ", r.Summary, map[string]any{"differ": len(bad), "checked": sr.total, "clinicians": len(clinicians), "cancelled_counted": counted})
	for i, s := range bad {
		period := dateOnly(s.from) + ".." + dateOnly(s.to)
		r.Affected = append(r.Affected, Scope{Clinician: s.clinician, From: dateOnly(s.from), To: dateOnly(s.to)})
		r.Evidence.Rows = append(r.Evidence.Rows, []string{fmt.Sprint(s.clinician), period, fmt.Sprint(s.worked), fmt.Sprint(s.truth()),
			fmt.Sprint(s.storedDeficiency()), fmt.Sprint(s.expectedDeficiency()), s.explain()})
		if i < maxFindings {
			r.add(Fail, "summaries.row", fmt.Sprintf("clinician %d, %s: stored %d worked / deficiency %d, expected %d / %d: %s",
				s.clinician, period, s.worked, s.storedDeficiency(), s.truth(), s.expectedDeficiency(), s.explain()),
				map[string]any{"clinician": s.clinician, "from": dateOnly(s.from), "to": dateOnly(s.to), "stored": s.worked, "actual": s.truth(), "reading": s.actual,
					"stored_deficiency": s.storedDeficiency(), "expected_deficiency": s.expectedDeficiency()})
		}
	}
	if len(bad) > maxFindings {
		r.add(Fail, "summaries.row", fmt.Sprintf("… and %d more (see the evidence)", len(bad)-maxFindings), nil)
	}
	r.Evidence.limit(maxRows)
}

// holdAgainstApp runs the application's calculator for the summaries
// steady's reading disputes (bad) and for a sample of those it does not
// (agreeing), and keeps in bad those that differ from the application's
// figure. It returns how many it checked and on how many steady's reading
// and the application's code disagree.
func holdAgainstApp(ctx context.Context, t *target.Target, app oracle, bad *[]summaryRow, agreeing []summaryRow) (checked, off int, err error) {
	var scopes []Scope
	for _, s := range *bad {
		if len(scopes) < maxOracleScopes-len(agreeing) {
			scopes = append(scopes, s.scope())
		}
	}
	for _, s := range agreeing {
		scopes = append(scopes, s.scope())
	}
	figs, err := app.figures(ctx, t, scopes)
	if err != nil {
		return 0, 0, err
	}
	var still []summaryRow
	judge := func(s summaryRow) {
		if f, ok := figs[s.scope()]; ok && f.err == "" {
			v := f.value
			s.app = &v
			checked++
			if v != s.actual {
				off++
			}
		}
		if s.differs() {
			still = append(still, s)
		}
	}
	for _, s := range *bad {
		judge(s)
	}
	for _, s := range agreeing {
		judge(s)
	}
	*bad = still
	return checked, off, nil
}

// deficiencyExpr is the stored deficiency of summary alias, or NULL when
// the profile names no deficiency column.
func deficiencyExpr(sm profile.Summary, alias string) string {
	if sm.Deficiency == "" {
		return "NULL::int8"
	}
	return profile.Col(alias, sm.Deficiency) + "::int8"
}

// summariesSQL compares every summary matching where (conditions on m)
// with steady's reading of the rule; it returns the differing ones (at
// most 1000) with the number that differ and the number checked.
//
// It also returns up to agreeing summaries that agree with that reading
// (the newest), for the application's calculator to check the reading
// itself.
func summariesSQL(pf *profile.Profile, where string, agreeing int) string {
	sm, sh, cl := pf.Summary, pf.Shift, pf.Clinician
	contracted := "NULL::int8"
	join := ""
	if cl.Table != "" && cl.Contracted != "" {
		contracted = profile.Col("c", cl.Contracted) + "::int8"
		join = fmt.Sprintf("LEFT JOIN %s c ON %s = d0.clinician_id", profile.Ident(cl.Table), profile.Col("c", cl.ID))
	}
	return fmt.Sprintf(`
WITH m AS (
  SELECT %[1]s AS id, %[2]s::int8 AS clinician_id, %[3]s AS period_start, %[4]s AS period_end, %[5]s::int8 AS worked, %[6]s AS deficiency,
         %[3]s = date_trunc('month', %[3]s::timestamp)::date
           AND %[4]s = (date_trunc('month', %[3]s::timestamp) + interval '1 month - 1 day')::date AS monthly
  FROM %[7]s m WHERE %[8]s
), per_month AS (
  -- Calendar-month summaries join the shifts counted once per clinician
  -- and month: a hash join, not a range join.
  SELECT %[10]s::int8 AS clinician_id, date_trunc('month', %[11]s::timestamp)::date AS month,
         count(*) FILTER (WHERE %[12]s) AS actual,
         count(*) FILTER (WHERE %[13]s) AS with_cancelled,
         count(*) FILTER (WHERE %[14]s) AS cancelled
  FROM %[9]s x
  WHERE %[11]s BETWEEN (SELECT min(period_start) FROM m WHERE monthly) AND (SELECT max(period_end) FROM m WHERE monthly)
  GROUP BY 1, 2
), a AS (
  SELECT m.id, coalesce(p.actual, 0) AS actual, coalesce(p.with_cancelled, 0) AS with_cancelled, coalesce(p.cancelled, 0) AS cancelled
  FROM m LEFT JOIN per_month p ON p.clinician_id = m.clinician_id AND p.month = m.period_start
  WHERE m.monthly
  UNION ALL
  SELECT m.id,
         count(%[15]s) FILTER (WHERE %[12]s),
         count(%[15]s) FILTER (WHERE %[13]s),
         count(%[15]s) FILTER (WHERE %[14]s)
  FROM m LEFT JOIN %[9]s x ON %[10]s = m.clinician_id AND %[11]s BETWEEN m.period_start AND m.period_end
  WHERE NOT m.monthly
  GROUP BY m.id
), d0 AS (
  SELECT m.clinician_id, m.period_start, m.period_end, m.worked, m.deficiency, a.actual, a.with_cancelled, a.cancelled
  FROM m JOIN a USING (id)
)
SELECT e.differs, e.clinician_id, e.period_start, e.period_end, e.worked, e.deficiency, e.contracted, e.actual, e.with_cancelled, e.cancelled, e.checked FROM (
  SELECT d.*, row_number() OVER (PARTITION BY d.differs ORDER BY d.period_start DESC, d.clinician_id) AS rank
  FROM (
    SELECT d0.clinician_id, d0.period_start, d0.period_end, d0.worked, d0.deficiency, %[16]s AS contracted, d0.actual, d0.with_cancelled, d0.cancelled,
           count(*) OVER () AS checked,
           d0.worked <> d0.actual OR coalesce(%[16]s IS NOT NULL AND d0.deficiency IS NOT NULL AND d0.deficiency <> greatest(%[16]s - d0.actual, 0), false) AS differs
    FROM d0 %[17]s
  ) d
) e
WHERE e.differs OR e.rank <= %[18]d
ORDER BY e.clinician_id, e.period_start LIMIT %[19]d`,
		profile.Col("m", sm.ID), profile.Col("m", sm.Clinician), profile.Col("m", sm.PeriodStart), profile.Col("m", sm.PeriodEnd),
		profile.Col("m", sm.Worked), deficiencyExpr(sm, "m"), profile.Ident(sm.Table), where,
		profile.Ident(sh.Table), profile.Col("x", sh.Clinician), profile.Col("x", sh.Date),
		sh.WorkedSQL("x"), sh.WithCancelledSQL("x"), sh.CancelledSQL("x"), profile.Col("x", sh.ID),
		contracted, join, agreeing, 1000+agreeing)
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
	// periods are the summaries' own periods.
	periods []period
}

// storedSummaryIfAny is storedSummary in a savepoint, nil when there is
// no summary table yet: a comparison says so, and the rest of the answer
// stands.
func storedSummaryIfAny(ctx context.Context, tx pgx.Tx, pf *profile.Profile, clinician int64, from, to time.Time) (stored *storedFigure, _ error) {
	err := savepoint(ctx, tx, func(tx pgx.Tx) (err error) {
		stored, err = storedSummary(ctx, tx, pf, clinician, from, to)
		if isPg(err, "42P01") {
			stored, err = nil, nil
		}
		return err
	})
	return stored, err
}

// storedSummary reads the summaries of clinician that lie inside [from,
// to]; nil when the profile has no summary or none lies inside.
func storedSummary(ctx context.Context, tx pgx.Tx, pf *profile.Profile, clinician int64, from, to time.Time) (*storedFigure, error) {
	sm, sh := pf.Summary, pf.Shift
	if sm.Table == "" {
		return nil, nil
	}
	count := func(cond string) string {
		return fmt.Sprintf(`(SELECT count(*) FROM %s s WHERE %s = %s AND %s BETWEEN %s AND %s AND %s)`,
			profile.Ident(sh.Table), profile.Col("s", sh.Clinician), profile.Col("m", sm.Clinician), profile.Col("s", sh.Date),
			profile.Col("m", sm.PeriodStart), profile.Col("m", sm.PeriodEnd), cond)
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`
SELECT %[1]s, %[2]s, %[3]s::int8, %[4]s, %[5]s
FROM %[6]s m WHERE %[7]s = $1 AND %[1]s >= $2 AND %[2]s <= $3
ORDER BY 1, 2 LIMIT 500`, profile.Col("m", sm.PeriodStart), profile.Col("m", sm.PeriodEnd), profile.Col("m", sm.Worked),
		count(sh.WorkedSQL("s")), count(sh.WithCancelledSQL("s")), profile.Ident(sm.Table), profile.Col("m", sm.Clinician)),
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
		f.periods = append(f.periods, period{from: x.from, to: x.to})
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
			plural.Count(len(list), "summary", "summaries"), dateOnly(f.from), dateOnly(f.to))
	}
	return f, nil
}
