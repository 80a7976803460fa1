package actions

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/probes"
	"steady/target"
)

// backupAction takes a backup of the application's database before anything
// changes it: `pg_dump -Fc` into the backup directory (or the manage
// command's `dumpdata`, as the seed runbook does), then reads it back
// (`pg_restore --list`, or a JSON parse) and records its size and sha256.
// A verified backup is what migrate's precondition asks for.
//
// Guards: the backup directory is writable; the free space there is at
// least the database's size (pg_database_size), checked when planning and
// again before the dump; the file is new (created with O_EXCL, never
// overwritten).
type backupAction struct{}

func init() { Register(backupAction{}) }

// ID implements Action.
func (backupAction) ID() string { return "backup" }

// Title implements Action.
func (backupAction) Title() string { return "Back up the database and verify the backup" }

// Params implements Action.
func (backupAction) Params() []probes.Param {
	return []probes.Param{{Name: "mode", Kind: "string", Help: "pg_dump (custom format) or dumpdata (the manage command); default actions.backup_mode"}}
}

// Backup modes.
const (
	modePgDump   = "pg_dump"
	modeDumpdata = "dumpdata"
)

// Facts a backup plan records and Execute reads back.
const (
	factPath     = "path"
	factMode     = "mode"
	factDatabase = "database"
	factDir      = "backup_dir"
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
	if mode != modePgDump && mode != modeDumpdata {
		return nil, fmt.Errorf("mode %q is not pg_dump or dumpdata", mode)
	}
	if cfg.DB == "" {
		return nil, &NotConfiguredError{Action: b.ID(), Key: "db", Why: "the backup is of the application's database", Example: "  --db postgres://app@db:5432/app (or DATABASE_URL)"}
	}
	db := t.DBName()
	dir, err := filepath.Abs(cfg.BackupDir)
	if err != nil {
		return nil, fmt.Errorf("backup directory %q: %w", cfg.BackupDir, err)
	}
	now := time.Now().UTC()
	ext := ".dump"
	if mode == modeDumpdata {
		ext = ".json"
	}
	// A second backup within the same second gets a numbered name rather
	// than a refusal; Execute's O_EXCL still guards against a race.
	base := unsafeName.ReplaceAllString(db, "_") + "-" + now.Format("20060102T150405Z")
	path := filepath.Join(dir, base+ext)
	for n := 2; n < 100; n++ {
		if _, err := os.Lstat(path); err != nil {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, n, ext))
	}

	plan := &Plan{
		Action: b.ID(), Title: b.Title(), Risk: Low, Created: now, Params: copyParams(params),
		Facts: map[string]string{factPath: path, factMode: mode, factDatabase: db, factDir: dir},
	}
	switch mode {
	case modePgDump:
		conn, _, err := libpqConn(cfg.DB)
		if err != nil {
			return nil, err
		}
		partial := partialPath(path)
		plan.Steps = []Step{
			{Kind: StepCommand, Text: pgDumpLine(partial, conn), Note: "custom format (compressed), into a new file (O_EXCL) named .partial until it is proven whole; the password goes in PGPASSWORD, never on the command line"},
			{Kind: StepCommand, Text: pgRestoreListLine(partial), Note: "reads the archive's table of contents back and counts its entries"},
			{Kind: StepCommand, Text: pgRestoreReadLine(partial), Note: "reads every entry's data back (the table of contents alone passes on a cut-short file): a truncated or corrupt archive fails here; " +
				"then it is renamed to " + filepath.Base(path) + " (never over an existing file), and its size and sha256 are recorded"},
		}
		plan.Summary = fmt.Sprintf("pg_dump of %s into %s, verified by reading the whole archive back", db, path)
	case modeDumpdata:
		manage, err := needManage(env, b.ID(), "backup_mode dumpdata runs `<manage> dumpdata`")
		if err != nil {
			return nil, err
		}
		plan.Steps = []Step{
			{Kind: StepCommand, Text: dumpdataLine(manage, path), Note: "the seed runbook's backup; " + inDir(cfg.Django.Dir) + "; the file is created new first (O_EXCL) and only then written"},
		}
		plan.Summary = fmt.Sprintf("manage.py dumpdata of %s into %s, verified by reading the JSON back", db, path)
	}
	size, err := databaseSize(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("read the size of %s: %w", db, err)
	}
	plan.Facts["database_size"] = strconv.FormatInt(size, 10)
	plan.rests("database", db)
	plan.rests("mode", mode)
	plan.Preconditions = backupPreconditions(mode, dir, path, size)
	plan.Summary += fmt.Sprintf(" (database %s)", humanBytes(size))
	if sp, ok := freeBytes(dir); ok {
		plan.Facts["free_bytes"] = strconv.FormatInt(sp.free, 10)
	}
	return plan, nil
}

func pgDumpLine(path, conn string) string {
	return target.Join("pg_dump", "--format=custom", "--no-password", "--file="+path, "--dbname="+conn)
}

func pgRestoreListLine(path string) string { return target.Join("pg_restore", "--list", path) }

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
func backupPreconditions(mode, dir, path string, dbSize int64) []Precondition {
	var out []Precondition
	if mode == modePgDump {
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
		sp.Holds = free.free >= dbSize
		sp.Detail = fmt.Sprintf("%s free on the filesystem of %s; the database is %s", humanBytes(free.free), free.at, humanBytes(dbSize))
		if !sp.Holds {
			sp.Detail += ": free some space or give another --backup-dir; a custom-format dump is compressed and often much smaller than the database, so an override with a reason may be justified"
		}
	}
	out = append(out, sp)

	n := Precondition{Name: "backup file is new", Holds: true, Detail: filepath.Base(path) + " does not exist yet"}
	if _, err := os.Lstat(path); err == nil {
		n.Holds, n.Detail = false, path+" exists already and is never overwritten: plan again for a new file name"
	}
	out = append(out, n)
	return out
}

// Execute implements Action.
func (b backupAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	t := env.Target
	path, mode, db, dir := plan.Facts[factPath], plan.Facts[factMode], plan.Facts[factDatabase], plan.Facts[factDir]
	fail := func(status OutcomeStatus, summary string, err error) Outcome {
		o := Outcome{Status: status, ExitCode: -1, Summary: summary, Duration: time.Since(started)}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	if path == "" || dir == "" {
		return fail(Failed, "the plan names no backup file: plan the backup again", nil)
	}
	// The plan may be old: measure the database and the disk again.
	size, err := databaseSize(ctx, t)
	if err != nil {
		return fail(Failed, "could not read the database size before the dump", err)
	}
	if refused := refusedNow(env, backupPreconditions(mode, dir, path, size)); refused != nil {
		refused.Duration = time.Since(started)
		return *refused
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(Failed, "could not create the backup directory "+dir, err)
	}
	// The dump goes to the file the plan names: the .partial one for
	// pg_dump (renamed once proven whole), the final one for dumpdata.
	writing := path
	if mode == modePgDump {
		writing = partialPath(path)
	}
	// O_EXCL: a file that appeared since the plan is never overwritten.
	f, err := os.OpenFile(writing, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(Refused, "refused: "+writing+" exists already and is never overwritten; plan again for a new file name", nil)
		}
		return fail(Failed, "could not create "+writing, err)
	}
	f.Close()
	say(env, out, "created %s (new file, mode 0600)", writing)

	cfg := t.Config()
	lines := commandSteps(plan)
	var dumpEnv []string
	dumpDir := ""
	if mode == modePgDump {
		_, dumpEnv, _ = libpqConn(cfg.DB)
	} else {
		dumpDir = cfg.Django.Dir
	}
	if len(lines) == 0 {
		os.Remove(writing)
		return fail(Failed, "the plan has no dump command: plan the backup again", nil)
	}
	exit, err := runCommand(ctx, env, out, target.Command{Line: lines[0], Dir: dumpDir, Env: dumpEnv})
	if o := commandFailure(env, lines[0], exit, err, started); o != nil {
		// An incomplete dump must not lie around looking like a backup.
		os.Remove(writing)
		o.Summary += "; the incomplete file was removed"
		return *o
	}

	var entries int
	switch mode {
	case modePgDump:
		if len(lines) < 3 {
			return fail(Failed, "the plan has no verification steps: plan the backup again", nil)
		}
		n, o := verifyArchive(ctx, env, out, lines[1], started)
		if o != nil {
			return *o
		}
		if o := readArchive(ctx, env, out, lines[2], started); o != nil {
			return *o
		}
		entries = n
		// Proven whole: now, and only now, it bears the backup's name.
		if err := os.Link(writing, path); err != nil {
			return fail(Failed, "the backup verified but could not be named "+path+" (an existing file is never replaced); it stays as "+writing+", NOT counted as a verified backup", err)
		}
		os.Remove(writing)
		say(env, out, "renamed %s to %s", filepath.Base(writing), filepath.Base(path))
	default:
		n, err := verifyDumpdata(path)
		if err != nil {
			return fail(Failed, "the backup did not verify: "+err.Error()+"; "+path+" is kept for inspection but is NOT a verified backup", nil)
		}
		entries = n
	}
	sum, n, err := fileSHA256(path)
	if err != nil {
		return fail(Failed, "could not read the backup back for its checksum", err)
	}
	say(env, out, "verified: %d entries, %s, sha256 %s", entries, humanBytes(n), sum)
	return Outcome{
		Status:   Succeeded,
		Summary:  fmt.Sprintf("backup of %s verified: %s (%s, %d entries, sha256 %s…)", db, path, humanBytes(n), entries, sum[:12]),
		Duration: time.Since(started),
		Artefacts: map[string]string{
			ArtefactKind: "backup", ArtefactDatabase: db, ArtefactPath: path,
			ArtefactSHA256: sum, ArtefactSize: strconv.FormatInt(n, 10), ArtefactVerified: "true",
			"format": map[string]string{modePgDump: "custom", modeDumpdata: "json"}[mode], "entries": strconv.Itoa(entries),
		},
	}
}

// verifyArchive runs `pg_restore --list` on the dump and counts its table
// of contents. The listing itself is not streamed (thousands of lines on a
// real database); its errors are.
func verifyArchive(ctx context.Context, env *Env, out Output, line string, started time.Time) (int, *Outcome) {
	cfg := env.Target.Config()
	say(env, out, "$ %s", line)
	entries := 0
	var lastErr string
	exit, err := target.Run(ctx, target.Command{Line: line}, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			if l.Stream == "stderr" {
				lastErr = env.Target.Scrubber.Scrub(l.Text)
				out.Line("stderr", lastErr)
				return
			}
			if s := strings.TrimSpace(l.Text); s != "" && !strings.HasPrefix(s, ";") {
				entries++
			}
		},
	})
	if o := commandFailure(env, line, exit, err, started); o != nil {
		if o.Status == Failed {
			o.Summary = "the backup did not verify: " + o.Summary
			if lastErr != "" {
				o.Summary += " (" + lastErr + ")"
			}
			o.Summary += "; the file is kept for inspection but is NOT a verified backup"
		}
		return 0, o
	}
	if entries == 0 {
		return 0, &Outcome{Status: Failed, ExitCode: exit.Code, Duration: time.Since(started),
			Summary: "the backup did not verify: pg_restore --list found no entries in the archive"}
	}
	return entries, nil
}

// readArchive restores the whole archive into /dev/null: a cut-short or
// corrupt dump fails here even when its table of contents reads.
func readArchive(ctx context.Context, env *Env, out Output, line string, started time.Time) *Outcome {
	cfg := env.Target.Config()
	say(env, out, "$ %s", line)
	var lastErr string
	exit, err := target.Run(ctx, target.Command{Line: line}, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			if l.Stream == "stderr" {
				lastErr = env.Target.Scrubber.Scrub(l.Text)
				out.Line("stderr", lastErr)
			}
		},
	})
	if o := commandFailure(env, line, exit, err, started); o != nil {
		if o.Status == Failed {
			o.Summary = "the backup did not verify: " + o.Summary
			if lastErr != "" {
				o.Summary += " (" + lastErr + ")"
			}
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
