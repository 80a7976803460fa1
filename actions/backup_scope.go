package actions

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/django"
	"steady/internal/plural"
	"steady/internal/target"
)

// scopeScript is piped into `manage.py shell` to learn which existing
// tables each pending migration alters (backup_scope.py).
//
//go:embed backup_scope.py
var scopeScript string

// Markers around the script's JSON.
const (
	scopeBegin = "<<<steady-scope-begin>>>"
	scopeEnd   = "<<<steady-scope-end>>>"
)

// migrationsTable is Django's own record of applied migrations: migrate
// writes it, so a scope that is restored must bring it back too, or Django
// would take the restored tables for migrated ones.
const migrationsTable = "django_migrations"

// migrationScope is what the script found about one migration.
type migrationScope struct {
	// Tables are the existing tables it alters or drops.
	Tables []string `json:"tables"`
	// Creates are the tables it creates (nothing of them exists before).
	Creates    []string `json:"creates"`
	Operations []struct {
		Op       string   `json:"op"`
		Describe string   `json:"describe"`
		Tables   []string `json:"tables"`
		Unknown  string   `json:"unknown"`
	} `json:"operations"`
	// Unknown says why its tables cannot be told (RunPython, RunSQL).
	Unknown []string `json:"unknown"`
}

// relation is a table or sequence as the catalog names it.
type relation struct {
	schema, name string
	bytes        int64
	// sequences are a table's own sequences (serial or identity columns).
	sequences []relation
}

// String is schema.name.
func (r relation) String() string { return r.schema + "." + r.name }

// pattern is the relation for pg_dump's --table: quoted only where a
// plain name would be case-folded or read as a wildcard.
func (r relation) pattern() string { return patternPart(r.schema) + "." + patternPart(r.name) }

func patternPart(s string) string {
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			plain = false
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// scope is what a scoped backup of the pending migrations holds and why.
type scope struct {
	// migrations are the unapplied migrations, in order; source says
	// where the list came from, listWarn why it may be incomplete.
	migrations []string
	source     string
	listWarn   string
	learnt     map[string]migrationScope
	// tables are the existing tables the migrations alter, with
	// django_migrations; bytes their total size with indexes and TOAST.
	tables []relation
	bytes  int64
	// created are tables the migrations create (nothing to back up).
	created []string
	// unknown are the reasons some migration's tables cannot be told.
	unknown []string
	// otherTables and otherBytes are what the scope leaves out.
	otherTables int
	otherBytes  int64
	took        time.Duration
}

// parallel is how many pg_dump jobs pay for the scope: one per table up to
// the machine's cores (at most 4), once there is more than one large
// table; a single table or a small scope is one stream.
func (sc *scope) parallel() int {
	large := 0
	for _, t := range sc.tables {
		if t.bytes >= parallelTable {
			large++
		}
	}
	if large < 2 {
		return 1
	}
	return min(large, runtime.NumCPU(), 4)
}

// parallelTable is the size from which a table is worth a dump job of
// its own. A variable so that tests can call small tables large.
var parallelTable int64 = 256 << 20

// names lists the scope's tables as schema.name.
func (sc *scope) names() []string {
	out := make([]string, len(sc.tables))
	for i, t := range sc.tables {
		out[i] = t.String()
	}
	return out
}

// learnScope finds the unapplied migrations and, through the manage
// command, the tables they alter, then measures those tables.
func learnScope(ctx context.Context, env *Env) (*scope, error) {
	manage, err := needManage(env, "backup", "a scoped backup asks Django which tables the pending migrations alter (`<manage> shell`)")
	if err != nil {
		return nil, err
	}
	started := time.Now()
	sc := &scope{learnt: map[string]migrationScope{}}
	sc.migrations, sc.source, sc.listWarn = unappliedMigrations(ctx, env)
	if len(sc.migrations) > 0 {
		if sc.learnt, err = askDjango(ctx, env, manage, sc.migrations); err != nil {
			return nil, err
		}
	}
	want := []string{migrationsTable}
	for _, m := range sc.migrations {
		l, ok := sc.learnt[m]
		if !ok {
			sc.unknown = append(sc.unknown, m+": Django did not report on it")
			continue
		}
		for _, u := range l.Unknown {
			sc.unknown = append(sc.unknown, m+": "+u)
		}
		for _, t := range l.Tables {
			if !slices.Contains(want, t) {
				want = append(want, t)
			}
		}
		sc.created = append(sc.created, l.Creates...)
	}
	found, err := findRelations(ctx, env.Target, want)
	if err != nil {
		return nil, fmt.Errorf("look up the tables the migrations alter: %w", err)
	}
	for _, name := range want {
		r, ok := found[name]
		if !ok {
			// Altered but not there: made by an earlier pending migration.
			if !slices.Contains(sc.created, name) {
				sc.created = append(sc.created, name)
			}
			continue
		}
		sc.tables = append(sc.tables, r)
		sc.bytes += r.bytes
	}
	if sc.otherTables, sc.otherBytes, err = otherTables(ctx, env.Target, sc.tables); err != nil {
		return nil, fmt.Errorf("measure the tables outside the scope: %w", err)
	}
	sc.took = time.Since(started)
	return sc, nil
}

// learnt remembers Django's answer for one set of migration files: a plan
// is made again just before it runs, and asking Django costs a start of
// the project (about half a second) each time. What a migration alters
// follows from the migration files alone, so their fingerprint is the key.
var learnt struct {
	sync.Mutex
	key    string
	result map[string]migrationScope
}

// askDjango runs the scope script for migrations through the manage
// command, or reuses its answer for the same migration files.
func askDjango(ctx context.Context, env *Env, manage string, migrations []string) (map[string]migrationScope, error) {
	cfg := env.Target.Config()
	key := ""
	if fp := migrationFiles(cfg.Django.Dir); fp != "" {
		key = manage + "\x00" + cfg.Django.Dir + "\x00" + strings.Join(migrations, ",") + "\x00" + fp
		learnt.Lock()
		hit, ok := learnt.result, learnt.key == key
		learnt.Unlock()
		if ok {
			return hit, nil
		}
	}
	targets, _ := json.Marshal(migrations)
	body, err := django.Shell(ctx, django.ShellOptions{Manage: manage, Dir: cfg.Django.Dir, Timeout: cfg.Actions.CommandTimeout.D(), Grace: cfg.Actions.KillGrace.D()},
		"TARGETS = "+string(targets)+"\n"+scopeScript, scopeBegin, scopeEnd)
	if err != nil {
		return nil, fmt.Errorf("ask Django which tables the pending migrations alter: %s", env.Target.Scrubber.Scrub(err.Error()))
	}
	var res struct {
		Migrations map[string]migrationScope `json:"migrations"`
		Error      string                    `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		return nil, fmt.Errorf("the migration scope script printed something that is not its JSON: %v", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("the migration scope script failed in the project: %s", res.Error)
	}
	if key != "" {
		learnt.Lock()
		learnt.key, learnt.result = key, res.Migrations
		learnt.Unlock()
	}
	return res.Migrations, nil
}

// migrationFiles fingerprints the migration files under a project
// directory (name, size, modification time); "" when there is no
// directory to read, and then nothing is remembered.
func migrationFiles(dir string) string {
	if dir == "" {
		return ""
	}
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "__pycache__" || strings.HasPrefix(d.Name(), ".")) && path != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".py") && filepath.Base(filepath.Dir(path)) == "migrations" {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d %d\n", path, fi.Size(), fi.ModTime().UnixNano())
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// findRelations looks tables up by the name Django gives them (resolved
// on the search path, as Django's connection does) with their size and
// their own sequences.
func findRelations(ctx context.Context, t *target.Target, names []string) (map[string]relation, error) {
	out := map[string]relation{}
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT want.name, n.nspname, c.relname, pg_total_relation_size(c.oid),
       coalesce((SELECT array_agg(sn.nspname || '.' || s.relname ORDER BY s.relname)
                 FROM pg_depend d
                 JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                 JOIN pg_namespace sn ON sn.oid = s.relnamespace
                 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                   AND d.refobjid = c.oid AND d.deptype IN ('a', 'i')), '{}')
FROM unnest($1::text[]) AS want(name)
JOIN pg_class c ON c.oid = to_regclass(quote_ident(want.name))
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')`, names)
		if err != nil {
			return err
		}
		for rows.Next() {
			var want string
			var r relation
			var seqs []string
			if err := rows.Scan(&want, &r.schema, &r.name, &r.bytes, &seqs); err != nil {
				return err
			}
			for _, s := range seqs {
				schema, name, _ := strings.Cut(s, ".")
				r.sequences = append(r.sequences, relation{schema: schema, name: name})
			}
			out[want] = r
		}
		return rows.Err()
	})
	return out, err
}

// otherTables counts and measures the application's tables outside the
// scope: what a scoped backup does not protect.
func otherTables(ctx context.Context, t *target.Target, in []relation) (int, int64, error) {
	names := make([]string, len(in))
	for i, r := range in {
		names[i] = r.String()
	}
	var n int
	var bytes int64
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
SELECT count(*), coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname || '.' || c.relname <> ALL($1::text[])`, names).Scan(&n, &bytes)
	})
	return n, bytes, err
}

// relationsSize is the size now of tables named schema.name.
func relationsSize(ctx context.Context, t *target.Target, names []string) (int64, error) {
	var size int64
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY($1::text[])`, names).Scan(&size)
	})
	return size, err
}

// describeScope writes a scoped dump's plan: what it covers and why that
// is enough, what it leaves out, its size and time, and the guards that
// keep a scope from passing for more than it is.
func describeScope(env *Env, plan *Plan, sc *scope, dbSize int64) {
	db := env.Target.DBName()
	plan.Facts[factTables] = strings.Join(sc.names(), ",")
	plan.Facts[factMigrations] = strings.Join(sc.migrations, ",")
	plan.Facts[factScopeBytes] = strconv.FormatInt(sc.bytes, 10)
	plan.Facts["scope_learnt_in"] = sc.took.Round(time.Millisecond).String()
	plan.Summary = fmt.Sprintf("scoped pg_dump of %s: %s (%s of the database's %s) for %s, into %s, verified by reading the whole archive back (%s",
		db, plural.Count(int64(len(sc.tables)), "table", "tables"), humanBytes(sc.bytes), humanBytes(dbSize), orNone(strings.Join(sc.migrations, ", ")), plan.Facts[factPath], estimateText(env, sc.bytes))

	var why []string
	for _, m := range sc.migrations {
		l := sc.learnt[m]
		var ops []string
		for _, op := range l.Operations {
			switch {
			case op.Unknown != "":
				ops = append(ops, op.Describe+" → ? ("+op.Unknown+")")
			case len(op.Tables) > 0:
				ops = append(ops, op.Describe+" → "+strings.Join(op.Tables, ", "))
			default:
				ops = append(ops, op.Describe+" → no existing table")
			}
		}
		why = append(why, m+": "+strings.Join(ops, "; "))
	}
	var covered []string
	for _, t := range sc.tables {
		c := t.String() + " (" + humanBytes(t.bytes)
		if len(t.sequences) > 0 {
			var seqs []string
			for _, s := range t.sequences {
				seqs = append(seqs, s.String())
			}
			c += ", with sequence " + strings.Join(seqs, ", ")
		}
		covered = append(covered, c+")")
	}
	note := "covers " + strings.Join(covered, "; ") + ". Why this is enough: every table an unapplied migration alters, read from its operations by Django (" +
		strings.Join(why, " | ") + "), and " + migrationsTable + ", which migrate writes"
	if len(sc.created) > 0 {
		note += "; tables the migrations create (" + strings.Join(sc.created, ", ") + ") do not exist yet: nothing of them to back up"
	}
	plan.Steps[0].Note = note + ". " + plan.Steps[0].Note
	plan.Warnings = append(plan.Warnings, fmt.Sprintf("not covered: the other %s of %s (%s); the migrations do not alter them, but this backup does not protect them from anything else — a full backup stays one step away: --mode pg_dump (%s)",
		plural.Count(int64(sc.otherTables), "table", "tables"), db, humanBytes(sc.otherBytes), estimateText(env, dbSize)))
	if sc.listWarn != "" {
		plan.Warnings = append(plan.Warnings, sc.listWarn)
	}

	pending := Precondition{Name: "unapplied migrations to cover", Holds: len(sc.migrations) > 0,
		Detail: fmt.Sprintf("%s (%s)", strings.Join(sc.migrations, ", "), sc.source)}
	if !pending.Holds {
		pending.Detail = "no unapplied migration, so a scoped backup would cover nothing; take a full backup: --mode pg_dump"
		if sc.listWarn != "" {
			pending.Detail = sc.listWarn + "; take a full backup: --mode pg_dump"
		}
	}
	known := Precondition{Name: "tables of every unapplied migration known", Holds: len(sc.unknown) == 0,
		Detail: "every operation names the tables it alters"}
	if !known.Holds {
		known.Detail = strings.Join(sc.unknown, "; ") + ": Django cannot say which tables that changes, so no scope is safe; take a full backup: --mode pg_dump (" + estimateText(env, dbSize) + ")"
	}
	plan.Preconditions = append(plan.Preconditions, pending, known)
	plan.rests("unapplied migrations", orNone(strings.Join(sc.migrations, ", ")))
	plan.rests("scope", orNone(strings.Join(sc.names(), ", ")))
}

// assumedThroughput is the dump rate assumed before any backup of the
// incident was measured: a custom-format dump with its read-back on the
// bench machine ran at about 65 MiB/s (BENCHMARKS.md); a little less
// leaves room for a busier server.
const assumedThroughput = 50 << 20

// throughput is the rate (bytes of database per second) of the newest
// backup of this incident that read a known amount, and whence it comes.
func throughput(env *Env) (float64, string) {
	if env.History != nil {
		bs := env.History.VerifiedBackups(env.Target.DBName())
		for i := len(bs) - 1; i >= 0; i-- {
			b := bs[i]
			if b.SourceBytes > 0 && b.Took > 0 && b.Path != "" {
				rate := float64(b.SourceBytes) / b.Took.Seconds()
				return rate, fmt.Sprintf("%s/s, measured on the %s backup at %s", humanBytes(int64(rate)), b.Method, b.At.UTC().Format("15:04:05 UTC"))
			}
		}
	}
	return assumedThroughput, "an assumed " + humanBytes(assumedThroughput) + "/s (no dump measured in this incident yet)"
}

// estimate is how long dumping bytes takes at the incident's throughput.
func estimate(env *Env, bytes int64) time.Duration {
	rate, _ := throughput(env)
	return time.Duration(float64(bytes) / rate * float64(time.Second))
}

// estimateText says how long dumping bytes takes, and on what figure.
func estimateText(env *Env, bytes int64) string {
	_, whence := throughput(env)
	return "about " + roundDuration(estimate(env, bytes)) + " at " + whence
}

// roundDuration writes a duration to a precision a person plans with.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "1s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(10 * time.Second).String()
	}
	return d.Round(time.Minute).String()
}
