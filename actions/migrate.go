package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/django"
	"steady/internal/duration"
	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
)

// migrateAction applies the unapplied Django migrations with the
// configured `manage.py migrate`, then runs `manage.py check`, while
// holding a PostgreSQL advisory lock (django.MigrateLockKey) on a
// connection of its own for the whole run. A second operator, or a
// second steady process, gets "migration in progress by <operator> since
// <time>" and is refused, or waits when planned with wait=<duration>.
//
// Guards: a verified backup of this database taken in this incident
// (overridable only with a written reason); no other migrate holding the
// lock. Afterwards the migrations probe runs again.
type migrateAction struct{}

func init() { Register(migrateAction{}) }

// ID implements Action.
func (migrateAction) ID() string { return "migrate" }

// Title implements Action.
func (migrateAction) Title() string { return "Apply the unapplied Django migrations" }

// Params implements Action.
func (migrateAction) Params() []probes.Param {
	return []probes.Param{{Name: "wait", Kind: "duration", Help: "when another migrate holds the lock, wait this long for it (e.g. 5m) instead of refusing"}}
}

// migrateLockSQL and migrateUnlockSQL are the statements Execute runs on
// its dedicated connection, shown in the plan as they run.
var (
	migrateLockSQL   = fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", django.MigrateLockKey)
	migrateUnlockSQL = fmt.Sprintf("SELECT pg_advisory_unlock(%d)", django.MigrateLockKey)
)

// lockKeyHigh and lockKeyLow are how pg_locks shows a bigint advisory
// key: its high half in classid, its low half in objid (objsubid 1).
var (
	lockKey     = django.MigrateLockKey
	lockKeyHigh = int64(uint32(lockKey >> 32))
	lockKeyLow  = int64(uint32(lockKey))
)

// lockAppPrefix starts the application_name of the connection holding the
// migrate lock; the rest names the operator and the start, so whoever
// finds the lock taken (steady, or anyone reading pg_stat_activity) knows
// who holds it and since when.
const lockAppPrefix = "steady-migrate "

// Plan implements Action.
func (m migrateAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	manage, err := needManage(env, m.ID(), "migrate runs `<manage> migrate` and `<manage> check`")
	if err != nil {
		return nil, err
	}
	if cfg.DB == "" {
		return nil, &NotConfiguredError{Action: m.ID(), Key: "db", Why: "the migration lock and the backup guard are of the application's database", Example: "  --db postgres://app@db:5432/app (or DATABASE_URL)"}
	}
	if w := params["wait"]; w != "" {
		if _, err := duration.Parse(w); err != nil {
			return nil, fmt.Errorf("wait: %w", err)
		}
	}
	db := t.DBName()
	plan := &Plan{
		Action: m.ID(), Title: m.Title(), Risk: High, Destructive: true, ConfirmPhrase: db,
		Created: time.Now().UTC(), Params: copyParams(params), Recheck: []string{"migrations"},
		Facts: map[string]string{factDatabase: db},
	}

	unapplied, source, warn := unappliedMigrations(ctx, env)
	if warn != "" {
		plan.Warnings = append(plan.Warnings, warn)
	}
	plan.Facts["unapplied"] = strings.Join(unapplied, ", ")
	plan.Facts["unapplied_source"] = source
	switch {
	case len(unapplied) == 0 && warn == "":
		plan.Summary = fmt.Sprintf("no unapplied migration in %s: migrate will change nothing, then check runs", db)
		plan.Warnings = append(plan.Warnings, "the migrations probe finds nothing to apply; running migrate is harmless but pointless")
	case len(unapplied) > 0:
		plan.Summary = fmt.Sprintf("apply %s to %s: %s; then manage.py check", plural.Count(int64(len(unapplied)), "migration", "migrations"), db, strings.Join(unapplied, ", "))
	default:
		plan.Summary = fmt.Sprintf("run manage.py migrate on %s, then manage.py check", db)
	}

	wait := "refused at once if another migrate holds it"
	if w := params["wait"]; w != "" {
		wait = "waits up to " + w + " if another migrate holds it"
	}
	plan.Steps = []Step{
		{Kind: StepSQL, Text: migrateLockSQL, Note: "on a dedicated connection named \"" + lockAppPrefix + "<operator> <start>\" in pg_stat_activity, held until the end; " + wait},
		{Kind: StepCommand, Text: target.Join(manage, "migrate", "--noinput"), Note: inDir(cfg.Django.Dir)},
		{Kind: StepCommand, Text: target.Join(manage, "check"), Note: "Django's system check: does the project still hold together; runs only when migrate succeeded"},
		{Kind: StepSQL, Text: migrateUnlockSQL, Note: "also released if steady dies: the lock belongs to the connection"},
		{Kind: StepProbe, Text: "migrations", Note: "re-run afterwards: every migration applied?"},
	}
	plan.rests("database", db)
	plan.rests("unapplied migrations", orNone(strings.Join(unapplied, ", ")))
	guard := backupPrecondition(env, db, unapplied, source != "none")
	plan.Preconditions = []Precondition{guard}
	backup := "none"
	if guard.Holds {
		backup = guard.Detail
	}
	plan.rests("verified backup", backup)
	running, err := migrationInProgress(ctx, env, db, params["wait"])
	if err != nil {
		return nil, fmt.Errorf("look for a migration in progress: %w", err)
	}
	plan.Preconditions = append(plan.Preconditions, running)
	evidence := "none"
	if !running.Holds || params["wait"] != "" {
		evidence = running.Detail
	}
	plan.rests("migration in progress", evidence)
	return plan, nil
}

// migrationInProgress is migrate's guard against a second migration: it
// fails on any evidence of one — the migrate advisory lock held, a
// session writing django_migrations or running DDL, an ACCESS EXCLUSIVE
// lock on a table, or a command of an earlier steady (killed before it saw
// the command end) still alive — and names each. A wait parameter makes a
// held advisory lock something to wait for instead; the other signs never
// are.
func migrationInProgress(ctx context.Context, env *Env, db, wait string) (Precondition, error) {
	c := Precondition{Name: "no migration in progress", Holds: true, Detail: "nobody holds the migrate lock of " + db + ", no session runs DDL or holds an ACCESS EXCLUSIVE lock, no earlier steady command is alive"}
	holder, err := migrateLockHolder(ctx, env.Target)
	if err != nil {
		return c, err
	}
	var signs []string
	if holder != nil {
		if wait != "" {
			c.Detail = holder.String() + "; this migrate will wait up to " + wait + " for it"
		} else {
			signs = append(signs, holder.String())
		}
	}
	found, err := django.RunningMigrations(ctx, env.Target)
	if err != nil {
		return c, err
	}
	for _, a := range found {
		if !a.SteadyLock {
			signs = append(signs, a.String())
		}
	}
	if env.History != nil {
		for _, o := range env.History.Orphans() {
			signs = append(signs, fmt.Sprintf("the %s command an earlier steady started is still alive: process group %d (`pgrep -a -g %d` lists it)", o.Action, o.PGID, o.PGID))
		}
	}
	if len(signs) > 0 {
		c.Holds = false
		c.Detail = strings.Join(signs, "; ") + "; wait for it to finish (the migrations probe shows it)"
		if holder != nil && wait == "" && len(signs) == 1 {
			c.Detail += ", or plan with wait=5m"
		}
	}
	return c, nil
}

// unappliedMigrations runs the migrations probe now, falling back to the
// incident's last result of it, and returns the unapplied migrations, where
// the list came from and a warning when it may be incomplete.
func unappliedMigrations(ctx context.Context, env *Env) (list []string, source, warn string) {
	res := env.runProbe(ctx, "migrations", nil)
	source = "migrations probe, now"
	if res.Status == probes.Error || res.Status == probes.Skipped {
		if env.History != nil {
			if last := env.History.LastResult("migrations"); last != nil && last.Status != probes.Error && last.Status != probes.Skipped {
				warn = "the migrations probe failed now (" + res.Summary + "); the list is its result of " + last.Started.UTC().Format("15:04:05 UTC")
				res, source = *last, "migrations probe at "+last.Started.UTC().Format("15:04:05 UTC")
			}
		}
		if warn == "" {
			return nil, "none", "cannot list the unapplied migrations: " + env.Target.Scrubber.Scrub(res.Summary)
		}
	}
	for _, f := range res.Findings {
		if f.Code != "migration.unapplied" {
			continue
		}
		app, _ := f.Data["app"].(string)
		name, _ := f.Data["name"].(string)
		if app != "" && name != "" {
			list = append(list, app+"."+name)
		}
	}
	return list, source, warn
}

// backupPrecondition holds when the incident has a verified backup of db
// that covers the unapplied migrations: a backup of the whole database (or
// cluster) covers any; a scoped one only the migrations it was taken for,
// and none when the list of unapplied migrations is not known.
func backupPrecondition(env *Env, db string, unapplied []string, listKnown bool) Precondition {
	c := Precondition{Name: "verified backup of " + db + " from this incident", Overridable: true}
	var backups []Backup
	if env.History != nil {
		backups = env.History.VerifiedBackups(db)
	}
	if len(backups) == 0 {
		c.Detail = "none taken in this incident: run the backup action first (override only with a written reason, if a backup is impossible)"
		return c
	}
	var uncovering []string
	for i := len(backups) - 1; i >= 0; i-- {
		b := backups[i]
		if b.Scoped() && (!listKnown || !b.Covers(unapplied)) {
			uncovering = append(uncovering, describeBackup(b))
			continue
		}
		c.Holds = true
		c.Detail = describeBackup(b)
		return c
	}
	c.Detail = "the scoped backups of this incident do not cover what this migrate applies (" + strings.Join(unapplied, ", ") + "): " + strings.Join(uncovering, "; ") +
		"; take a backup that covers it: the backup action again (--mode scoped for these migrations, or --mode pg_dump)"
	if !listKnown {
		c.Detail = "the unapplied migrations cannot be listed now, so no scoped backup can be shown to cover them (" + strings.Join(uncovering, "; ") + "); take a full backup: --mode pg_dump"
	}
	return c
}

// describeBackup names a backup for a precondition: what it is, how big,
// what it covers and when it was taken.
func describeBackup(b Backup) string {
	var d string
	switch b.Method {
	case modeRestorePoint:
		d = "restore point " + b.Label + " (a point-in-time recovery target of the cluster, its WAL archived)"
	case modePgBackRest:
		d = fmt.Sprintf("pgBackRest backup %s (%s of the cluster)", b.Label, humanBytes(b.Size))
	default:
		sum := b.SHA256
		if len(sum) > 12 {
			sum = sum[:12] + "…"
		}
		d = fmt.Sprintf("%s (%s, sha256 %s)", b.Path, humanBytes(b.Size), sum)
		if b.Scoped() {
			d = fmt.Sprintf("scoped backup %s (%s, sha256 %s; tables %s; covers %s)", b.Path, humanBytes(b.Size), sum, strings.Join(b.Tables, ", "), orNone(strings.Join(b.Migrations, ", ")))
		}
	}
	if !b.At.IsZero() {
		d += " taken at " + b.At.UTC().Format("15:04:05 UTC")
	}
	return d
}

// lockHolder is the session holding the migrate lock of a database.
type lockHolder struct {
	PID int
	// Operator and Since are read from a steady holder's application_name.
	Operator string
	Since    time.Time
	// App is the holder's application_name; Connected its backend start.
	App       string
	Connected time.Time
}

// String says who holds the lock, for refusals and plans.
func (h *lockHolder) String() string {
	if h.Operator != "" {
		return fmt.Sprintf("migration in progress by %s since %s (PostgreSQL session %d)", h.Operator, h.Since.UTC().Format("2006-01-02 15:04:05 UTC"), h.PID)
	}
	app := h.App
	if app == "" {
		app = "no application_name"
	}
	return fmt.Sprintf("migration lock held by PostgreSQL session %d (%s, connected since %s)", h.PID, app, h.Connected.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// lockAppName names a holder connection: prefix, operator, UTC start.
// application_name keeps 63 bytes, so the operator is cut to fit.
func lockAppName(operator string, since time.Time) string {
	op := strings.Map(func(r rune) rune {
		if r == ' ' || r < 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, operator)
	if op == "" {
		op = "unknown"
	}
	stamp := since.UTC().Format(time.RFC3339)
	if room := 63 - len(lockAppPrefix) - 1 - len(stamp); len(op) > room {
		op = op[:room]
	}
	return lockAppPrefix + op + " " + stamp
}

// parseLockAppName reads back what lockAppName wrote.
func parseLockAppName(app string) (operator string, since time.Time, ok bool) {
	rest, found := strings.CutPrefix(app, lockAppPrefix)
	if !found {
		return "", time.Time{}, false
	}
	i := strings.LastIndexByte(rest, ' ')
	if i < 0 {
		return "", time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, rest[i+1:])
	if err != nil {
		return "", time.Time{}, false
	}
	return rest[:i], t, true
}

// migrateLockHolder returns who holds the migrate lock of the target's
// database, or nil. Advisory locks are per database, so migrations of two
// databases on one server do not block each other.
func migrateLockHolder(ctx context.Context, t *target.Target) (*lockHolder, error) {
	var h *lockHolder
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var pid int
		var app string
		var connected time.Time
		err := tx.QueryRow(ctx, `
SELECT a.pid, coalesce(a.application_name, ''), a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.objsubid = 1
LIMIT 1`, lockKeyHigh, lockKeyLow).Scan(&pid, &app, &connected)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		h = &lockHolder{PID: pid, App: app, Connected: connected}
		h.Operator, h.Since, _ = parseLockAppName(app)
		return nil
	})
	return h, err
}

// lockBusyError says the migrate lock is held by someone else.
type lockBusyError struct{ Holder *lockHolder }

func (e *lockBusyError) Error() string {
	if e.Holder == nil {
		return "migration in progress (the holder left before it could be named)"
	}
	return e.Holder.String()
}

// migrateLock is the dedicated connection holding the advisory lock.
type migrateLock struct {
	conn *pgx.Conn
	// name is the connection's application_name, naming the holder.
	name string
}

// acquireMigrateLock connects with a holder name and takes the lock,
// waiting up to wait (polling) when someone else has it. It returns a
// *lockBusyError when the lock stays taken.
func acquireMigrateLock(ctx context.Context, env *Env, out Output, wait time.Duration) (*migrateLock, error) {
	t := env.Target
	cfg := t.Config()
	cc, err := pgx.ParseConfig(cfg.DB)
	if err != nil {
		return nil, errors.New("the database connection string does not parse")
	}
	cc.ConnectTimeout = cfg.Probes.ConnectTimeout.D()
	name := lockAppName(env.Operator, time.Now())
	cc.RuntimeParams["application_name"] = name
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect for the migrate lock: %s", t.Scrubber.Scrub(err.Error()))
	}
	l := &migrateLock{conn: conn, name: name}
	deadline := time.Now().Add(wait)
	told := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, migrateLockSQL).Scan(&got); err != nil {
			l.release()
			return nil, fmt.Errorf("%s: %s", migrateLockSQL, t.Scrubber.Scrub(err.Error()))
		}
		if got {
			return l, nil
		}
		holder, _ := migrateLockHolder(ctx, t)
		if wait <= 0 || time.Now().After(deadline) {
			l.release()
			return nil, &lockBusyError{Holder: holder}
		}
		if !told && holder != nil {
			say(env, out, "%s; waiting up to %s", holder, time.Until(deadline).Round(time.Second))
			told = true
		}
		select {
		case <-ctx.Done():
			l.release()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// release unlocks and closes the connection, even when the action's
// context is already cancelled.
func (l *migrateLock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.Exec(ctx, migrateUnlockSQL)
	_ = l.conn.Close(ctx)
}

// Execute implements Action.
func (m migrateAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	t := env.Target
	db := plan.Facts[factDatabase]
	if db != t.DBName() {
		return Outcome{Status: Refused, ExitCode: -1, Duration: time.Since(started),
			Summary: fmt.Sprintf("refused: the plan is for database %s but steady is connected to %s; plan again", db, t.DBName())}
	}
	// The backup guard is judged again now, not as it stood at planning:
	// against the migrations the plan applies.
	var unapplied []string
	if u := plan.Facts["unapplied"]; u != "" {
		unapplied = strings.Split(u, ", ")
	}
	if refused := refusedNow(env, []Precondition{backupPrecondition(env, db, unapplied, plan.Facts["unapplied_source"] != "none")}); refused != nil {
		refused.Duration = time.Since(started)
		return *refused
	}
	if env.Override != "" {
		say(env, out, "precondition overridden by %s: %s", env.Operator, env.Override)
	}
	var wait time.Duration
	if w := plan.Params["wait"]; w != "" {
		wait, _ = duration.Parse(w)
	}
	lock, err := acquireMigrateLock(ctx, env, out, wait)
	if err != nil {
		var busy *lockBusyError
		switch {
		case errors.As(err, &busy):
			hint := "wait for it to finish (the migrations probe shows it), or plan again with wait=5m"
			if wait > 0 {
				hint = fmt.Sprintf("still held after waiting %s; try again once it has finished", wait)
			}
			return Outcome{Status: Refused, ExitCode: -1, Duration: time.Since(started), Summary: "refused: " + busy.Error() + "; " + hint}
		case ctx.Err() != nil:
			return Outcome{Status: Cancelled, ExitCode: -1, Duration: time.Since(started), Summary: "cancelled while waiting for the migrate lock; nothing ran"}
		}
		return Outcome{Status: Failed, ExitCode: -1, Duration: time.Since(started), Summary: "could not take the migrate lock; nothing ran", Error: err.Error()}
	}
	defer lock.release()
	say(env, out, "migrate lock of %s taken as %q (%s)", db, lock.name, migrateLockSQL)

	lines := commandSteps(plan)
	if len(lines) != 2 {
		return Outcome{Status: Failed, ExitCode: -1, Duration: time.Since(started), Summary: "the plan does not have the migrate and check commands: plan again"}
	}
	dir := t.Config().Django.Dir
	exit, err := runCommand(ctx, env, out, target.Command{Line: lines[0], Dir: dir})
	if o := commandFailure(env, lines[0], exit, err, started); o != nil {
		if o.Status == Cancelled {
			o.Summary += "; migrations that finished before the cancel stay applied (each runs in its own transaction): see the migrations probe"
		}
		return *o
	}
	exit, err = runCommand(ctx, env, out, target.Command{Line: lines[1], Dir: dir})
	if o := commandFailure(env, lines[1], exit, err, started); o != nil {
		o.Summary = "migrations applied, but " + o.Summary
		return *o
	}
	applied := plan.Facts["unapplied"]
	summary := "migrate and check succeeded on " + db
	if applied != "" {
		summary = "applied " + applied + " to " + db + "; check found no problems"
	}
	art := map[string]string{"database": db, "lock_holder": lock.name}
	if applied != "" {
		art["applied"] = applied
	}
	if host, err := os.Hostname(); err == nil {
		art["host"] = host
	}
	return Outcome{Status: Succeeded, Summary: summary, ExitCode: exit.Code, Duration: time.Since(started), Artefacts: art}
}
