package django

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/target"
)

// Activity is one sign, in the database, of a migration in progress: a
// session holding steady's migrate lock, one writing django_migrations or
// running DDL, or one holding an ACCESS EXCLUSIVE lock on a table.
type Activity struct {
	PID   int
	App   string // application_name
	State string
	For   time.Duration
	// Query is the session's current query, shortened.
	Query string
	// Locked names the tables it holds ACCESS EXCLUSIVE.
	Locked string
	// SteadyLock is set when it holds steady's migrate advisory lock.
	SteadyLock bool
}

// String says what the session is doing, in one line.
func (a Activity) String() string {
	if a.SteadyLock {
		return fmt.Sprintf("steady's migrate action is running (session %d holds its advisory lock, for %s)", a.PID, a.For.Round(time.Second))
	}
	app := a.App
	if app == "" {
		app = "-"
	}
	s := fmt.Sprintf("session %d (%s) %s for %s: %s", a.PID, app, a.State, a.For.Round(time.Second), a.Query)
	if a.Locked != "" {
		s += "; it holds ACCESS EXCLUSIVE on " + a.Locked
	}
	return s
}

// RunningMigrations returns every sign of a migration in progress in the
// target's database, by other sessions than steady's own (read-only:
// pg_stat_activity and pg_locks).
func RunningMigrations(ctx context.Context, t *target.Target) ([]Activity, error) {
	key := MigrateLockKey
	var out []Activity
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
       coalesce(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start)), 0)::float8,
       left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 160),
       coalesce((SELECT string_agg(DISTINCT c.relname, ', ') FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE l.pid = a.pid AND l.mode = 'AccessExclusiveLock' AND c.relkind IN ('r', 'p')), ''),
       EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
               AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.objsubid = 1)
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.datname = current_database()
  AND (
    EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
            AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.objsubid = 1)
    OR (coalesce(a.application_name, '') <> 'steady' AND a.state IN ('active', 'idle in transaction', 'idle in transaction (aborted)') AND (
         a.query ~* '^\s*(INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+"?django_migrations'
      OR a.query ~* '^\s*(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE\s+INDEX)\s'
      OR EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE l.pid = a.pid AND l.mode = 'AccessExclusiveLock' AND c.relkind IN ('r', 'p'))))
  )
ORDER BY a.pid LIMIT 20`, int64(uint32(key>>32)), int64(uint32(key)))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Activity, error) {
			var a Activity
			var secs float64
			err := row.Scan(&a.PID, &a.App, &a.State, &secs, &a.Query, &a.Locked, &a.SteadyLock)
			a.For = time.Duration(secs * float64(time.Second))
			return a, err
		})
		return err
	})
	return out, err
}
