package probes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// ShiftCounts answers the built-in runbook's Diagnosis step 2 (identify
// the inconsistent figure) for one clinician and
// range: the application's own calculator run now (the oracle, when the
// profile names one and a manage command is configured), the worked shifts
// by steady's reading of the rule, the stored summary and the cached
// value, side by side, with the difference explained in words.
//
// Reads: the clinician's row; the clinician's shift rows in the range (one
// aggregate, through the index on the clinician); the summaries lying
// inside the range; GET of the one django-redis key of that range; and the
// calculator in one `manage.py shell`, read-only.
// Cost: a few index lookups for one clinician, whatever the table size,
// plus a Django start-up for the calculator.
// Never: writes; the calculator runs in a read-only transaction that is
// rolled back, with cache writes refused.
type ShiftCounts struct{}

func init() { Register(ShiftCounts{}) }

// ID implements Probe.
func (ShiftCounts) ID() string { return "shift-counts" }

// Title implements Probe.
func (ShiftCounts) Title() string { return "Worked shifts of one clinician: source, summary and cache" }

// Params implements Probe.
func (ShiftCounts) Params() []Param { return clinicianParams() }

func clinicianParams() []Param {
	return []Param{
		{Name: "clinician", Kind: "int", Required: true, Help: "the clinician's id"},
		{Name: "from", Kind: "date", Required: true, Help: "first day of the range (YYYY-MM-DD)"},
		{Name: "to", Kind: "date", Required: true, Help: "last day of the range, included (YYYY-MM-DD)"},
	}
}

// sourceCounts are the clinician's shift rows in a range, counted.
type sourceCounts struct {
	rows, worked, withCancelled, cancelled, other, nonPositive int64
}

// Run implements Probe: read the rows and the stored summary, then hold
// each figure (summary, cache) against the truth.
func (s ShiftCounts) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, s.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		clinician, from, to, err := p.clinicianRange()
		if err != nil {
			return err
		}
		c := &countsRun{t: t, pf: &cfg.Profile, clinician: clinician, from: from, to: to, rng: dateOnly(from) + ".." + dateOnly(to)}
		if err := t.ReadOnly(ctx, c.read); err != nil {
			return err
		}
		if !c.exists && c.pf.Clinician.Table != "" {
			r.add(Warn, "counts.no_clinician", fmt.Sprintf("there is no clinician %d in %s", clinician, c.pf.Clinician.Table), nil)
		}
		r.Evidence = Table{Title: fmt.Sprintf("worked shifts of clinician %d, %s", clinician, c.rng), Columns: []string{"source", "worked shifts", "detail"}}
		c.truth, c.truthName = c.src.worked, "steady's reading of the rule"
		c.calculator(ctx, r)
		c.addRule(r)
		c.compareSummary(r)
		c.compareCache(ctx, r)
		if c.mismatch {
			r.Affected = []Scope{c.scope()}
			r.Summary = fmt.Sprintf("clinician %d, %s: %s", clinician, c.rng, strings.Join(c.verdicts, "; "))
		} else {
			r.Summary = fmt.Sprintf("clinician %d, %s: %d worked shifts by %s; every figure available agrees", clinician, c.rng, c.truth, c.truthName)
		}
		return nil
	})
}

// countsRun is one run of the shift-counts probe: the range, what was read,
// and the verdicts so far.
type countsRun struct {
	t         *target.Target
	pf        *profile.Profile
	clinician int64
	from, to  time.Time
	rng       string // from..to, as messages say it
	exists    bool   // the clinician exists
	src       sourceCounts
	stored    *storedFigure
	// truth is the figure the others are held against: the application's
	// calculator's when it runs, else steady's reading of the rule.
	truth       int64
	truthName   string
	storedTruth *int64 // the truth over the stored summary's periods
	verdicts    []string
	mismatch    bool
}

// scope is the clinician and range asked about.
func (c *countsRun) scope() Scope {
	return Scope{Clinician: c.clinician, From: dateOnly(c.from), To: dateOnly(c.to)}
}

// read checks the clinician exists, counts their shift rows by status, and
// reads the stored summary over the range (none when there is no table yet).
func (c *countsRun) read(ctx context.Context, tx pgx.Tx) error {
	pf, sh := c.pf, c.pf.Shift
	if err := needProfile(ctx, tx, pf, profile.RoleShift, profile.RoleClinician); err != nil {
		return err
	}
	if pf.Clinician.Table != "" {
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %s WHERE %s = $1)`,
			profile.Ident(pf.Clinician.Table), profile.Col("", pf.Clinician.ID)), c.clinician).Scan(&c.exists); err != nil {
			return err
		}
	}
	src := &c.src
	if err := tx.QueryRow(ctx, fmt.Sprintf(`
SELECT count(*), count(*) FILTER (WHERE %s), count(*) FILTER (WHERE %s),
       count(*) FILTER (WHERE %s), count(*) FILTER (WHERE NOT %s AND NOT %s), count(*) FILTER (WHERE %s)
FROM %s WHERE %s = $1 AND %s BETWEEN $2 AND $3`,
		sh.WorkedSQL(""), sh.WithCancelledSQL(""), sh.CancelledSQL(""), sh.WorkedSQL(""), sh.CancelledSQL(""), sh.NonPositiveSQL(""),
		profile.Ident(sh.Table), profile.Col("", sh.Clinician), profile.Col("", sh.Date)),
		c.clinician, c.from, c.to).Scan(&src.rows, &src.worked, &src.withCancelled, &src.cancelled, &src.other, &src.nonPositive); err != nil {
		return err
	}
	var err error
	c.stored, err = storedSummaryIfAny(ctx, tx, pf, c.clinician, c.from, c.to)
	return err
}

// calculator runs the application's own calculator, when it can run, over
// the range and the stored summary's periods: the truth the other figures
// are held against.
func (c *countsRun) calculator(ctx context.Context, r *Result) {
	app := calculatorOf(c.t)
	if app.why != "" {
		return
	}
	scope, stored := c.scope(), c.stored
	scopes := []Scope{scope}
	if stored != nil && !stored.covers {
		for _, p := range stored.periods {
			scopes = append(scopes, Scope{Clinician: c.clinician, From: p.fromDate(), To: p.toDate()})
		}
	}
	figs, err := app.figures(ctx, c.t, scopes)
	f := figs[scope]
	if err == nil && f.err != "" {
		err = fmt.Errorf("%s", f.err)
	}
	if err != nil {
		r.add(Warn, "counts.calculator", fmt.Sprintf("the application's calculator %s did not run (%s); figures are held against steady's reading of the rule instead", app.call, c.t.Scrubber.Scrub(oneLine(err.Error()))), nil)
		return
	}
	c.truth, c.truthName = f.value, "the application's calculator"
	r.Evidence.Rows = append(r.Evidence.Rows, []string{"application (" + app.call + ")", fmt.Sprint(f.value), "the application's own code, run now (read-only)"})
	r.add(OK, "counts.calculator", fmt.Sprintf("the application's calculator %s: %d worked shifts", app.call, f.value), map[string]any{"worked": f.value, "call": app.call})
	if stored != nil {
		sum := int64(0)
		for _, p := range stored.periods {
			sum += figs[Scope{Clinician: c.clinician, From: p.fromDate(), To: p.toDate()}].value
		}
		if stored.covers {
			sum = f.value
		}
		c.storedTruth = &sum
	}
	if f.value != c.src.worked {
		r.add(Warn, "counts.reading", fmt.Sprintf("steady's reading of the rule (%s) gives %d, the application's code gives %d: the profile's shift.worked or positive_duration may not match the code (`steady init` reads them from it)",
			c.pf.Shift.RuleText(), c.src.worked, f.value), map[string]any{"reading": c.src.worked, "application": f.value})
	}
}

// addRule shows the database's count by steady's reading of the rule.
func (c *countsRun) addRule(r *Result) {
	src, rule := c.src, c.pf.Shift.RuleText()
	r.Evidence.Rows = append(r.Evidence.Rows, []string{"database (steady's reading)", fmt.Sprint(src.worked),
		fmt.Sprintf("%s, of %d rows: %d cancelled, %d in other statuses, %d with duration ≤ 0", rule, src.rows, src.cancelled, src.other, src.nonPositive)})
	r.add(OK, "counts.rule", fmt.Sprintf("database: %d worked shifts by steady's reading of the rule (%s; of %d rows: %d cancelled, %d in other statuses)", src.worked, rule, src.rows, src.cancelled, src.other),
		map[string]any{"worked": src.worked, "rows": src.rows, "cancelled": src.cancelled, "other": src.other, "non_positive": src.nonPositive})
}

// compareSummary holds the stored summary against the truth over its
// periods, and says why when they differ.
func (c *countsRun) compareSummary(r *Result) {
	stored := c.stored
	switch {
	case c.pf.Summary.Table == "":
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"stored summary", "", "no summary table in the profile"})
		return
	case stored == nil:
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"stored summary", "", "no summary lies inside " + c.rng})
		r.add(OK, "counts.summary", "no stored summary lies inside "+c.rng+" (summaries are per calendar month)", nil)
		return
	}
	r.Evidence.Rows = append(r.Evidence.Rows, []string{"stored summary", fmt.Sprint(stored.worked), stored.how})
	want, by := stored.rule, "steady's reading of the rule"
	if c.storedTruth != nil {
		want, by = *c.storedTruth, "the application's calculator"
	}
	data := map[string]any{"stored": stored.worked, "rule": stored.rule, "expected": want, "by": by, "how": stored.how}
	if stored.worked == want {
		r.add(OK, "counts.summary", fmt.Sprintf("stored summary agrees with %s: %d (%s)", by, stored.worked, stored.how), data)
		return
	}
	c.mismatch = true
	why := "the summary was computed before the shift rows last changed (recalculate)"
	switch {
	case stored.worked == stored.withCancelled && stored.withCancelled != want:
		why = fmt.Sprintf("it counted the %s as worked", plural.Count(int(stored.withCancelled-stored.rule), "cancelled shift", "cancelled shifts"))
	case stored.worked > want:
		why = "it counts shifts the rule does not"
	}
	msg := fmt.Sprintf("stored summary says %d, %s gives %d: %s (%s)", stored.worked, by, want, why, stored.how)
	r.add(Fail, "counts.summary", msg, data)
	c.verdicts = append(c.verdicts, fmt.Sprintf("summary says %d, %s gives %d: %s", stored.worked, by, want, why))
}

// compareCache holds the cached count against the truth.
func (c *countsRun) compareCache(ctx context.Context, r *Result) {
	key := c.pf.Cache.WorkedKeyOf(c.clinician, dateOnly(c.from), dateOnly(c.to))
	cached, note, err := cachedCount(ctx, c.t, key)
	switch {
	case err != nil:
		_, why := classify(err, c.t)
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"cache", "", "could not read " + key + ": " + why})
		r.add(Warn, "counts.cache", "cache not read: "+why, map[string]any{"key": key})
		return
	case note != "":
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"cache", "", note})
		status := OK
		if strings.Contains(note, "raises") {
			status, c.mismatch = Fail, true
			c.verdicts = append(c.verdicts, note)
		}
		r.add(status, "counts.cache", note, map[string]any{"key": key})
		return
	}
	truth, truthName := c.truth, c.truthName
	r.Evidence.Rows = append(r.Evidence.Rows, []string{"cache", fmt.Sprint(cached), key})
	data := map[string]any{"key": key, "cached": cached, "actual": truth, "by": truthName}
	if cached == truth {
		r.add(OK, "counts.cache", fmt.Sprintf("cache agrees with %s: %d (%s)", truthName, cached, key), data)
		return
	}
	c.mismatch = true
	msg := fmt.Sprintf("cache says %d, %s gives %d: the cache is stale (%s)", cached, truthName, truth, key)
	r.add(Fail, "counts.cache", msg, data)
	c.verdicts = append(c.verdicts, fmt.Sprintf("cache says %d, %s gives %d: the cache is stale", cached, truthName, truth))
}

// cachedCount reads one django-redis count. A note (with no error) says
// why there is no number: no cache configured, no key, or a value the
// application cannot read.
func cachedCount(ctx context.Context, t *target.Target, key string) (int64, string, error) {
	if t.Config().Redis == "" {
		return 0, "no cache Redis configured (--redis)", nil
	}
	if key == "" {
		return 0, "no cached figure in the profile (profile.cache.worked_key)", nil
	}
	rdb, err := t.Cache(ctx)
	if err != nil {
		return 0, "", err
	}
	v, err := rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, "not cached (no key " + key + ")", nil
	case err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE"):
		return 0, key + " is not a string: cache.get raises in the application", nil
	case err != nil:
		return 0, "", err
	}
	n, perr := strconv.ParseInt(v, 10, 64)
	switch {
	case perr == nil:
		return n, "", nil
	case strings.HasPrefix(v, "\x80"):
		return 0, key + " holds a pickle, not a plain count (the application cached a non-int)", nil
	}
	return 0, fmt.Sprintf("%s holds %s, neither an integer nor a pickle: cache.get raises in the application", key, quoteValue(v)), nil
}
