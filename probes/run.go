package probes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"steady/internal/config"
	"steady/internal/profile"
	"steady/internal/target"
	"steady/internal/visible"
)

// maxRows bounds every evidence table; maxFindings bounds the findings of
// one kind, so a result stays readable and small whatever the data.
const (
	maxRows     = 200
	maxFindings = 20
)

// skipped is returned by a probe body whose prerequisite is missing.
type skipped struct{ reason string }

func (s skipped) Error() string { return s.reason }

func skip(format string, args ...any) error { return skipped{fmt.Sprintf(format, args...)} }

// run wraps a probe body: it stamps the start and the duration, turns an
// error into an Error (or Skipped) result with one line an operator can act
// on, and, when the body left the status empty, takes the worst status of
// the findings.
func run(ctx context.Context, t *target.Target, id string, p Params, body func(r *Result) error) Result {
	r := Result{Probe: id, Started: time.Now()}
	if len(p) > 0 {
		r.Params = map[string]string{}
		for k, v := range p {
			r.Params[k] = v
		}
	}
	err := body(&r)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	switch {
	case err != nil:
		status, msg := classify(err, t)
		r.Status = status
		if status == Error {
			r.Error = msg
		}
		r.Summary = msg
	case r.Status == "":
		var ss []Status
		for _, f := range r.Findings {
			ss = append(ss, f.Status)
		}
		r.Status = Worst(ss...)
	}
	// Whatever a probe quotes (a command line, a server message, a query
	// text, a key name) passes through the target's scrubber, then has its
	// control characters and escape sequences made visible, before anyone
	// sees it: a server's text never drives a terminal.
	show := func(s string) string { return visible.Text(t.Scrubber.Scrub(s)) }
	r.Summary, r.Error = show(r.Summary), show(r.Error)
	for i := range r.Findings {
		r.Findings[i].Message = show(r.Findings[i].Message)
		for k, v := range r.Findings[i].Data {
			if s, ok := v.(string); ok {
				r.Findings[i].Data[k] = show(s)
			}
		}
	}
	r.Evidence.Title = visible.Text(r.Evidence.Title)
	for i := range r.Evidence.Columns {
		r.Evidence.Columns[i] = visible.Text(r.Evidence.Columns[i])
	}
	for _, row := range r.Evidence.Rows {
		for i := range row {
			row[i] = show(row[i])
		}
	}
	r.Duration = time.Since(r.Started)
	return r
}

// classify turns an error into a status and one line: what failed, why,
// and what to do about it.
func classify(err error, t *target.Target) (Status, string) {
	var sk skipped
	var ce *target.ConnectError
	var pgErr *pgconn.PgError
	cfg := t.Config()
	scrub := func(s string) string { return t.Scrubber.Scrub(s) }
	switch {
	case errors.As(err, &sk):
		return Skipped, sk.reason
	case errors.Is(err, target.ErrNotConfigured):
		return Skipped, scrub(err.Error())
	case errors.As(err, &ce) && ce.Remembered:
		// Another probe (connectivity, as a rule) already met this: one
		// unreachable server is one error, and costs one connect timeout.
		return Skipped, scrub(fmt.Sprintf("skipped: needs %s %s, which could not be reached at %s: %s", ce.System, ce.Target, ce.At.Format("15:04:05"), ce.Reason))
	case errors.As(err, &ce):
		return Error, scrub(ce.Error())
	case errors.As(err, &pgErr):
		return Error, scrub(pgMessage(pgErr, cfg))
	case errors.Is(err, context.Canceled):
		return Error, "cancelled before it finished"
	case errors.Is(err, context.DeadlineExceeded):
		return Error, "did not finish in time (the context's deadline passed)"
	}
	return Error, scrub(oneLine(err.Error()))
}

// pgMessage explains the server errors a read-only probe can meet.
func pgMessage(e *pgconn.PgError, cfg *config.Config) string {
	switch e.Code {
	case "57014":
		if strings.Contains(e.Message, "statement timeout") {
			return fmt.Sprintf("cancelled by statement_timeout (%s): a query took longer; raise probes.statement_timeout in steady.yaml (e.g. 30s) for a large table, or narrow the range", cfg.Probes.StatementTimeout)
		}
		return "cancelled by the server: " + e.Message
	case "55P03":
		return fmt.Sprintf("waited longer than lock_timeout (%s) for a lock: another session holds an exclusive lock (a migration running?); retry, or raise probes.lock_timeout in steady.yaml", cfg.Probes.LockTimeout)
	case "42P01":
		return e.Message + ": the profile names a table the database lacks (" + cfg.Profile.Origin() + "); has a migration not run (migrations probe), or has the application changed? `steady init` refreshes the profile"
	case "42703":
		return e.Message + columnRole(e.Message, cfg) + ": the profile (" + cfg.Profile.Origin() + ") and the live tables disagree; `steady init` refreshes the profile"
	case "42501":
		return e.Message + ": grant the probe role SELECT on the application's tables (and pg_read_all_stats for activity)"
	case "25006":
		return "refused a write in the read-only transaction (this is a bug in steady): " + e.Message
	}
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

// columnRole names the role and field of the profile behind a missing
// column, from PostgreSQL's message (column "x" does not exist, or
// column t.x does not exist).
func columnRole(msg string, cfg *config.Config) string {
	_, rest, ok := strings.Cut(msg, "column ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, " ")
	name = strings.Trim(name, `"`)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	var roles []string
	for _, role := range profile.Roles {
		for _, c := range cfg.Profile.Columns(role) {
			if c.Name == name {
				roles = append(roles, "profile."+role+"."+c.Field)
			}
		}
	}
	if len(roles) == 0 {
		return ""
	}
	return " (" + strings.Join(roles, ", ") + ")"
}

// isPg reports whether err is a PostgreSQL error with the given code.
func isPg(err error, code string) bool {
	pe := asPg(err)
	return pe != nil && pe.Code == code
}

// asPg returns the PostgreSQL error inside err, or nil.
func asPg(err error) *pgconn.PgError {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	return nil
}

// savepoint runs fn inside a savepoint of tx, so that a failing statement
// (a timeout of one optional check) does not abort the rest of the probe.
func savepoint(ctx context.Context, tx pgx.Tx, fn func(tx pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(sp); err != nil {
		_ = sp.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return sp.Commit(ctx)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limit keeps the first n rows and counts the rest as omitted.
func (t *Table) limit(n int) {
	if len(t.Rows) > n {
		t.Omitted += len(t.Rows) - n
		t.Rows = t.Rows[:n]
	}
}

// add appends a finding.
func (r *Result) add(status Status, code, msg string, data map[string]any) {
	r.Findings = append(r.Findings, Finding{Status: status, Code: code, Message: msg, Data: data})
}

// int returns a whole-number parameter.
func (p Params) int(name string) (int64, error) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, fmt.Errorf("parameter %s is required", name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %q is not a whole number", name, v)
	}
	return n, nil
}

// date returns a date parameter.
func (p Params) date(name string) (time.Time, error) {
	v, ok := p[name]
	if !ok || v == "" {
		return time.Time{}, fmt.Errorf("parameter %s is required (YYYY-MM-DD)", name)
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("parameter %s: %q is not a date (YYYY-MM-DD)", name, v)
	}
	return d, nil
}

// duration returns a duration parameter, or def when it is not given.
func (p Params) duration(name string, def time.Duration) (time.Duration, error) {
	v := p[name]
	if v == "" {
		return def, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %w", name, err)
	}
	return d, nil
}

// clinicianRange reads the clinician, from and to parameters the
// per-clinician probes share, and checks the range is not reversed.
func (p Params) clinicianRange() (int64, time.Time, time.Time, error) {
	c, err := p.int("clinician")
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	from, err := p.date("from")
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	to, err := p.date("to")
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	if to.Before(from) {
		return 0, time.Time{}, time.Time{}, fmt.Errorf("the date range is reversed: from %s is after to %s", p["from"], p["to"])
	}
	return c, from, to, nil
}

// needDB skips a probe when no database is configured.
func needDB(cfg *config.Config) error {
	if cfg.DB == "" {
		return skip("no database configured (give --db or DATABASE_URL)")
	}
	return nil
}

// dateOnly formats a date as YYYY-MM-DD.
func dateOnly(t time.Time) string { return t.Format(time.DateOnly) }

// stamp formats a timestamp for evidence: UTC with milliseconds, since
// same-second questions need them.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") + " UTC" }
