package actions

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"steady/internal/config"
	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
)

// backupAction takes a backup of the application's database before anything
// changes it, in one of several modes (actions.backup_mode, or the mode
// parameter):
//
//   - pg_dump: `pg_dump -Fc` of the whole database into the backup
//     directory, read back whole and recorded with its size and sha256;
//   - scoped: the same of only the tables the pending migrations alter
//     (learnt from the migrations' operations through manage.py shell),
//     with their sequences; it covers those migrations and no others;
//   - restore_point: on a cluster that archives WAL, a named restore point
//     whose WAL segment is seen archived (backup_restorepoint.go);
//   - pgbackrest: the team's stanza's backup, verified by pgBackRest
//     (backup_pgbackrest.go);
//   - dumpdata: the manage command's `dumpdata`, the built-in runbook's
//     manual backup (Resolution Steps, incomplete migration, step 2);
//   - auto (the default): one of the above, chosen by the database's size
//     and what the cluster offers, with the others shown as alternatives
//     (backup_choose.go).
//
// A verified backup is what migrate's precondition asks for. Guards of the
// file modes: the backup directory is writable; the free space there is at
// least what will be dumped, checked when planning and again before the
// dump; the file is new (created with O_EXCL, never overwritten) and bears
// its name only once it was read back whole.
type backupAction struct{}

func init() { Register(backupAction{}) }

// ID implements Action.
func (backupAction) ID() string { return "backup" }

// Title implements Action.
func (backupAction) Title() string { return "Back up the database and verify the backup" }

// Params implements Action.
func (backupAction) Params() []probes.Param {
	return []probes.Param{{Name: "mode", Kind: "string", Help: "auto, pg_dump (the whole database), scoped (the tables the pending migrations alter), restore_point, pgbackrest or dumpdata; default actions.backup_mode"}}
}

// Backup modes (config.BackupModes).
const (
	modeAuto         = "auto"
	modePgDump       = "pg_dump"
	modeScoped       = "scoped"
	modeRestorePoint = "restore_point"
	modePgBackRest   = "pgbackrest"
	modeDumpdata     = "dumpdata"
)

// Facts a backup plan records and Execute reads back.
const (
	factPath       = "path"
	factMode       = "mode"
	factDatabase   = "database"
	factDir        = "backup_dir"
	factFormat     = "format"
	factTables     = "tables"
	factMigrations = "migrations"
	factScopeBytes = "scope_bytes"
)

// unsafeName keeps a database name safe inside a file name.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Plan implements Action.
func (b backupAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	mode := params["mode"]
	if mode == "" {
		mode = cfg.Actions.BackupMode
	}
	if mode == "" {
		mode = modeAuto
	}
	if !slices.Contains(config.BackupModes, mode) {
		return nil, fmt.Errorf("mode %q is not one of %s", mode, strings.Join(config.BackupModes, ", "))
	}
	if cfg.DB == "" {
		return nil, &NotConfiguredError{Action: b.ID(), Key: "db", Why: "the backup is of the application's database", Example: "  --db postgres://app@db:5432/app (or DATABASE_URL)"}
	}
	db := t.DBName()
	size, err := databaseSize(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("read the size of %s: %w", db, err)
	}
	plan := &Plan{
		Action: b.ID(), Title: b.Title(), Risk: Low, Created: time.Now().UTC(), Params: copyParams(params),
		Facts: map[string]string{factDatabase: db, "database_size": strconv.FormatInt(size, 10)},
	}
	var choice *modeChoice
	if mode == modeAuto {
		if choice, err = chooseMode(ctx, env, size); err != nil {
			return nil, err
		}
		mode = choice.mode
	}
	plan.Facts[factMode] = mode
	switch mode {
	case modePgDump, modeDumpdata:
		err = planDump(env, plan, mode, size, nil)
	case modeScoped:
		var sc *scope
		if choice != nil && choice.scope != nil {
			sc = choice.scope
		} else if sc, err = learnScope(ctx, env); err != nil {
			return nil, err
		}
		err = planDump(env, plan, mode, size, sc)
	case modeRestorePoint:
		err = planRestorePoint(ctx, env, plan)
	case modePgBackRest:
		err = planPgBackRest(ctx, env, plan)
	}
	if err != nil {
		return nil, err
	}
	plan.rests("database", db)
	plan.rests("mode", mode)
	if choice != nil {
		plan.Summary = "auto: " + choice.why + ". " + plan.Summary
		plan.Alternatives = choice.alternatives
	}
	if err := plan.setPayload(backupPayloadFrom(plan.Facts)); err != nil {
		return nil, err
	}
	return plan, nil
}

// backupPayload is what Execute reads back of a backup plan, whichever its
// mode.
type backupPayload struct {
	Mode     string `json:"mode"`
	Database string `json:"database"`
	// A dump's file, the directory it is in and its format; a scoped
	// dump's tables and the migrations it covers.
	Path       string   `json:"path,omitempty"`
	Dir        string   `json:"dir,omitempty"`
	Format     string   `json:"format,omitempty"`
	Tables     []string `json:"tables,omitempty"`
	Migrations []string `json:"migrations,omitempty"`
	// A restore point's name and the base backup found for it.
	PointName string `json:"restore_point,omitempty"`
	BaseFound string `json:"base_backup,omitempty"`
	// Stanza is pgBackRest's.
	Stanza string `json:"stanza,omitempty"`
}

// backupPayloadFrom gathers what the mode's planner recorded in the facts
// shown to the operator; it reads a plan journaled before payloads too.
func backupPayloadFrom(f map[string]string) backupPayload {
	return backupPayload{Mode: f[factMode], Database: f[factDatabase], Path: f[factPath], Dir: f[factDir], Format: f[factFormat],
		Tables: splitComma(f[factTables]), Migrations: splitComma(f[factMigrations]),
		PointName: f[factPointName], BaseFound: f[factBaseFound], Stanza: f[factStanza]}
}

// backupPayloadOf reads a backup plan's payload, or, for a plan journaled
// before payloads, its facts.
func backupPayloadOf(plan *Plan) (backupPayload, error) {
	return payloadOr(plan, backupPayloadFrom)
}

// planDump plans a dump into a new file of the backup directory: the whole
// database (pg_dump, dumpdata), or the tables of a scope (scoped).
func planDump(env *Env, plan *Plan, mode string, dbSize int64, sc *scope) error {
	t := env.Target
	cfg := t.Config()
	db := t.DBName()
	dir, err := filepath.Abs(cfg.BackupDir)
	if err != nil {
		return fmt.Errorf("backup directory %q: %w", cfg.BackupDir, err)
	}
	path, format := backupPath(db, dir, plan.Created, mode, sc)
	plan.Facts[factPath], plan.Facts[factDir], plan.Facts[factFormat] = path, dir, format
	need := dbSize
	switch mode {
	case modePgDump, modeScoped:
		conn, _, err := libpqConn(cfg.DB)
		if err != nil {
			return err
		}
		plan.Steps = pgDumpSteps(path, conn, format, sc)
		plan.Summary = fmt.Sprintf("pg_dump of %s into %s, verified by reading the whole archive back (database %s", db, path, humanBytes(dbSize))
		if sc != nil {
			need = sc.bytes
			describeScope(env, plan, sc, dbSize)
		} else {
			plan.Summary += "; " + estimateText(env, dbSize)
		}
		plan.Summary += ")"
	case modeDumpdata:
		manage, err := needManage(env, "backup", "backup_mode dumpdata runs `<manage> dumpdata`")
		if err != nil {
			return err
		}
		plan.Steps = []Step{
			{Kind: StepCommand, Text: dumpdataLine(manage, path), Note: "the runbook's manual backup; " + inDir(cfg.Django.Dir) + "; the file is created new first (O_EXCL) and only then written"},
		}
		plan.Summary = fmt.Sprintf("manage.py dumpdata of %s into %s, verified by reading the JSON back (database %s)", db, path, humanBytes(dbSize))
	}
	plan.Preconditions = append(plan.Preconditions, backupPreconditions(mode, dir, path, need, sc != nil)...)
	if sp, ok := freeBytes(dir); ok {
		plan.Facts["free_bytes"] = strconv.FormatInt(sp.free, 10)
	}
	return nil
}

// backupPath is a new file in dir for the backup and its format: a custom
// archive, a directory when the scope is dumped in parallel, JSON for
// dumpdata. A second backup within the same second gets a numbered name
// rather than a refusal; Execute's O_EXCL still guards against a race.
func backupPath(db, dir string, now time.Time, mode string, sc *scope) (path, format string) {
	format = formatCustom
	ext := ".dump"
	switch {
	case mode == modeDumpdata:
		format, ext = formatJSON, ".json"
	case sc != nil && sc.parallel() > 1:
		format, ext = formatDirectory, ".dir"
	}
	base := unsafeName.ReplaceAllString(db, "_") + "-" + now.Format("20060102T150405Z")
	if sc != nil {
		base += "-scoped"
	}
	path = filepath.Join(dir, base+ext)
	for n := 2; n < 100; n++ {
		if _, err := os.Lstat(path); err != nil {
			if _, err := os.Lstat(partialPath(path)); err != nil {
				break
			}
		}
		path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, n, ext))
	}
	return path, format
}

// pgDumpSteps are pg_dump's and pg_restore's commands: a directory dumped
// in parallel and then read back, or one pass where pg_restore reads the
// dump as it is written.
func pgDumpSteps(path, conn, format string, sc *scope) []Step {
	partial := partialPath(path)
	list := Step{Kind: StepCommand, Text: pgRestoreListLine(partial), Note: "reads the archive's table of contents back and counts its entries"}
	if sc != nil {
		list.Note += "; every table of the scope must have its data in it"
	}
	if format == formatDirectory {
		dump := Step{Kind: StepCommand, Text: pgDumpLine(partial, conn, format, sc),
			Note: fmt.Sprintf("directory format, %d tables dumped in parallel, into a new directory named .partial until it is proven whole; the password goes in PGPASSWORD, never on the command line", sc.parallel())}
		return []Step{dump, list,
			{Kind: StepCommand, Text: pgRestoreReadLine(partial), Note: "reads every entry's data back (the table of contents alone passes on a cut-short file): a truncated or corrupt archive fails here; " +
				"then it is renamed to " + filepath.Base(path) + " (never over an existing file), and its size and sha256 are recorded"},
		}
	}
	// One pass: what pg_dump writes goes into the file and, at the same
	// time, into pg_restore, which reads every entry back; the dump is on
	// the critical path to the fix, and reading it back afterwards would
	// double the wait.
	return []Step{
		{Kind: StepCommand, Text: pgDumpLine("", conn, format, sc),
			Note: "custom format at zlib's fastest level (measured on 1.3 GiB: a third of the default level's time, a fifth more bytes); its output is written to " + partial +
				" (a new file, O_EXCL, its sha256 taken as it is written) and read back at the same time by the next command; the password goes in PGPASSWORD, never on the command line"},
		{Kind: StepCommand, Text: pgRestoreStreamLine, Note: "reads the dump as pg_dump writes it, every entry's data decompressed: a cut-short or corrupt archive fails here"},
		{Kind: StepCommand, Text: list.Text, Note: list.Note + ", from the file as written; then it is renamed to " + filepath.Base(path) + " (never over an existing file)"},
	}
}

// Dump formats.
const (
	formatCustom    = "custom"
	formatDirectory = "directory"
	formatJSON      = "json"
)

// pgDumpLine is the dump command: the whole database, or only the tables
// (and their sequences) of a scope.
func pgDumpLine(path, conn, format string, sc *scope) string {
	args := []string{"--format=" + format}
	if format == formatDirectory {
		args = append(args, "--jobs="+strconv.Itoa(sc.parallel()))
	}
	// A backup is taken in a hurry, on the way to the fix: zlib's fastest
	// level dumped the bench's 1.3 GiB database in a third of the default
	// level's time, for a fifth more bytes.
	args = append(args, "--compress=1", "--no-password")
	if path != "" {
		args = append(args, "--file="+path)
	}
	if sc != nil {
		for _, tb := range sc.tables {
			args = append(args, "--table="+tb.pattern())
			for _, sq := range tb.sequences {
				args = append(args, "--table="+sq.pattern())
			}
		}
	}
	return target.Join("pg_dump", append(args, "--dbname="+conn)...)
}

func pgRestoreListLine(path string) string { return target.Join("pg_restore", "--list", path) }

// pgRestoreStreamLine reads an archive from standard input into nothing.
const pgRestoreStreamLine = "pg_restore --file=/dev/null"

// pgRestoreReadLine restores the whole archive into nothing: every data
// block is read and decompressed, which --list does not do.
func pgRestoreReadLine(path string) string {
	return target.Join("pg_restore", "--file=/dev/null", path)
}

// partialPath is where a dump is written until it is proven whole: a
// crash mid-dump leaves a file nobody can take for a backup.
func partialPath(path string) string { return path + ".partial" }

func dumpdataLine(manage, path string) string {
	return target.Join(manage, "dumpdata") + " > " + target.ShellQuote(path)
}

// databaseSize returns pg_database_size of the connected database.
func databaseSize(ctx context.Context, t *target.Target) (int64, error) {
	var size int64
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size)
	})
	return size, err
}

// space is the free space of the filesystem a directory is (or will be) on.
type space struct {
	free int64
	// at is the existing directory that was measured: dir itself, or its
	// nearest existing parent when dir is still to be created.
	at string
}

// freeBytes measures the space available to an unprivileged writer.
func freeBytes(dir string) (space, bool) {
	at := existingParent(dir)
	var st syscall.Statfs_t
	if err := syscall.Statfs(at, &st); err != nil {
		return space{}, false
	}
	return space{free: int64(st.Bavail) * int64(st.Bsize), at: at}, true
}

func existingParent(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		if filepath.Dir(d) == d {
			return d
		}
	}
}

// access(2) modes: may create files in a directory.
const (
	accessWrite  = 0x2
	accessSearch = 0x1
)

// backupPreconditions checks the tools, the directory, the space and that
// the file name is new.
func backupPreconditions(mode, dir, path string, need int64, scoped bool) []Precondition {
	var out []Precondition
	if mode == modePgDump || mode == modeScoped {
		var missing []string
		for _, tool := range []string{"pg_dump", "pg_restore"} {
			if _, err := exec.LookPath(tool); err != nil {
				missing = append(missing, tool)
			}
		}
		c := Precondition{Name: "pg_dump and pg_restore installed", Holds: len(missing) == 0, Detail: "found on PATH"}
		if !c.Holds {
			c.Detail = strings.Join(missing, " and ") + " not found on PATH: install the PostgreSQL client (Debian: postgresql-client, the server's major version or newer), or set actions.backup_mode: dumpdata"
		}
		out = append(out, c)
	}

	at := existingParent(dir)
	w := Precondition{Name: "backup directory writable", Holds: true, Detail: dir + " is writable"}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		w.Holds, w.Detail = false, dir+" exists and is not a directory: give another --backup-dir"
	} else if err := syscall.Access(at, accessWrite|accessSearch); err != nil {
		w.Holds, w.Detail = false, fmt.Sprintf("cannot write in %s (%v): give a writable --backup-dir (or STEADY_BACKUP_DIR)", at, err)
	} else if at != dir {
		w.Detail = dir + " will be created (in " + at + ", which is writable)"
	}
	out = append(out, w)

	sp := Precondition{Name: "free disk space", Overridable: true}
	if free, ok := freeBytes(dir); !ok {
		sp.Detail = "cannot measure the free space of " + at
	} else {
		sp.Holds = free.free >= need
		what := "the database is"
		if scoped {
			what = "the tables to dump are"
		}
		sp.Detail = fmt.Sprintf("%s free on the filesystem of %s; %s %s", humanBytes(free.free), free.at, what, humanBytes(need))
		if !sp.Holds {
			sp.Detail += ": free some space or give another --backup-dir; a custom-format dump is compressed and often much smaller than the database, so an override with a reason may be justified"
		}
	}
	out = append(out, sp)

	n := Precondition{Name: "backup file is new", Holds: true, Detail: filepath.Base(path) + " does not exist yet"}
	for _, p := range []string{path, partialPath(path)} {
		if _, err := os.Lstat(p); err == nil {
			n.Holds, n.Detail = false, p+" exists already and is never overwritten: plan again for a new file name"
		}
	}
	out = append(out, n)
	return out
}

// Execute implements Action.
func (b backupAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	pl, err := backupPayloadOf(plan)
	if err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "cannot read the plan; nothing was backed up: plan the backup again", Error: err.Error()}
	}
	switch pl.Mode {
	case modeRestorePoint:
		return executeRestorePoint(ctx, env, plan, pl, out)
	case modePgBackRest:
		return executePgBackRest(ctx, env, plan, pl, out)
	}
	return executeDump(ctx, env, plan, pl, out)
}

// executeDump carries out a planned dump: into .partial, read back whole,
// then named, hashed and recorded.
func executeDump(ctx context.Context, env *Env, plan *Plan, pl backupPayload, out Output) Outcome {
	d := &dumpRun{env: env, out: out, plan: plan, started: time.Now(), pl: pl,
		path: pl.Path, mode: pl.Mode, db: pl.Database, dir: pl.Dir, format: pl.Format}
	d.scoped = d.mode == modeScoped
	if d.path == "" || d.dir == "" {
		return d.fail(Failed, "the plan names no backup file: plan the backup again", nil)
	}
	if o := d.recheck(ctx); o != nil {
		return *o
	}
	if o := d.create(); o != nil {
		return *o
	}
	if d.file != nil {
		defer d.file.Close()
	}
	if o := d.dump(ctx); o != nil {
		return *o
	}
	if o := d.verify(ctx); o != nil {
		return *o
	}
	return d.outcome()
}

// dumpRun is one run of a pg_dump or dumpdata backup plan.
type dumpRun struct {
	env     *Env
	out     Output
	plan    *Plan
	pl      backupPayload
	started time.Time
	// What the plan names.
	path, mode, db, dir, format string
	scoped                      bool
	need                        int64    // bytes of what is dumped, measured again
	writing                     string   // the .partial file or directory, or the final file for dumpdata
	file                        *os.File // the new file, for a dump streamed into it
	lines                       []string // the plan's commands
	streamed                    bool     // pg_restore reads the dump as pg_dump writes it
	sum                         string   // sha256 of the backup
	size                        int64
	entries                     int
}

// fail is an outcome of a run that did not end in a verified backup.
func (d *dumpRun) fail(status OutcomeStatus, summary string, err error) Outcome {
	o := Outcome{Status: status, ExitCode: -1, Summary: summary, Duration: time.Since(d.started)}
	if err != nil {
		o.Error = d.env.Target.Scrubber.Scrub(err.Error())
	}
	return o
}

// failed is fail as a pointer, for the steps that stop the run.
func (d *dumpRun) failed(status OutcomeStatus, summary string, err error) *Outcome {
	o := d.fail(status, summary, err)
	return &o
}

// recheck measures what will be dumped and the disk again (the plan may be
// old), and creates the backup directory.
func (d *dumpRun) recheck(ctx context.Context) *Outcome {
	t := d.env.Target
	var err error
	if d.scoped {
		d.need, err = relationsSize(ctx, t, d.pl.Tables)
	} else {
		d.need, err = databaseSize(ctx, t)
	}
	if err != nil {
		return d.failed(Failed, "could not read the size of what is to be dumped", err)
	}
	if refused := refusedNow(d.env, backupPreconditions(d.mode, d.dir, d.path, d.need, d.scoped)); refused != nil {
		refused.Duration = time.Since(d.started)
		return refused
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return d.failed(Failed, "could not create the backup directory "+d.dir, err)
	}
	return nil
}

// create creates what the dump goes to: the .partial file (or directory)
// for pg_dump, renamed once proven whole; the final file for dumpdata. It
// is always new: nothing there before is ever written into.
func (d *dumpRun) create() *Outcome {
	d.writing = d.path
	if d.mode != modeDumpdata {
		d.writing = partialPath(d.path)
	}
	writing := d.writing
	if d.format == formatDirectory {
		// Mkdir fails on an existing name. pg_dump fills an empty one.
		if err := os.Mkdir(writing, 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return d.failed(Refused, "refused: "+writing+" exists already and is never overwritten; plan again for a new file name", nil)
			}
			return d.failed(Failed, "could not create "+writing, err)
		}
		say(d.env, d.out, "created %s (new directory, mode 0700)", writing)
		return nil
	}
	// O_EXCL: a file that appeared since the plan is never overwritten.
	f, err := os.OpenFile(writing, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return d.failed(Refused, "refused: "+writing+" exists already and is never overwritten; plan again for a new file name", nil)
		}
		return d.failed(Failed, "could not create "+writing, err)
	}
	d.file = f
	say(d.env, d.out, "created %s (new file, mode 0600)", writing)
	return nil
}

// dump runs the dump command: streamed into the new file and read back at
// once, or run on its own. An incomplete dump must not lie around looking
// like a backup: it is removed.
func (d *dumpRun) dump(ctx context.Context) *Outcome {
	cfg := d.env.Target.Config()
	d.lines = commandSteps(d.plan)
	var dumpEnv []string
	dumpDir := ""
	if d.mode == modeDumpdata {
		dumpDir = cfg.Django.Dir
	} else {
		_, dumpEnv, _ = libpqConn(cfg.DB)
	}
	if len(d.lines) == 0 {
		os.RemoveAll(d.writing)
		return d.failed(Failed, "the plan has no dump command: plan the backup again", nil)
	}
	d.streamed = len(d.lines) == 3 && d.lines[1] == pgRestoreStreamLine
	if d.streamed {
		var o *Outcome
		if d.sum, d.size, o = streamDump(ctx, d.env, d.out, d.lines[0], dumpEnv, d.file, d.started); o != nil {
			os.RemoveAll(d.writing)
			o.Summary += "; the incomplete file was removed"
			return o
		}
		return nil
	}
	d.file.Close()
	exit, err := runCommand(ctx, d.env, d.out, target.Command{Line: d.lines[0], Dir: dumpDir, Env: dumpEnv})
	if o := commandFailure(d.env, d.lines[0], exit, err, d.started); o != nil {
		os.RemoveAll(d.writing)
		o.Summary += "; the incomplete file was removed"
		return o
	}
	return nil
}

// verify reads the backup back: the archive's table of contents (and, not
// streamed, every entry's data) or the JSON; a pg_dump proven whole then,
// and only then, bears the backup's name.
func (d *dumpRun) verify(ctx context.Context) *Outcome {
	var o *Outcome
	switch {
	case d.streamed:
		o = d.verifyArchive(ctx, d.lines[2], "")
	case d.mode == modePgDump || d.mode == modeScoped:
		if len(d.lines) < 3 {
			return d.failed(Failed, "the plan has no verification steps: plan the backup again", nil)
		}
		o = d.verifyArchive(ctx, d.lines[1], d.lines[2])
	default:
		n, err := verifyDumpdata(d.path)
		if err != nil {
			return d.failed(Failed, "the backup did not verify: "+err.Error()+"; "+d.path+" is kept for inspection but is NOT a verified backup", nil)
		}
		d.entries = n
	}
	if o != nil || d.streamed {
		return o
	}
	var err error
	if d.sum, d.size, err = pathSHA256(d.path); err != nil {
		return d.failed(Failed, "could not read the backup back for its checksum", err)
	}
	return nil
}

// verifyArchive lists the archive's contents with list (a scoped backup
// must hold the data of every table of its scope), reads all its data
// back with read unless that is "" (done as it was written), and names it.
func (d *dumpRun) verifyArchive(ctx context.Context, list, read string) *Outcome {
	toc, o := verifyArchive(ctx, d.env, d.out, list, d.started)
	if o != nil {
		return o
	}
	if d.scoped {
		if missing := toc.missingData(d.pl.Tables); len(missing) > 0 {
			return d.failed(Failed, "the backup did not verify: the archive holds no data of "+strings.Join(missing, ", ")+"; "+d.writing+" is kept for inspection but is NOT a verified backup", nil)
		}
	}
	if read != "" {
		if o := readArchive(ctx, d.env, d.out, read, d.started); o != nil {
			return o
		}
	}
	d.entries = toc.entries
	if err := nameBackup(d.writing, d.path); err != nil {
		return d.failed(Failed, "the backup verified but could not be named "+d.path+" (an existing file is never replaced); it stays as "+d.writing+", NOT counted as a verified backup", err)
	}
	say(d.env, d.out, "renamed %s to %s", filepath.Base(d.writing), filepath.Base(d.path))
	return nil
}

// outcome is the verified backup, with what the guards of later actions
// read of it.
func (d *dumpRun) outcome() Outcome {
	n, sum := d.size, d.sum
	say(d.env, d.out, "verified: %s, %s, sha256 %s", plural.Count(d.entries, "entry", "entries"), humanBytes(n), sum)
	what := "backup of " + d.db
	art := map[string]string{
		ArtefactKind: "backup", ArtefactMethod: d.mode, ArtefactDatabase: d.db, ArtefactPath: d.path,
		ArtefactSHA256: sum, ArtefactSize: strconv.FormatInt(n, 10), ArtefactVerified: "true",
		ArtefactFormat: d.format, "entries": strconv.Itoa(d.entries), ArtefactSourceBytes: strconv.FormatInt(d.need, 10),
	}
	if d.scoped {
		tables, migrations := strings.Join(d.pl.Tables, ","), strings.Join(d.pl.Migrations, ",")
		art[ArtefactTables] = tables
		art[ArtefactMigrations] = migrations
		what = fmt.Sprintf("scoped backup of %s (%s; covers %s)", d.db, tables, migrations)
	}
	return Outcome{
		Status:    Succeeded,
		Summary:   fmt.Sprintf("%s verified: %s (%s, %s, sha256 %s…)", what, d.path, humanBytes(n), plural.Count(d.entries, "entry", "entries"), sum[:12]),
		Duration:  time.Since(d.started),
		Artefacts: art,
	}
}

// streamDump runs the dump with its output written to file (hashed on
// the way) and read back at the same time by pg_restore into nothing: one
// pass proves every entry readable. The processes write and read OS pipes
// directly; steady copies once, in large blocks, from one to the file and
// the other. The file is synced before it counts.
func streamDump(ctx context.Context, env *Env, out Output, line string, dumpEnv []string, file *os.File, started time.Time) (string, int64, *Outcome) {
	fail := func(summary string, err error) (string, int64, *Outcome) {
		o := &Outcome{Status: Failed, ExitCode: -1, Duration: time.Since(started), Summary: summary}
		if err != nil {
			o.Error = err.Error()
		}
		return "", 0, o
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dumpR, dumpW, err := os.Pipe()
	if err != nil {
		return fail("could not make a pipe for the dump", err)
	}
	defer dumpR.Close()
	defer dumpW.Close()
	readR, readW, err := os.Pipe()
	if err != nil {
		return fail("could not make a pipe for the dump", err)
	}
	defer readR.Close()
	defer readW.Close()

	cfg := env.Target.Config()
	read := readBackStream(ctx, env, out, readR)
	tee := teeDump(dumpR, file, readW)
	say(env, out, "$ %s", line)
	exit, err := target.Run(ctx, target.Command{Line: line, Env: dumpEnv, Stdout: dumpW}, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnStart: func(pid int) { dumpW.Close(); say(env, out, "%s", target.StartedLine(pid)) },
		OnLine:  func(l target.Line) { out.Line(l.Stream, env.Target.Scrubber.Scrub(l.Text)) },
	})
	dumpW.Close()
	dumpFailed := commandFailure(env, line, exit, err, started)
	if dumpFailed != nil {
		cancel()
	}
	werr := <-tee.done
	r := <-read
	switch {
	case werr != nil:
		return fail("the dump could not be written to "+file.Name()+": "+werr.Error(), werr)
	case dumpFailed != nil:
		return "", 0, dumpFailed
	}
	if o := commandFailure(env, pgRestoreStreamLine, r.exit, r.err, started); o != nil {
		if o.Status == Failed {
			o.Summary = "the backup did not verify: " + o.Summary
		}
		return "", 0, o
	}
	if err := file.Sync(); err != nil {
		return fail("the dump could not be written to disk whole", err)
	}
	if err := file.Close(); err != nil {
		return fail("the dump could not be written to disk whole", err)
	}
	return hex.EncodeToString(tee.hash.Sum(nil)), tee.size, nil
}

// streamRead is how pg_restore ended, reading a dump back.
type streamRead struct {
	exit target.Exit
	err  error
}

// readBackStream runs pg_restore on what comes through r, into nothing: it
// reads every entry back as the dump is written.
func readBackStream(ctx context.Context, env *Env, out Output, r *os.File) <-chan streamRead {
	cfg := env.Target.Config()
	read := make(chan streamRead, 1)
	go func() {
		say(env, out, "$ %s (reading the dump as it is written)", pgRestoreStreamLine)
		exit, err := target.Run(ctx, target.Command{Line: pgRestoreStreamLine, Stdin: r}, target.RunOptions{
			Timeout: cfg.Actions.CommandTimeout.D(),
			Grace:   cfg.Actions.KillGrace.D(),
			OnStart: func(int) { r.Close() },
			OnLine: func(l target.Line) {
				if l.Stream == "stderr" {
					out.Line("stderr", env.Target.Scrubber.Scrub(l.Text))
				}
			},
		})
		read <- streamRead{exit, err}
	}()
	return read
}

// dumpTee is the copy of a dump to its file and to pg_restore; hash and
// size are whole once done has said how it ended.
type dumpTee struct {
	hash hash.Hash
	size int64
	done chan error
}

// teeDump copies what the dump writes to src into file (hashed on the way)
// and into reader, pg_restore's input, while it still takes it (when it
// stops, its exit says why); reader is closed at the end.
func teeDump(src io.ReadCloser, file io.Writer, reader io.WriteCloser) *dumpTee {
	tee := &dumpTee{hash: sha256.New(), done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 1<<20)
		reading := true
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := file.Write(buf[:n]); werr != nil {
					// pg_dump must not wait on a pipe nobody reads:
					// closing it ends pg_dump (broken pipe), and this
					// error, not that one, is the cause.
					reader.Close()
					src.Close()
					tee.done <- werr
					return
				}
				tee.hash.Write(buf[:n])
				tee.size += int64(n)
				if reading {
					if _, werr := reader.Write(buf[:n]); werr != nil {
						reading = false
					}
				}
			}
			if err != nil {
				reader.Close()
				if err == io.EOF {
					err = nil
				}
				tee.done <- err
				return
			}
		}
	}()
	return tee
}

// nameBackup gives a dump proven whole its name, never over an existing
// file or directory: a hard link for a file (then the .partial name goes),
// an exclusive rename for a directory.
func nameBackup(partial, path string) error {
	fi, err := os.Stat(partial)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return unix.Renameat2(unix.AT_FDCWD, partial, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	}
	if err := os.Link(partial, path); err != nil {
		return err
	}
	return os.Remove(partial)
}

// splitComma reads a comma-separated fact.
func splitComma(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// archiveTOC is what `pg_restore --list` said about an archive.
type archiveTOC struct {
	entries int
	// data holds "schema.table" of every TABLE DATA entry.
	data map[string]bool
}

// missingData returns the tables (schema.name) without a TABLE DATA entry.
func (c archiveTOC) missingData(tables []string) []string {
	var out []string
	for _, tb := range tables {
		if !c.data[tb] {
			out = append(out, tb)
		}
	}
	return out
}

// tocData matches a TABLE DATA line of pg_restore --list:
// "3345; 0 16390 TABLE DATA public some_table its_owner" (schema, then table).
var tocData = regexp.MustCompile(`^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) `)

// verifyArchive runs `pg_restore --list` on the dump and reads its table
// of contents. The listing itself is not streamed (thousands of lines on a
// real database); its errors are.
func verifyArchive(ctx context.Context, env *Env, out Output, line string, started time.Time) (archiveTOC, *Outcome) {
	cfg := env.Target.Config()
	say(env, out, "$ %s", line)
	toc := archiveTOC{data: map[string]bool{}}
	exit, err := target.Run(ctx, target.Command{Line: line}, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			if l.Stream == "stderr" {
				out.Line("stderr", env.Target.Scrubber.Scrub(l.Text))
				return
			}
			if s := strings.TrimSpace(l.Text); s != "" && !strings.HasPrefix(s, ";") {
				toc.entries++
				if m := tocData.FindStringSubmatch(s + " "); m != nil {
					toc.data[m[1]+"."+m[2]] = true
				}
			}
		},
	})
	if o := commandFailure(env, line, exit, err, started); o != nil {
		if o.Status == Failed {
			o.Summary = "the backup did not verify: " + o.Summary
			o.Summary += "; the file is kept for inspection but is NOT a verified backup"
		}
		return toc, o
	}
	if toc.entries == 0 {
		return toc, &Outcome{Status: Failed, ExitCode: exit.Code, Duration: time.Since(started),
			Summary: "the backup did not verify: pg_restore --list found no entries in the archive"}
	}
	return toc, nil
}

// readArchive restores the whole archive into /dev/null: a cut-short or
// corrupt dump fails here even when its table of contents reads.
func readArchive(ctx context.Context, env *Env, out Output, line string, started time.Time) *Outcome {
	cfg := env.Target.Config()
	say(env, out, "$ %s", line)
	exit, err := target.Run(ctx, target.Command{Line: line}, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			if l.Stream == "stderr" {
				out.Line("stderr", env.Target.Scrubber.Scrub(l.Text))
			}
		},
	})
	if o := commandFailure(env, line, exit, err, started); o != nil {
		if o.Status == Failed {
			o.Summary = "the backup did not verify: " + o.Summary
			o.Summary += "; the .partial file is kept for inspection but is NOT a verified backup"
		}
		return o
	}
	return nil
}

// verifyDumpdata reads a dumpdata file back: a JSON array of objects, each
// with a "model".
func verifyDumpdata(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return 0, errors.New("the file is not a JSON array (is the manage command printing something else to stdout?)")
	}
	n := 0
	for dec.More() {
		var obj struct {
			Model string `json:"model"`
		}
		if err := dec.Decode(&obj); err != nil {
			return n, fmt.Errorf("object %d does not parse: %v", n+1, err)
		}
		if obj.Model == "" {
			return n, fmt.Errorf("object %d has no model", n+1)
		}
		n++
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return n, errors.New("the JSON array is not closed: the file is truncated")
	}
	if _, err := dec.Token(); err != io.EOF {
		return n, errors.New("there is more after the JSON array")
	}
	return n, nil
}

// pathSHA256 returns the hex sha256 and the size of a dump: of the file,
// or for a directory-format dump, of a manifest of its files in name
// order (each "name sha256 size" line), so a changed, added or missing
// file changes it; the size is then the files' total.
func pathSHA256(path string) (string, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	if !fi.IsDir() {
		return fileSHA256(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	var total int64
	for _, e := range entries { // ReadDir sorts by name
		sum, n, err := fileSHA256(filepath.Join(path, e.Name()))
		if err != nil {
			return "", 0, err
		}
		fmt.Fprintf(h, "%s %s %d\n", e.Name(), sum, n)
		total += n
	}
	return hex.EncodeToString(h.Sum(nil)), total, nil
}

// fileSHA256 returns the hex sha256 and the size of a file.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
