package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// row is one row of the benchmark table.
type row struct {
	id  string
	run func(ctx context.Context, e *Env, runs, warmup int) *Result
}

// rows in the table's order.
var rows = []row{
	{"audit", auditRow},
	{"migrations", migrationsRow},
	{"cache", cacheRow},
	{"flush", flushRow},
	{"backup", backupRow},
	{"backup-scoped", scopedBackupRow},
	{"restore-point", restorePointRow},
	{"enqueue", enqueueRow},
	{"frame", frameRow},
	{"rss", rssRow},
	{"journal", journalRow},
	{"view", viewRow},
	{"discovery", discoveryRow},
	{"whole", wholeRow},
}

// RowIDs lists the rows' ids in the table's order.
func RowIDs() []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	return ids
}

// RunRows measures the rows (all when only is empty) one after the other
// and returns their results; a row that fails is reported with its error
// and the others still run.
func RunRows(ctx context.Context, e *Env, only []string, runs, warmup int) []*Result {
	var out []*Result
	for _, r := range rows {
		if len(only) > 0 && !slices.Contains(only, r.id) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(e.Log, "bench: %s…\n", r.id)
		started := time.Now()
		res := r.run(ctx, e, runs, warmup)
		fmt.Fprintf(e.Log, "bench: %s: %s (%s)\n", r.id, res.Line(), time.Since(started).Round(time.Second))
		out = append(out, res)
	}
	return out
}

// steadyCmd is bin/steady with args in the bench's environment.
func (e *Env) steadyCmd(check func(Run) error, args ...string) Command {
	return Command{
		Show:  "bin/steady " + strings.Join(args, " "),
		Argv:  append([]string{e.Steady}, args...),
		Dir:   e.Work,
		Env:   e.SteadyEnv(),
		Check: check,
	}
}

// probeRan checks that `steady check --only id` ran the probe to a
// verdict (ok, warn or FAIL — the data has faults on purpose), not to an
// error or a skip.
func probeRan(id string) func(Run) error {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+(\S+)\s`)
	return func(r Run) error {
		if r.Exit != 0 && r.Exit != 1 {
			return fmt.Errorf("exit status %d", r.Exit)
		}
		m := re.FindSubmatch(r.Stdout)
		if m == nil {
			return fmt.Errorf("no result line for %s", id)
		}
		if s := strings.ToLower(string(m[1])); s != "ok" && s != "warn" && s != "fail" {
			return fmt.Errorf("%s ended %s", id, m[1])
		}
		return nil
	}
}

func failed(id, what string, err error) *Result {
	return &Result{ID: id, What: what, Err: err}
}

// auditSQL is the question of the audit row as an expert types it: the
// writes of shifts in the last 7 days that follow the record's previous
// write by less than a second (lag over the record's writes, one index
// range scan), nothing else.
const auditSQL = `SELECT entity_id, ts, gap FROM (
  SELECT entity_id, "timestamp" AS ts,
         "timestamp" - lag("timestamp") OVER (PARTITION BY entity_id ORDER BY "timestamp") AS gap
  FROM config_auditlog
  WHERE entity_type = 'Shift' AND action IN ('CREATE', 'UPDATE') AND "timestamp" >= now() - interval '7 days'
) w WHERE gap < interval '1 second';
`

// auditRow: the audit-concurrency probe against psql running the tightest
// correct SQL for the same question. steady answers more: the groups with
// each write's author and change, the 50 newest changes, the lost updates
// with the records' whole trail, the shifts behind them.
func auditRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "audit concurrency over 5M rows (window by lag())"
	steady := e.steadyCmd(probeRan("audit-concurrency"), "check", "--only", "audit-concurrency", "--no-journal")
	sqlPath := filepath.Join(e.Work, "audit.sql")
	if err := os.WriteFile(sqlPath, []byte(auditSQL), 0o644); err != nil {
		return failed("audit", what, err)
	}
	other := Command{
		Show:  `psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -f audit.sql "$DATABASE_URL"`,
		Argv:  []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-f", sqlPath, e.DatabaseURL},
		Dir:   e.Work,
		Check: exitIn(0),
	}
	c := &Comparison{ID: "audit", What: what, Steady: steady, Other: other, Target: 1.2}
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.Details = append(res.Details, Detail{Title: "audit.sql: the expert's query", Lang: "sql", Body: auditSQL})
	if plan, err := explain(ctx, e, strings.TrimSuffix(strings.TrimSpace(auditSQL), ";")); err == nil {
		res.Details = append(res.Details, Detail{Title: "EXPLAIN (ANALYZE, BUFFERS) of the expert's query", Lang: "text", Body: plan})
	}
	// The probe's own statements, as the server logged them, for the record.
	logPath := filepath.Join(e.SB.Postgres.Dir(), "postgres.log")
	stmts, err := CaptureStatements(ctx, e.DB, "steady", logPath, func() error {
		_, err := steady.Exec(ctx)
		return err
	})
	if err != nil {
		res.Notes = append(res.Notes, "could not capture the probe's statements: "+err.Error())
	}
	for _, st := range stmts {
		if !strings.Contains(st, "json_agg") {
			continue
		}
		if plan, err := explain(ctx, e, st); err == nil {
			res.Details = append(res.Details, Detail{Title: "EXPLAIN (ANALYZE, BUFFERS) of the probe's grouping statement (jit off, as the probe runs it)", Lang: "text", Body: plan})
		}
		break
	}
	res.Notes = append(res.Notes, fmt.Sprintf("the range (last 7 days) holds %d of the %d audit rows, %d of them writes of shifts; %d groups of concurrent writes were planted there",
		e.Data.AuditLastWeek, e.Data.AuditRows, e.Data.ShiftWritesLastWeek, e.Data.RaceGroups),
		"steady answers more than the query: each group's writes with author and change, the 50 newest changes, the lost updates (the records' whole trail), and the shifts behind them")
	return res
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of a statement, with jit off
// as steady's probes run theirs.
func explain(ctx context.Context, e *Env, stmt string) (string, error) {
	tx, err := e.DB.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return "", err
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+stmt)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// migrationsRow: the migrations probe, reading the migration files of the
// project dir, against Django's own showmigrations --plan.
func migrationsRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	steady := e.steadyCmd(probeRan("migrations"), "check", "--only", "migrations")
	steady.Show = "STEADY_DJANGO_DIR=examples/clinic " + steady.Show
	other := Command{
		Show: "cd examples/clinic && python3 manage.py showmigrations --plan",
		Argv: []string{e.Python, "manage.py", "showmigrations", "--plan"},
		Dir:  e.Clinic.Dir,
		Env:  e.Clinic.Environ(),
		Check: func(r Run) error {
			if r.Exit != 0 || !strings.Contains(string(r.Stdout), "[X]  config.0001_initial") {
				return errors.New("no applied config.0001_initial in the plan")
			}
			return nil
		},
	}
	c := &Comparison{ID: "migrations", What: "unapplied migrations", Steady: steady, Other: other, Target: 0.1}
	return c.Measure(ctx, runs, warmup, e.Log)
}

// discoveryRow: learning the application from Django (`steady init
// --print`: one script through manage.py shell, the mapping, the YAML)
// against Django's own start-up check on the same project.
func discoveryRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	steady := e.steadyCmd(func(r Run) error {
		if r.Exit != 0 || !strings.Contains(string(r.Stdout), "source: django") || !strings.Contains(string(r.Stdout), "worked_key:") {
			return fmt.Errorf("no discovered profile printed (exit %d): %s", r.Exit, tailOf(r))
		}
		return nil
	}, "init", "--print")
	steady.Env = append(append(e.Clinic.Environ(), steady.Env...), "STEADY_MANAGE="+e.Python+" manage.py")
	steady.Show = "STEADY_MANAGE='python3 manage.py' " + steady.Show
	other := Command{
		Show:  "cd examples/clinic && python3 manage.py check",
		Argv:  []string{e.Python, "manage.py", "check"},
		Dir:   e.Clinic.Dir,
		Env:   e.Clinic.Environ(),
		Check: exitIn(0),
	}
	c := &Comparison{ID: "discovery", What: "learn the application (steady init)", Steady: steady, Other: other, Target: 1.5}
	return c.Measure(ctx, runs, warmup, e.Log)
}

// cacheRow: the cache probe against counting the keys with redis-cli,
// with every Redis command over a millisecond logged.
func cacheRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "full cache audit: every cached figure of 1M compared with the database"
	watch, err := WatchSlow(ctx, e.Cache, 5*time.Millisecond)
	if err != nil {
		return failed("cache", what, err)
	}
	defer watch.Restore(context.WithoutCancel(ctx))
	pattern := CachePattern()
	other := Command{
		Show: fmt.Sprintf(`redis-cli -u "$REDIS_URL" --scan --pattern '%s' | wc -l`, pattern),
		Argv: []string{"bash", "-o", "pipefail", "-c", fmt.Sprintf(`redis-cli -u %s --scan --pattern '%s' | wc -l`, e.CacheURL, pattern)},
		Dir:  e.Work,
		Check: func(r Run) error {
			if n, err := strconv.Atoi(strings.TrimSpace(string(r.Stdout))); r.Exit != 0 || err != nil || n != len(e.Data.cache.keys) {
				return fmt.Errorf("counted %q keys, want %d", strings.TrimSpace(string(r.Stdout)), len(e.Data.cache.keys))
			}
			return nil
		},
	}
	c := &Comparison{ID: "cache", What: what, Target: 0.5,
		Steady:  e.steadyCmd(probeRan("cache"), "check", "--only", "cache", "--full", "--no-journal"),
		Other:   other,
		Prepare: func(ctx context.Context, _ Side) error { return watch.Reset(ctx) },
		Observe: func(ctx context.Context, side Side, _ Run) error { return watch.Collect(ctx, side) },
	}
	c.Notes = func() ([]string, bool) { return watch.Notes(c.Steady.Show, c.Other.Show) }
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.TargetText += ", no Redis command > 5 ms"
	res.Notes = append(res.Notes, "steady does more than the other side: it reads every value (MGET per SCAN batch) and compares each with the worked shifts in the database; redis-cli only lists the keys (SCAN with its default COUNT)")
	return res
}

// flushRow: the scoped flush against redis-cli --scan | xargs unlink, the
// keys rebuilt before every run.
func flushRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "scoped flush of 1M keys"
	watch, err := WatchSlow(ctx, e.Cache, 10*time.Millisecond)
	if err != nil {
		return failed("flush", what, err)
	}
	defer watch.Restore(context.WithoutCancel(ctx))
	pattern := CachePattern()
	name := strings.TrimPrefix(e.CacheURL, "redis://") // steady's confirm phrase: host:port/db
	steady := e.steadyCmd(exitIn(0), "act", "flush-cache", "--mode", "unlink", "--yes", "--confirm", name)
	steady.Show = "bin/steady act flush-cache --mode unlink --yes --confirm 127.0.0.1:PORT/1"
	other := Command{
		Show:  fmt.Sprintf(`redis-cli -u "$REDIS_URL" --scan --pattern '%s' | xargs redis-cli -u "$REDIS_URL" unlink`, pattern),
		Argv:  []string{"bash", "-o", "pipefail", "-c", fmt.Sprintf(`redis-cli -u %[1]s --scan --pattern '%[2]s' | xargs redis-cli -u %[1]s unlink >/dev/null`, e.CacheURL, pattern)},
		Dir:   e.Work,
		Check: exitIn(0),
	}
	c := &Comparison{ID: "flush", What: what, Target: 1.0, Steady: steady, Other: other,
		Prepare: func(ctx context.Context, _ Side) error {
			if err := freshDir(e.JournalDir()); err != nil {
				return err
			}
			if err := e.Data.Reload(ctx, e.Cache); err != nil {
				return fmt.Errorf("rebuild the cache keys: %w", err)
			}
			return watch.Reset(ctx)
		},
		Observe: func(ctx context.Context, side Side, _ Run) error {
			if err := watch.Collect(ctx, side); err != nil {
				return err
			}
			return e.checkFlushed(ctx)
		},
	}
	c.Notes = func() ([]string, bool) { return watch.Notes(c.Steady.Show, c.Other.Show) }
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.TargetText += ", no Redis command > 10 ms"
	res.Notes = append(res.Notes, fmt.Sprintf("each run deletes the %d shift-count keys and must leave the %d session keys of the same db; both are checked after every run, and the keys are rebuilt (untimed) before the next",
		len(e.Data.cache.keys), len(e.Data.cache.sessions)))
	return res
}

// checkFlushed verifies that no shift-count key is left and every session
// key is.
func (e *Env) checkFlushed(ctx context.Context) error {
	var cursor uint64
	left := 0
	for {
		keys, next, err := e.Cache.Scan(ctx, cursor, CachePattern(), 10000).Result()
		if err != nil {
			return err
		}
		left += len(keys)
		if cursor = next; cursor == 0 {
			break
		}
	}
	n, err := e.Cache.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	if left > 0 || int(n) != len(e.Data.cache.sessions) {
		return fmt.Errorf("after the flush %d shift-count keys are left and the db holds %d keys, want 0 and the %d session keys", left, n, len(e.Data.cache.sessions))
	}
	return nil
}

// backupRow: steady's backup (pg_dump, pg_restore --list, sha256) against
// a bare pg_dump.
func backupRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	bare := filepath.Join(e.Work, "bare.dump")
	kept := filepath.Join(e.Work, "steady-kept.dump")
	var sizes [2][]int64
	c := &Comparison{ID: "backup", What: "backup + full verification (the whole archive read back)", Target: 0.5,
		Steady: e.steadyCmd(exitIn(0), "act", "backup", "--yes", "--param", "mode=pg_dump"),
		Other: Command{
			Show:  `pg_dump -Fc -f bare.dump "$DATABASE_URL"`,
			Argv:  []string{"pg_dump", "-Fc", "-f", bare, e.DatabaseURL},
			Dir:   e.Work,
			Check: exitIn(0),
		},
		Prepare: func(ctx context.Context, _ Side) error {
			if err := freshDir(e.JournalDir()); err != nil {
				return err
			}
			if err := freshDir(e.BackupDir()); err != nil {
				return err
			}
			return removeIfThere(bare)
		},
		Observe: func(ctx context.Context, side Side, _ Run) error {
			path := bare
			if side == SteadySide {
				files, err := filepath.Glob(filepath.Join(e.BackupDir(), "*.dump"))
				if err != nil || len(files) != 1 {
					return fmt.Errorf("want one dump in the backup dir, found %v (%v)", files, err)
				}
				path = files[0]
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			i := 0
			if side == OtherSide {
				i = 1
			}
			sizes[i] = append(sizes[i], st.Size())
			if side == SteadySide {
				// The last one is restored below.
				_ = os.Remove(kept)
				return os.Rename(path, kept)
			}
			return os.Remove(path)
		},
	}
	res := c.Measure(ctx, runs, warmup, e.Log)
	if len(sizes[0]) > 0 && len(sizes[1]) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("database %s; dumps: steady's %s (custom format, zlib level 1, written and read back in one pass), the bare pg_dump's %s (custom format, default compression)",
			gib(e.Data.DBBytes), gib(sizes[0][0]), gib(sizes[1][0])))
	}
	if note, err := restoreScratch(ctx, e, kept); err != nil {
		res.Notes = append(res.Notes, "the restore of steady's backup into a scratch database FAILED: "+err.Error())
		res.Met = false
	} else {
		res.Notes = append(res.Notes, note)
	}
	_ = os.Remove(kept)
	return res
}

// restoreScratch restores a dump into a new database of the bench's
// server with pg_restore, compares the row counts of the data set's
// tables with the source, and drops it.
func restoreScratch(ctx context.Context, e *Env, dump string) (string, error) {
	if _, err := os.Stat(dump); err != nil {
		return "", fmt.Errorf("no backup of steady's to restore: %w", err)
	}
	const scratch = "steady_bench_restore"
	if _, err := e.DB.Exec(ctx, "DROP DATABASE IF EXISTS "+scratch); err != nil {
		return "", err
	}
	if _, err := e.DB.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return "", err
	}
	defer e.DB.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch) //nolint:errcheck // best effort
	u, err := url.Parse(e.DatabaseURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + scratch
	started := time.Now()
	out, err := exec.CommandContext(ctx, "pg_restore", "--no-owner", "--jobs=2", "--dbname="+u.String(), dump).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pg_restore: %v: %s", err, lastLines(string(out), 3))
	}
	took := time.Since(started)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var parts []string
	for _, table := range []string{"config_shift", "config_auditlog", "calculations_shiftsummary"} {
		var src, got int64
		if err := e.DB.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&src); err != nil {
			return "", err
		}
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&got); err != nil {
			return "", err
		}
		if got != src {
			return "", fmt.Errorf("%s: %d rows restored, %d in the source", table, got, src)
		}
		parts = append(parts, fmt.Sprintf("%s %d", table, got))
	}
	return fmt.Sprintf("steady's last backup restored into a scratch database with `pg_restore --jobs=2` in %s: %s rows, as in the source", took.Round(100*time.Millisecond), strings.Join(parts, ", ")), nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// enqueueScript is what an engineer would write in `manage.py shell` to
// enqueue recalculations: a loop of Celery's delay().
const enqueueScript = `"""A Python loop of Celery's delay() over the scopes in argv[1]."""
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'clinicsite.settings')
import django

django.setup()
from calculations.tasks import recalculate_clinician

with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if line:
            clinician, start, end = line.split(':')
            recalculate_clinician.delay(int(clinician), start, end)
`

// enqueueRow: steady's recalculate, enqueue only, against the loop of
// delay(), both onto the queue that already holds the data set's messages.
func enqueueRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "enqueue 10,000 recalculations"
	n := e.Data.Size.Enqueue
	var scopes strings.Builder
	months := e.Data.Months
	for i := 0; i < n; i++ {
		m := months[len(months)-1-(i/e.Data.Size.Clinicians)%len(months)]
		fmt.Fprintf(&scopes, "%d:%s:%s\n", i%e.Data.Size.Clinicians+1, m.FromDate(), m.ToDate())
	}
	scopesPath := filepath.Join(e.Work, "scopes.txt")
	scriptPath := filepath.Join(e.Work, "enqueue.py")
	if err := errors.Join(os.WriteFile(scopesPath, []byte(scopes.String()), 0o644), os.WriteFile(scriptPath, []byte(enqueueScript), 0o644)); err != nil {
		return failed("enqueue", what, err)
	}
	steady := e.steadyCmd(exitIn(0), "act", "recalculate", "--param", "scopes=@"+scopesPath, "--param", "follow=false", "--yes")
	steady.Show = "bin/steady act recalculate --param scopes=@scopes.txt --param follow=false --yes"
	queue, base := "celery", int64(e.Data.Size.Queue)
	c := &Comparison{ID: "enqueue", What: what, Target: 0.2, Steady: steady,
		Other: Command{
			Show:  "cd examples/clinic && python3 enqueue.py scopes.txt",
			Argv:  []string{e.Python, scriptPath, scopesPath},
			Dir:   e.Clinic.Dir,
			Env:   e.Clinic.Environ(),
			Check: exitIn(0),
		},
		Prepare: func(ctx context.Context, _ Side) error {
			if err := freshDir(e.JournalDir()); err != nil {
				return err
			}
			// Back to the data set's queue: drop what the last run pushed
			// (LPUSH puts it at the head).
			return e.Broker.LTrim(ctx, queue, -base, -1).Err()
		},
		Observe: func(ctx context.Context, side Side, _ Run) error {
			got, err := e.Broker.LLen(ctx, queue).Result()
			if err != nil {
				return err
			}
			if got != base+int64(n) {
				return fmt.Errorf("queue %s holds %d messages, want %d + %d", queue, got, base, n)
			}
			return nil
		},
	}
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.Details = append(res.Details, Detail{Title: "enqueue.py", Lang: "python", Body: enqueueScript})
	res.Notes = append(res.Notes, fmt.Sprintf("%d distinct scopes (clinician:from:to, one calendar month each) in scopes.txt, pushed onto a queue already holding %d messages; the queue is checked after each run and trimmed back before the next", n, base))
	return res
}

// frameRow: from starting bin/steady to its checklist on the screen. The
// instrument is a pseudo-terminal read directly (the first bytes that
// contain the checklist); the program runs as it would inside tmux (TERM
// and TMUX of the bench's tmux server, which it asks about colours) and,
// for comparison, in a plain terminal. Polling tmux's capture-pane is the
// cross-check.
func frameRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	res := &Result{ID: "frame", What: "start to first frame", SteadyShow: "bin/steady (a new incident) in tmux, 120×40", OtherShow: "—", TargetText: "≤ 50 ms"}
	tm, err := StartTmux(ctx, e.Work, 120, 40)
	if err != nil {
		res.Err = err
		return res
	}
	defer tm.Close()
	tmuxVar, err := tm.Env(ctx)
	if err != nil {
		res.Err = err
		return res
	}
	base := Screen{Argv: []string{e.Steady}, Dir: e.Work, Cols: 120, Rows: 40, Marker: "Checklist", Timeout: 30 * time.Second}
	base.Env = e.SteadyEnv()
	inTmux, plain := base, base
	inTmux.Env = append(slices.Clone(base.Env), "TERM=tmux-256color", "TMUX="+tmuxVar)
	plain.Env = append(slices.Clone(base.Env), "TERM=xterm-256color", "TMUX=")
	var plainRuns, polled []time.Duration
	for i := 0; i < warmup+runs; i++ {
		for _, how := range []string{"pty in tmux", "pty plain", "tmux poll"} {
			if err := freshDir(e.JournalDir()); err != nil {
				res.Err = err
				return res
			}
			var d time.Duration
			switch how {
			case "pty in tmux":
				d, err = FirstFramePTY(ctx, inTmux)
			case "pty plain":
				d, err = FirstFramePTY(ctx, plain)
			default:
				d, err = tm.FirstFrame(ctx, base)
			}
			if err != nil {
				res.Err = fmt.Errorf("%s: %w", how, err)
				return res
			}
			if i < warmup {
				continue
			}
			switch how {
			case "pty in tmux":
				res.Steady = append(res.Steady, d)
			case "pty plain":
				plainRuns = append(plainRuns, d)
			default:
				polled = append(polled, d)
			}
		}
	}
	res.SteadyMedian = Median(res.Steady)
	res.SteadyText, res.OtherText = ms(res.SteadyMedian), "—"
	res.Met = res.SteadyMedian <= 50*time.Millisecond
	res.Notes = append(res.Notes,
		fmt.Sprintf("measured on a pseudo-terminal read by the bench: from fork to the first bytes that contain %q once escape sequences are removed; "+
			"TERM=tmux-256color and TMUX pointing at the bench's tmux server, so steady does at start what it does inside tmux: %s", base.Marker, samplesText(res.Steady)),
		fmt.Sprintf("the same in a plain terminal (TERM=xterm-256color, no TMUX): median %s (%s)", ms(Median(plainRuns)), samplesText(plainRuns)),
		fmt.Sprintf("cross-check in tmux itself: from `tmux new-window bin/steady` to the first `capture-pane` showing %q, polled back to back "+
			"(each poll is a tmux client round trip of a few ms, so this is an upper bound): median %s (%s)", base.Marker, ms(Median(polled)), samplesText(polled)),
		"every start opens a new incident: the journal is created and fsync'd before the first frame")
	return res
}

// rssRow: the peak resident memory of the cache probe over the 1M keys.
func rssRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	res := &Result{ID: "rss", What: "peak memory during the full audit of 1M cached figures", SteadyShow: "/usr/bin/time -v bin/steady check --only cache --full", OtherShow: "—", TargetText: "≤ 100 MiB RSS"}
	cmd := e.steadyCmd(probeRan("cache"), "check", "--only", "cache", "--full", "--no-journal")
	cmd.Argv = append([]string{"/usr/bin/time", "-v"}, cmd.Argv...)
	re := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	var peaks []int64
	for i := 0; i < warmup+runs; i++ {
		r, err := cmd.Exec(ctx)
		if err != nil {
			res.Err = err
			return res
		}
		m := re.FindSubmatch(r.Stderr)
		if m == nil {
			res.Err = errors.New("/usr/bin/time -v printed no maximum resident set size")
			return res
		}
		if i >= warmup {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			peaks = append(peaks, kb)
		}
	}
	slices.Sort(peaks)
	worst := peaks[len(peaks)-1]
	res.SteadyText = fmt.Sprintf("%.1f MiB (worst of %d)", float64(worst)/1024, len(peaks))
	res.OtherText = "—"
	res.Met = worst <= 100*1024
	var parts []string
	for _, p := range peaks {
		parts = append(parts, fmt.Sprintf("%.1f", float64(p)/1024))
	}
	res.Notes = append(res.Notes, "maximum resident set size of each run, MiB, sorted: "+strings.Join(parts, ", "))
	return res
}

// journalRow: the session package's Go benchmarks of appending (with
// fsync) and of replaying 100,000 events.
func journalRow(ctx context.Context, e *Env, runs, _ int) *Result {
	res := &Result{ID: "journal", What: "journal append + fsync; replay of 100,000 events",
		SteadyShow: "go test -bench 'BenchmarkJournalAppend$|BenchmarkReplay100k$' ./internal/session/", OtherShow: "—", TargetText: "p99 reported; replay ≤ 1 s"}
	benches, raw, err := RunGoBench(ctx, e.Repo, "./internal/session/", "^(BenchmarkJournalAppend|BenchmarkReplay100k)$", runs)
	res.GoOutput = raw
	if err != nil {
		res.Err = err
		return res
	}
	app, replay := benches["BenchmarkJournalAppend"], benches["BenchmarkReplay100k"]
	if app == nil || replay == nil {
		res.Err = errors.New("BenchmarkJournalAppend or BenchmarkReplay100k did not run")
		return res
	}
	p99, _ := app.Median("p99-ns")
	per, _ := app.Median("ns/op")
	rep, _ := replay.Median("ns/op")
	res.SteadyText = fmt.Sprintf("append p99 %s (median %s); replay %s", ms(time.Duration(p99)), ms(time.Duration(per)), ms(time.Duration(rep)))
	res.OtherText = "—"
	res.Met = rep <= float64(time.Second)
	res.Notes = append(res.Notes, fmt.Sprintf("medians of %d runs (-count %d); an append is one JSON line, its hash, a write and an fsync on the scratch filesystem", runs, runs))
	return res
}

// viewRow: the TUI's View() of a result with 10,000 evidence rows.
func viewRow(ctx context.Context, e *Env, runs, _ int) *Result {
	res := &Result{ID: "view", What: "TUI render with a 10,000-row evidence table",
		SteadyShow: "go test -bench 'BenchmarkViewLargeEvidence$' ./tui/", OtherShow: "—", TargetText: "≤ 2 ms per frame"}
	benches, raw, err := RunGoBench(ctx, e.Repo, "./tui/", "^(BenchmarkViewLargeEvidence|BenchmarkScrollLargeEvidence)$", runs)
	res.GoOutput = raw
	if err != nil {
		res.Err = err
		return res
	}
	view := benches["BenchmarkViewLargeEvidence"]
	if view == nil {
		res.Err = errors.New("BenchmarkViewLargeEvidence did not run")
		return res
	}
	per, _ := view.Median("ns/op")
	res.SteadyText, res.OtherText = ms(time.Duration(per))+" per frame", "—"
	res.Met = per <= float64(2*time.Millisecond)
	if scroll := benches["BenchmarkScrollLargeEvidence"]; scroll != nil {
		s, _ := scroll.Median("ns/op")
		res.Notes = append(res.Notes, fmt.Sprintf("a key press then a frame (BenchmarkScrollLargeEvidence): %s", ms(time.Duration(s))))
	}
	return res
}

// Line is a one-line summary of a result.
func (r *Result) Line() string {
	if r.Err != nil {
		return "FAILED: " + firstLineOf(r.Err.Error())
	}
	verdict := "target met"
	if !r.Met {
		verdict = "target MISSED"
	}
	if r.HasRatio {
		return fmt.Sprintf("steady %s, other %s, ratio %.3f (%s): %s", r.SteadyText, r.OtherText, r.Ratio, r.TargetText, verdict)
	}
	return fmt.Sprintf("%s (%s): %s", r.SteadyText, r.TargetText, verdict)
}

// wholeScript is the expert's way of asking what `steady check` asks,
// one question after another: can I reach everything, are migrations
// applied, were shifts written concurrently, do sampled cached figures
// hold values, do the stored summaries agree with the shifts, do the
// constraints hold. Each is the tightest command for its question.
const wholeScript = `set -e
psql -X -q -o /dev/null -c 'SELECT 1' "$DATABASE_URL"
redis-cli -u "$REDIS_URL" ping > /dev/null
redis-cli -u "$CELERY_BROKER_URL" ping > /dev/null
(cd "$CLINIC_DIR" && "$PYTHON" manage.py showmigrations --plan > /dev/null)
psql -X -q -o /dev/null -f audit.sql "$DATABASE_URL"
redis-cli -u "$REDIS_URL" --scan --pattern '*shiftcount:*' | head -n 1000 | xargs redis-cli -u "$REDIS_URL" mget > /dev/null
psql -X -q -o /dev/null -f whole.sql "$DATABASE_URL"
`

// wholeSQL holds the summaries and constraints questions as an expert
// types them.
const wholeSQL = `-- stored summaries against the shifts
SELECT s.id FROM calculations_shiftsummary s
LEFT JOIN config_shift sh ON sh.clinician_id = s.clinician_id AND sh.date BETWEEN s.period_start AND s.period_end
GROUP BY s.id
HAVING s.worked_shifts <> count(sh.id) FILTER (WHERE sh.status = 'COMPLETED' AND sh.duration > 0);
-- constraints not validated, triggers disabled
SELECT conrelid::regclass, conname FROM pg_constraint WHERE NOT convalidated;
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgenabled = 'D';
-- rows breaking the rules
SELECT clinician_id, date, type FROM config_shift GROUP BY 1, 2, 3 HAVING count(*) > 1;
SELECT id FROM config_shift WHERE duration <= 0;
SELECT s.id FROM config_shift s WHERE NOT EXISTS (SELECT 1 FROM config_clinician c WHERE c.id = s.clinician_id);
`

// wholeRow: every probe of the runbook, as `steady check` runs them
// (four at a time), against the expert's commands for the same questions
// run one after another.
func wholeRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "whole steady check (every probe)"
	for name, body := range map[string]string{"whole.sh": wholeScript, "whole.sql": wholeSQL, "audit.sql": auditSQL} {
		if err := os.WriteFile(filepath.Join(e.Work, name), []byte(body), 0o644); err != nil {
			return failed("whole", what, err)
		}
	}
	steady := e.steadyCmd(exitIn(0, 1), "check", "--no-journal")
	other := Command{
		Show:  "bash whole.sh (psql SELECT 1; redis-cli ping ×2; manage.py showmigrations --plan; psql audit.sql; redis-cli --scan | head -1000 | xargs redis-cli mget; psql whole.sql)",
		Argv:  []string{"bash", "whole.sh"},
		Dir:   e.Work,
		Env:   append(append(e.Clinic.Environ(), e.SteadyEnv()...), "CLINIC_DIR="+e.Clinic.Dir, "PYTHON="+e.Python),
		Check: exitIn(0),
	}
	c := &Comparison{ID: "whole", What: what, Steady: steady, Other: other, Target: 0.5}
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.Details = append(res.Details, Detail{Title: "whole.sh", Lang: "sh", Body: wholeScript}, Detail{Title: "whole.sql", Lang: "sql", Body: wholeSQL})
	res.Notes = append(res.Notes, "steady answers more than the commands: causes decided, each finding explained, the sample of cached figures compared with the database, the constraints matched to the models' declarations; the per-clinician probes are skipped (no --clinician)")
	return res
}
