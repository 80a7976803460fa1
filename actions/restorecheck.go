package actions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
)

// restoreCheckAction rehearses a restore of the incident's latest verified
// backup, so that "we have a backup" is known to mean "we can get the data
// back": a dump is restored into a scratch database on the same server,
// the rows of the tables it holds are counted (beside the live counts),
// and the scratch database is dropped; a pgBackRest backup is restored
// into a temporary directory (pgBackRest checks every file as it restores)
// and removed. A restore point is a recovery target, not a file: it is
// rehearsed by recovering a base backup to it on a side instance.
//
// Guards: a verified backup of this incident that can be restored; the
// role may create databases; free space for the restore (on the database
// server's data directory when steady can see it, in the temporary
// directory for pgBackRest).
type restoreCheckAction struct{}

func init() { Register(restoreCheckAction{}) }

// ID implements Action.
func (restoreCheckAction) ID() string { return "restore-check" }

// Title implements Action.
func (restoreCheckAction) Title() string {
	return "Rehearse restoring the latest backup (scratch database, dropped afterwards)"
}

// Params implements Action.
func (restoreCheckAction) Params() []probes.Param { return nil }

// Facts a restore-check plan records.
const (
	factScratch = "scratch_database"
	factBackup  = "backup"
	factCount   = "count_tables"
)

// Plan implements Action.
func (r restoreCheckAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	if cfg.DB == "" {
		return nil, &NotConfiguredError{Action: r.ID(), Key: "db", Why: "the rehearsal restores into a scratch database on the application's server", Example: "  --db postgres://app@db:5432/app (or DATABASE_URL)"}
	}
	db := t.DBName()
	plan := &Plan{Action: r.ID(), Title: r.Title(), Risk: Low, Created: time.Now().UTC(), Params: copyParams(params),
		Facts: map[string]string{factDatabase: db}}
	var latest *Backup
	if env.History != nil {
		if bs := env.History.VerifiedBackups(db); len(bs) > 0 {
			latest = &bs[len(bs)-1]
		}
	}
	have := Precondition{Name: "a verified backup of " + db + " from this incident"}
	switch {
	case latest == nil:
		have.Detail = "none taken in this incident: run the backup action first"
	case latest.Method == modeRestorePoint:
		have.Detail = "the latest is restore point " + latest.Label + ": a recovery target, not a file; rehearse it by recovering a base backup to it on a side instance (restore_command, recovery_target_name, recovery.signal), or take a dump to rehearse: backup --mode scoped or --mode pg_dump"
	case latest.Method == modeDumpdata:
		have.Detail = "the latest is a dumpdata file (" + latest.Path + "), which loads through Django (manage.py loaddata) rather than pg_restore; take a pg_dump backup to rehearse"
	default:
		have.Holds = true
		have.Detail = describeBackup(*latest)
	}
	plan.Preconditions = append(plan.Preconditions, have)
	plan.rests("backup", orNone(have.Detail))
	if !have.Holds {
		plan.Summary = "nothing to rehearse: " + have.Detail
		return plan, nil
	}
	plan.Facts[factBackup] = latest.Path
	plan.Facts[factMode] = latest.Method
	pl := &restoreCheckPayload{Mode: latest.Method, Database: db, Backup: latest.Path}
	var err error
	if latest.Method == modePgBackRest {
		plan.Facts[factBackup] = latest.Label
		pl.Backup = latest.Label
		err = planPgBackRestRestore(env, plan, latest, pl)
	} else {
		err = planDumpRestore(ctx, env, plan, latest, pl)
	}
	if err != nil {
		return plan, err
	}
	return plan, plan.setPayload(pl)
}

// restoreCheckPayload is what Execute reads back of a restore rehearsal's
// plan.
type restoreCheckPayload struct {
	// Mode is the backup's method; Backup its file, or its pgBackRest label.
	Mode     string `json:"mode"`
	Database string `json:"database"`
	Backup   string `json:"backup"`
	// Scratch is the database a dump is restored into, Count the tables
	// counted there, TOCList the archive's contents without its foreign
	// keys (a scoped backup), removed afterwards.
	Scratch string   `json:"scratch_database,omitempty"`
	Count   []string `json:"count_tables,omitempty"`
	TOCList string   `json:"toc_list,omitempty"`
	// Path is the temporary directory a pgBackRest backup is restored into.
	Path string `json:"path,omitempty"`
}

// restoreCheckPayloadOf reads a restore rehearsal plan's payload, or, for a
// plan journaled before payloads, its facts.
func restoreCheckPayloadOf(plan *Plan) (restoreCheckPayload, error) {
	return payloadOr(plan, func(f map[string]string) restoreCheckPayload {
		return restoreCheckPayload{Mode: f[factMode], Database: f[factDatabase], Backup: f[factBackup],
			Scratch: f[factScratch], Count: splitComma(f[factCount]), TOCList: f["toc_list"], Path: f[factPath]}
	})
}

// scratchName names the scratch database after the run, so a left-over
// one (steady killed mid-rehearsal) says whose it is.
func scratchName(env *Env) string {
	id := env.Run
	if id == "" {
		id = time.Now().UTC().Format("20060102t150405")
	}
	return "steady_check_" + strings.ToLower(unsafeName.ReplaceAllString(strings.ReplaceAll(id, "-", "_"), "_"))
}

// planDumpRestore plans pg_restore of a dump into a scratch database.
func planDumpRestore(ctx context.Context, env *Env, plan *Plan, b *Backup, pl *restoreCheckPayload) error {
	t := env.Target
	cfg := t.Config()
	scratch := scratchName(env)
	conn, _, err := libpqConn(withDBName(cfg.DB, scratch))
	if err != nil {
		return err
	}
	tables, err := archiveTables(ctx, env, b.Path)
	if err != nil {
		return fmt.Errorf("read the table of contents of %s: %w", b.Path, err)
	}
	plan.Facts[factScratch] = scratch
	plan.Facts[factCount] = strings.Join(tables, ",")
	pl.Scratch, pl.Count = scratch, tables
	ident := pgx.Identifier{scratch}.Sanitize()
	plan.Steps = []Step{{Kind: StepSQL, Text: "CREATE DATABASE " + ident, Note: "on the server of " + t.DBName() + ", as the role steady connects with"}}
	restore := []string{"--no-owner", "--no-privileges", "--exit-on-error"}
	if b.Scoped() {
		// The scope's tables keep their foreign keys to tables outside
		// it, which an empty scratch database does not have: everything
		// else (tables, rows, sequences, indexes, checks) is restored.
		list := filepath.Join(os.TempDir(), scratch+".list")
		plan.Facts["toc_list"] = list
		pl.TOCList = list
		plan.Steps = append(plan.Steps, Step{Kind: StepCommand, Text: pgRestoreListLine(b.Path) + " | grep -v ' FK CONSTRAINT ' > " + target.ShellQuote(list),
			Note: "the archive's contents without its foreign keys, which point at tables outside the scope; the list is removed afterwards"})
		restore = append(restore, "--use-list="+list)
	}
	plan.Steps = append(plan.Steps,
		Step{Kind: StepCommand, Text: target.Join("pg_restore", append(restore, "--dbname="+conn, b.Path)...), Note: "restores the backup into the scratch database only; the password goes in PGPASSWORD"},
		Step{Kind: StepSQL, Text: countSQL(tables), Note: "in the scratch database, beside the same counts of the live database"},
		Step{Kind: StepSQL, Text: "DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", Note: "always, also when a step before failed"},
	)
	need := b.SourceBytes
	if need == 0 {
		need = b.Size * 4 // a compressed dump restores to a few times its size
	}
	plan.Preconditions = append(plan.Preconditions, toolPrecondition("pg_restore"), createDBPrecondition(ctx, t), serverSpacePrecondition(ctx, t, need))
	plan.Summary = fmt.Sprintf("restore %s into the scratch database %s on the same server, count the rows of %s, then drop it", b.Path, scratch, plural.Count(int64(len(tables)), "table", "tables"))
	return nil
}

// countSQL counts the rows of each table in one statement.
func countSQL(tables []string) string {
	var parts []string
	for _, tb := range tables {
		schema, name, _ := strings.Cut(tb, ".")
		parts = append(parts, fmt.Sprintf("SELECT %s, count(*) FROM %s", quoteLiteral(tb), pgx.Identifier{schema, name}.Sanitize()))
	}
	if len(parts) == 0 {
		return "SELECT NULL::text, 0::bigint WHERE false"
	}
	return strings.Join(parts, " UNION ALL ")
}

// archiveTables lists the tables whose data a dump holds (its TABLE DATA
// entries), from its table of contents.
func archiveTables(ctx context.Context, env *Env, path string) ([]string, error) {
	text, _, err := runCapture(ctx, env, pgRestoreListLine(path), time.Minute)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if m := tocData.FindStringSubmatch(strings.TrimSpace(l) + " "); m != nil {
			out = append(out, m[1]+"."+m[2])
		}
	}
	return out, nil
}

// withDBName points a connection string at another database.
func withDBName(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+name, ""
		q := u.Query()
		if q.Has("dbname") {
			q.Set("dbname", name)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// A later keyword wins in libpq's key=value form.
	return dsn + " dbname=" + quoteKeywordValue(name)
}

func toolPrecondition(tool string) Precondition {
	c := Precondition{Name: tool + " installed", Holds: true, Detail: "found on PATH"}
	if _, err := exec.LookPath(tool); err != nil {
		c.Holds, c.Detail = false, tool+" not found on PATH: install the PostgreSQL client (Debian: postgresql-client)"
	}
	return c
}

// createDBPrecondition holds when the role may create a database.
func createDBPrecondition(ctx context.Context, t *target.Target) Precondition {
	c := Precondition{Name: "may create a scratch database"}
	var role string
	var may bool
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&role, &may)
	})
	switch {
	case err != nil:
		c.Detail = "cannot read the role's rights: " + t.Scrubber.Scrub(err.Error())
	case !may:
		c.Detail = fmt.Sprintf("role %s has no CREATEDB: a superuser can `ALTER ROLE %s CREATEDB` for the rehearsal", role, patternPart(role))
	default:
		c.Holds, c.Detail = true, "role "+role+" has CREATEDB"
	}
	return c
}

// serverSpacePrecondition holds when the database server's data directory
// has room for need bytes. steady measures it when the server runs on
// this machine (a unix socket or loopback address, and its data directory
// readable here); otherwise the operator checks and overrides.
func serverSpacePrecondition(ctx context.Context, t *target.Target, need int64) Precondition {
	c := Precondition{Name: "free space on the database server", Overridable: true}
	var dir string
	var addr *string
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('data_directory'), host(inet_server_addr())`).Scan(&dir, &addr)
	})
	local := err == nil && (addr == nil || *addr == "127.0.0.1" || *addr == "::1")
	var st syscall.Statfs_t
	if !local || syscall.Statfs(dir, &st) != nil {
		c.Detail = fmt.Sprintf("cannot measure it from here (the server's data directory is not on this machine, or hidden from this role): check that the server has %s free (df on its data directory), then override with what you saw", humanBytes(need))
		return c
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	c.Holds = free >= need
	c.Detail = fmt.Sprintf("%s free on the filesystem of %s; the restore needs about %s", humanBytes(free), dir, humanBytes(need))
	if !c.Holds {
		c.Detail += ": free some space first; restoring into a full disk would stop the application's database too"
	}
	return c
}

// Execute implements Action.
func (r restoreCheckAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	t := env.Target
	cfg := t.Config()
	fail := func(status OutcomeStatus, summary string, err error) Outcome {
		o := Outcome{Status: status, ExitCode: -1, Summary: summary, Duration: time.Since(started)}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	pl, err := restoreCheckPayloadOf(plan)
	if err != nil {
		return fail(Failed, "cannot read the plan: plan the rehearsal again", err)
	}
	if pl.Mode == modePgBackRest {
		return executePgBackRestRestore(ctx, env, plan, pl, out)
	}
	scratch := pl.Scratch
	sqls := sqlSteps(plan)
	if scratch == "" || len(sqls) != 3 {
		return fail(Failed, "the plan names no scratch database: plan the rehearsal again", nil)
	}
	if list := pl.TOCList; list != "" {
		defer os.Remove(list)
	}
	admin, err := pgx.Connect(ctx, cfg.DB)
	if err != nil {
		return fail(Failed, "could not connect to create the scratch database", errors.New(t.Scrubber.Scrub(err.Error())))
	}
	defer admin.Close(context.WithoutCancel(ctx))
	say(env, out, "%s", sqls[0])
	if _, err := admin.Exec(ctx, sqls[0]); err != nil {
		return fail(Failed, "could not create the scratch database "+scratch, err)
	}
	dropped := false
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		say(env, out, "%s", sqls[2])
		if _, err := admin.Exec(dctx, sqls[2]); err != nil {
			say(env, out, "could not drop %s: %s; drop it by hand", scratch, t.Scrubber.Scrub(err.Error()))
			return
		}
		dropped = true
	}
	defer func() {
		if !dropped {
			drop()
		}
	}()
	_, pwEnv, _ := libpqConn(cfg.DB)
	for _, line := range commandSteps(plan) {
		exit, err := runCommand(ctx, env, out, target.Command{Line: line, Env: pwEnv})
		if o := commandFailure(env, line, exit, err, started); o != nil {
			o.Summary = "the backup did NOT restore: " + o.Summary + "; the scratch database is dropped"
			return *o
		}
	}
	counts, err := countRestored(ctx, env, out, scratch, sqls[1], pl.Count)
	if err != nil {
		return fail(Failed, "the backup restored but its tables could not be counted", err)
	}
	drop()
	if !dropped {
		return fail(Failed, "the backup restored and its rows were counted, but the scratch database "+scratch+" could not be dropped: drop it by hand", nil)
	}
	return Outcome{
		Status:   Succeeded,
		Summary:  fmt.Sprintf("restored %s into %s and counted %s (%s); the scratch database is dropped", pl.Backup, scratch, plural.Count(int64(len(counts)), "table", "tables"), strings.Join(counts, ", ")),
		Duration: time.Since(started),
		Artefacts: map[string]string{
			ArtefactKind: "restore-check", ArtefactDatabase: pl.Database, ArtefactPath: pl.Backup,
			"rows": strings.Join(counts, ","), "restored": "true",
		},
	}
}

// countRestored counts the rows of each table restored into the scratch
// database, beside the live database's count, and returns them as
// "table=rows".
func countRestored(ctx context.Context, env *Env, out Output, scratch, countSQL string, tables []string) ([]string, error) {
	db := env.Target.Config().DB
	restored, err := countRows(ctx, withDBName(db, scratch), countSQL)
	if err != nil {
		return nil, err
	}
	live, liveErr := countRows(ctx, db, countSQL)
	var counts []string
	for _, tb := range tables {
		l := "?"
		if liveErr == nil {
			l = strconv.FormatInt(live[tb], 10)
		}
		say(env, out, "%s: %d rows restored (live now: %s)", tb, restored[tb], l)
		counts = append(counts, fmt.Sprintf("%s=%d", tb, restored[tb]))
	}
	return counts, nil
}

// sqlSteps returns the texts of the plan's SQL steps, in order.
func sqlSteps(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Kind == StepSQL {
			out = append(out, s.Text)
		}
	}
	return out
}

// countRows runs the counting statement on a database.
func countRows(ctx context.Context, dsn, sql string) (map[string]int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for rows.Next() {
		var tb string
		var n int64
		if err := rows.Scan(&tb, &n); err != nil {
			return nil, err
		}
		out[tb] = n
	}
	return out, rows.Err()
}

// planPgBackRestRestore plans a restore of a pgBackRest backup into a new
// temporary directory, removed afterwards.
func planPgBackRestRestore(env *Env, plan *Plan, b *Backup, pl *restoreCheckPayload) error {
	cfg := env.Target.Config().Actions.PgBackRest
	tmp := filepath.Join(os.TempDir(), scratchName(env))
	plan.Facts[factPath] = tmp
	plan.Facts[factStanza] = cfg.Stanza
	pl.Path = tmp
	plan.Steps = []Step{
		{Kind: StepCommand, Text: pgbrCommand(env, "--set="+b.Label, "--pg1-path="+tmp, "--type=immediate", "restore"),
			Note: "into a new temporary directory on this machine; pgBackRest checks every file's checksum as it restores (rows are not counted: that needs a server started on it)"},
		{Kind: StepCommand, Text: target.Join("rm", "-rf", "--", tmp), Note: "always, also when the restore failed"},
	}
	sp := Precondition{Name: "free space for the restore", Overridable: true}
	if free, ok := freeBytes(os.TempDir()); ok {
		sp.Holds = free.free >= b.Size
		sp.Detail = fmt.Sprintf("%s free in %s; the backup restores to %s", humanBytes(free.free), free.at, humanBytes(b.Size))
		if !sp.Holds {
			sp.Detail += ": free some space or point TMPDIR elsewhere"
		}
	} else {
		sp.Detail = "cannot measure the free space of " + os.TempDir()
	}
	n := Precondition{Name: "temporary directory is new", Holds: true, Detail: tmp + " does not exist yet"}
	if _, err := os.Lstat(tmp); err == nil {
		n.Holds, n.Detail = false, tmp+" exists already: plan again"
	}
	plan.Preconditions = append(plan.Preconditions, sp, n)
	plan.Summary = fmt.Sprintf("restore pgBackRest backup %s of stanza %s into %s, then remove it", b.Label, cfg.Stanza, tmp)
	return nil
}

// executePgBackRestRestore restores into the temporary directory and
// removes it.
func executePgBackRestRestore(ctx context.Context, env *Env, plan *Plan, pl restoreCheckPayload, out Output) Outcome {
	started := time.Now()
	lines := commandSteps(plan)
	tmp := pl.Path
	if len(lines) != 2 || tmp == "" {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "the plan has no restore steps: plan again", Duration: time.Since(started)}
	}
	if _, err := os.Lstat(tmp); err == nil {
		return Outcome{Status: Refused, ExitCode: -1, Summary: "refused: " + tmp + " exists already; plan again", Duration: time.Since(started)}
	}
	// The removal runs however the restore ends.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = runCommand(rctx, env, out, target.Command{Line: lines[1]})
	}()
	exit, err := runCommand(ctx, env, out, target.Command{Line: lines[0]})
	if o := commandFailure(env, lines[0], exit, err, started); o != nil {
		o.Summary = "the backup did NOT restore: " + o.Summary
		return *o
	}
	var size int64
	_ = filepath.WalkDir(tmp, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(tmp, "PG_VERSION")); err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "the restore ended but left no data directory in " + tmp, Duration: time.Since(started)}
	}
	say(env, out, "restored %s into %s; removing it", humanBytes(size), tmp)
	return Outcome{
		Status:   Succeeded,
		Summary:  fmt.Sprintf("restored pgBackRest backup %s (%s, every file's checksum checked) into %s, then removed it", pl.Backup, humanBytes(size), tmp),
		Duration: time.Since(started),
		Artefacts: map[string]string{
			ArtefactKind: "restore-check", ArtefactDatabase: pl.Database, ArtefactLabel: pl.Backup,
			ArtefactSize: strconv.FormatInt(size, 10), "restored": "true",
		},
	}
}
