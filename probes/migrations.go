package probes

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/django"
	"steady/internal/plural"
	"steady/internal/target"
)

// Migrations answers "is every Django migration applied?" — the runbook's
// incomplete-migration cause.
//
// Reads, best source first: the migration files under django.dir (squashed
// `replaces` honoured as Django does) compared with the rows of
// django_migrations; else the output of `<django.manage> showmigrations
// --plan`; else the expected list django.migrations of steady.yaml compared
// with django_migrations. It also reads pg_stat_activity and pg_locks to
// spot a migration running right now (DDL or a django_migrations write from
// another session, an ACCESS EXCLUSIVE lock, or the advisory lock of
// steady's migrate action).
// Cost: one scan of django_migrations (hundreds of rows) and of two small
// catalog views; showmigrations costs one Django start-up.
// Never: runs `migrate` or `migrate --check` (which migrates when nothing is
// pending), or writes django_migrations.
type Migrations struct{}

func init() { Register(Migrations{}) }

// ID implements Probe.
func (Migrations) ID() string { return "migrations" }

// Title implements Probe.
func (Migrations) Title() string { return "Unapplied Django migrations" }

// Params implements Probe.
func (Migrations) Params() []Param { return nil }

// showmigrationsTimeout bounds one showmigrations run: a Django start-up
// inside a container, not a migration.
const showmigrationsTimeout = 2 * time.Minute

// migrationSource is what one source said.
type migrationSource struct {
	name   string
	states []django.State
	// stale are recorded rows no migration accounts for.
	stale []django.Key
}

// Run implements Probe.
func (m Migrations) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, m.ID(), p, func(r *Result) error {
		cfg := t.Config()
		dj := cfg.Django
		if dj.Dir == "" && dj.Manage == "" && len(dj.Migrations) == 0 {
			return skip("no source of migrations: give --django-dir (the project with the migration files), --manage (the command running manage.py) or django.migrations in steady.yaml")
		}
		if cfg.DB == "" && dj.Manage == "" {
			return skip("no database configured to compare the migrations with (give --db or DATABASE_URL, or --manage to ask Django)")
		}
		// The recorded rows, when a database is configured and answers. A
		// missing django_migrations is an answer: nothing is recorded.
		var recorded []django.Key
		dbUsable := false
		if cfg.DB != "" {
			var err error
			recorded, err = readRecorded(ctx, t, r)
			switch {
			case err == nil, isPg(err, "42P01"):
				dbUsable = true
			case dj.Manage == "":
				return err
			default:
				// showmigrations reaches the database its own way.
				_, why := classify(err, t)
				r.add(Warn, "migration.database", "cannot read django_migrations ("+why+"); asking Django instead", nil)
			}
		}
		src, err := findMigrationSource(ctx, t, r, recorded, dbUsable)
		if err != nil {
			return err
		}
		if dbUsable {
			if err := runningMigration(ctx, t, r); err != nil {
				return err
			}
		}
		report(r, src)
		return nil
	})
}

// findMigrationSource tries each source of the migrations in turn: the
// migration files, showmigrations, the expected list; each one that does not
// serve is said.
func findMigrationSource(ctx context.Context, t *target.Target, r *Result, recorded []django.Key, dbUsable bool) (*migrationSource, error) {
	dj := t.Config().Django
	var src *migrationSource
	var tried []string
	if dj.Dir != "" {
		switch proj, err := django.ReadProject(dj.Dir); {
		case err != nil:
			tried = append(tried, err.Error())
		case !dbUsable:
			tried = append(tried, "migration files read, but no database to compare them with (give --db)")
		default:
			for _, w := range proj.Warnings {
				r.add(Warn, "migration.project", w, nil)
			}
			src = &migrationSource{
				name:   "migration files under " + dj.Dir,
				states: django.Status(proj.Migrations, recorded),
				stale:  django.StaleRows(proj.Migrations, recorded),
			}
		}
	}
	if src == nil && dj.Manage != "" {
		states, err := showmigrations(ctx, t)
		if err != nil {
			tried = append(tried, err.Error())
		} else {
			src = &migrationSource{name: "`" + target.Join(dj.Manage, "showmigrations", "--plan") + "`", states: states}
			if dbUsable {
				src.stale = staleAgainstPlan(states, recorded)
			}
		}
	}
	if src == nil && len(dj.Migrations) > 0 {
		if !dbUsable {
			tried = append(tried, "expected list given, but no database to compare it with (give --db)")
		} else {
			src = &migrationSource{name: "the expected list django.migrations in steady.yaml", states: django.Status(django.FromList(dj.Migrations), recorded)}
		}
	}
	for _, why := range tried {
		r.add(Warn, "migration.source", "source not usable: "+t.Scrubber.Scrub(why), nil)
	}
	if src == nil {
		return nil, fmt.Errorf("no source of migrations worked: %s", t.Scrubber.Scrub(strings.Join(tried, "; ")))
	}
	return src, nil
}

// readRecorded returns the rows of django_migrations. A missing table is
// reported as a finding (the database was never migrated) and returned as
// the error, which callers treat as "nothing recorded".
func readRecorded(ctx context.Context, t *target.Target, r *Result) ([]django.Key, error) {
	var keys []django.Key
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT app, name FROM django_migrations ORDER BY id LIMIT 100000`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (django.Key, error) {
			var k django.Key
			err := row.Scan(&k.App, &k.Name)
			return k, err
		})
		return err
	})
	if isPg(err, "42P01") {
		r.add(Fail, "migration.no_table", "django_migrations does not exist: this database was never migrated (or --db names the wrong database)", nil)
	}
	return keys, err
}

// showmigrations runs `<manage> showmigrations --plan` and parses it.
func showmigrations(ctx context.Context, t *target.Target) ([]django.State, error) {
	cfg := t.Config()
	line := target.Join(cfg.Django.Manage, "showmigrations", "--plan")
	var out, errOut strings.Builder
	// Run it from the project directory when there is one here; the
	// command may well run elsewhere (in a container), so it is optional.
	dir := cfg.Django.Dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = ""
	}
	exit, err := target.Run(ctx, target.Command{Line: line, Dir: dir}, target.RunOptions{
		Timeout: showmigrationsTimeout,
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			b := &out
			if l.Stream == "stderr" {
				b = &errOut
			}
			if b.Len() < 1<<20 {
				b.WriteString(l.Text + "\n")
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	if !exit.OK() {
		last := lastLine(errOut.String())
		if last == "" {
			last = lastLine(out.String())
		}
		return nil, fmt.Errorf("%s: %s: %s", line, exit, last)
	}
	states, err := django.ParsePlan(out.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	return states, nil
}

// staleAgainstPlan finds recorded rows of the plan's apps that the plan
// does not know. Apps with a squashed migration are left out: the plan
// hides the names it replaces.
func staleAgainstPlan(states []django.State, recorded []django.Key) []django.Key {
	apps := map[string]bool{}
	known := map[django.Key]bool{}
	for _, s := range states {
		known[s.Key] = true
		if _, ok := apps[s.App]; !ok {
			apps[s.App] = true
		}
		if strings.Contains(s.Name, "_squashed_") {
			apps[s.App] = false
		}
	}
	var out []django.Key
	for _, k := range recorded {
		if apps[k.App] && !known[k] {
			out = append(out, k)
			known[k] = true
		}
	}
	return out
}

// runningMigration reports each sign of a migration in progress (DDL or
// a django_migrations write by another session, an ACCESS EXCLUSIVE lock
// on a table, or the advisory lock of steady's migrate action).
func runningMigration(ctx context.Context, t *target.Target, r *Result) error {
	found, err := django.RunningMigrations(ctx, t)
	if err != nil {
		return err
	}
	for _, a := range found {
		msg := a.String()
		if !a.SteadyLock {
			msg = "a migration seems to be running: " + msg
		}
		r.add(Warn, "migration.running", msg+" — wait for it before judging or migrating", map[string]any{
			"pid": a.PID, "application_name": a.App, "state": a.State, "seconds": a.For.Seconds(), "query": a.Query, "locked": a.Locked, "steady_lock": a.SteadyLock,
		})
	}
	return nil
}

// report turns a source's answer into findings, evidence and a summary.
func report(r *Result, src *migrationSource) {
	unapplied := django.Unapplied(src.states)
	r.Evidence = Table{Title: "migrations (source: " + src.name + ")", Columns: []string{"app", "migration", "state", "detail"}}
	perApp := map[string]int{}
	var appsOrder []string
	for _, s := range unapplied {
		if perApp[s.App] == 0 {
			appsOrder = append(appsOrder, s.App)
		}
		perApp[s.App]++
		detail := ""
		if len(s.Replaces) > 0 {
			detail = fmt.Sprintf("squashes %d migrations", len(s.Replaces))
		}
		r.Evidence.Rows = append(r.Evidence.Rows, []string{s.App, s.Name, "unapplied", detail})
		// Every unapplied migration is a finding (the migrate action lists
		// them from here); only a database never migrated has hundreds.
		if len(r.Findings) < 500 {
			msg := s.Key.String() + " is not applied"
			if detail != "" {
				msg += " (" + detail + ")"
			}
			r.add(Fail, "migration.unapplied", msg, map[string]any{"app": s.App, "name": s.Name})
		}
	}
	for _, k := range src.stale {
		r.Evidence.Rows = append(r.Evidence.Rows, []string{k.App, k.Name, "recorded, no file", "a row in django_migrations that no migration accounts for"})
	}
	if len(src.stale) > 0 {
		names := make([]string, 0, len(src.stale))
		for _, k := range src.stale {
			names = append(names, k.String())
		}
		r.add(Warn, "migration.no_file", fmt.Sprintf("%s in django_migrations with no migration file: %s (deleted or renamed after being applied; the deployed code may differ from --django-dir)",
			plural.Count(len(src.stale), "row", "rows"), strings.Join(names, ", ")), map[string]any{"rows": names})
	}
	// When nothing is wrong, show per app what is applied, so the evidence
	// says what was compared.
	if len(unapplied) == 0 {
		last := map[string]string{}
		count := map[string]int{}
		for _, s := range src.states {
			count[s.App]++
			if s.Name > last[s.App] {
				last[s.App] = s.Name
			}
		}
		apps := make([]string, 0, len(count))
		for a := range count {
			apps = append(apps, a)
		}
		sort.Strings(apps)
		for _, a := range apps {
			r.Evidence.Rows = append(r.Evidence.Rows, []string{a, last[a], "applied", plural.Count(count[a], "migration", "migrations") + ", latest shown"})
		}
	}
	r.Evidence.limit(maxRows)

	switch {
	case len(unapplied) == 1:
		r.Summary = fmt.Sprintf("1 unapplied migration: %s (source: %s)", unapplied[0].Key, src.name)
	case len(unapplied) > 1:
		var parts []string
		for _, a := range appsOrder {
			parts = append(parts, fmt.Sprintf("%s (%d)", a, perApp[a]))
		}
		r.Summary = fmt.Sprintf("%s in %s: %s (source: %s)", plural.Count(len(unapplied), "unapplied migration", "unapplied migrations"), plural.Count(len(appsOrder), "app", "apps"), strings.Join(parts, ", "), src.name)
	default:
		apps := map[string]bool{}
		for _, s := range src.states {
			apps[s.App] = true
		}
		r.Summary = fmt.Sprintf("%s of %s applied (source: %s)", plural.All(len(src.states), "migration", "migrations"), plural.Count(len(apps), "app", "apps"), src.name)
		r.add(OK, "migration.applied", r.Summary, map[string]any{"migrations": len(src.states), "apps": len(apps)})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
