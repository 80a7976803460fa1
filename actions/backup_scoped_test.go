package actions

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/examples"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// scopedApp is the example Django application, migrated and seeded, with
// config.0003_shift_constraints unapplied again (as a deploy that never
// migrated leaves it), and a Target on it whose manage command is the
// application's own.
type scopedApp struct {
	app *examples.App
	cfg *config.Config
	tg  *target.Target
}

func newScopedApp(t *testing.T, dir string) *scopedApp {
	t.Helper()
	app := examples.NewClinic(t, sandboxtest.Database(t), sandboxtest.Redis(t))
	if dir != "" {
		app.Dir = dir
	}
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "6", "--months", "2")
	cfg := config.Default()
	cfg.DB = app.DatabaseURL
	cfg.Django.Dir = app.Dir
	cfg.Django.Manage = app.ManageLine()
	cfg.BackupDir = filepath.Join(t.TempDir(), "backups")
	s := &scopedApp{app: app, cfg: &cfg, tg: target.New(&cfg)}
	t.Cleanup(s.tg.Close)
	return s
}

func (s *scopedApp) env(h *history) *Env {
	return &Env{Target: s.tg, History: h, Probes: direct{s.tg}, Operator: "alice", Incident: "inc-test", Run: "action-1"}
}

// backupOf turns a backup outcome into what the session would remember.
func backupOf(o Outcome) Backup {
	a := o.Artefacts
	size, _ := strconv.ParseInt(a[ArtefactSize], 10, 64)
	src, _ := strconv.ParseInt(a[ArtefactSourceBytes], 10, 64)
	b := Backup{Database: a[ArtefactDatabase], Method: a[ArtefactMethod], Path: a[ArtefactPath], Label: a[ArtefactLabel], SHA256: a[ArtefactSHA256],
		Size: size, SourceBytes: src, Format: a[ArtefactFormat], Took: o.Duration, At: time.Now()}
	if a[ArtefactTables] != "" {
		b.Tables = strings.Split(a[ArtefactTables], ",")
	}
	if a[ArtefactMigrations] != "" {
		b.Migrations = strings.Split(a[ArtefactMigrations], ",")
	}
	return b
}

// damage changes the live data behind the application's back.
func damage(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func query[T any](t *testing.T, dsn, sql string) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// The pending migration adds two constraints to the shift table: the
// scoped backup holds that table (with its sequence) and Django's record
// of migrations, covers that migration, restores those tables as they
// were, and satisfies migrate's guard for that migration only.
func TestScopedBackupOfAPendingMigrationRestoresItsTables(t *testing.T) {
	s := newScopedApp(t, "")
	s.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	env := s.env(&history{})
	p := plan(t, "backup", env, map[string]string{"mode": "scoped"})

	dump := p.Steps[0].Text
	for _, want := range []string{"--table=public.config_shift ", "--table=public.config_shift_id_seq ", "--table=public.django_migrations ", "--format=custom"} {
		if !strings.Contains(dump, want) {
			t.Errorf("the dump lacks %q: %s", want, dump)
		}
	}
	for _, not := range []string{"config_auditlog", "config_clinician", "calculations_shiftsummary"} {
		if strings.Contains(dump, not) {
			t.Errorf("the dump takes %s, which the migration does not alter: %s", not, dump)
		}
	}
	for _, c := range p.Preconditions {
		if !c.Holds {
			t.Errorf("precondition %s does not hold: %s", c.Name, c.Detail)
		}
	}
	// The plan says what is covered and why, what is not, and the cost.
	for _, want := range []string{"config.0003_shift_constraints", "2 tables", "about", "assumed"} {
		if !strings.Contains(p.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, p.Summary)
		}
	}
	if !strings.Contains(p.Steps[0].Note, "Create constraint config_shift_duration_positive on model shift → config_shift") {
		t.Errorf("the dump's note does not say why the scope is enough: %s", p.Steps[0].Note)
	}
	if len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "not covered: the other") || !strings.Contains(p.Warnings[0], "--mode pg_dump") {
		t.Errorf("warnings %q: want what is not covered and the full backup", p.Warnings)
	}

	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	if o.Artefacts[ArtefactMethod] != modeScoped || o.Artefacts[ArtefactMigrations] != "config.0003_shift_constraints" ||
		!strings.Contains(o.Artefacts[ArtefactTables], "public.config_shift") || o.Artefacts[ArtefactVerified] != "true" {
		t.Fatalf("artefacts %v", o.Artefacts)
	}

	// The migration runs and the data is damaged afterwards; restoring the
	// scoped backup over the live database (what an on-call engineer does
	// after a bad migration) brings the tables back as they were, and
	// Django's record with them.
	const shifts = `SELECT md5(string_agg(s::text, '|' ORDER BY id)) FROM config_shift s`
	before := query[string](t, s.cfg.DB, shifts)
	auditBefore := query[int64](t, s.cfg.DB, `SELECT count(*) FROM config_auditlog`)
	s.app.MustManage(t, "migrate", "--noinput")
	damage(t, s.cfg.DB, `DELETE FROM config_shift WHERE id IN (SELECT id FROM config_shift ORDER BY id LIMIT 3)`)
	_, pw, _ := libpqConn(s.cfg.DB)
	cmd := exec.Command("pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner", "--exit-on-error", "--dbname="+s.cfg.DB, o.Artefacts[ArtefactPath])
	cmd.Env = append(os.Environ(), pw...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, b)
	}
	if after := query[string](t, s.cfg.DB, shifts); after != before {
		t.Errorf("the restored shifts differ from the ones backed up")
	}
	if n := query[int64](t, s.cfg.DB, `SELECT count(*) FROM django_migrations WHERE name = '0003_shift_constraints'`); n != 0 {
		t.Errorf("the restored django_migrations records the migration the backup was taken before")
	}
	if n := query[int64](t, s.cfg.DB, `SELECT count(*) FROM pg_constraint WHERE conname = 'config_shift_duration_positive'`); n != 0 {
		t.Errorf("the migration's constraint survived the restore of the table as it was before it")
	}
	if n := query[int64](t, s.cfg.DB, `SELECT count(*) FROM config_auditlog`); n != auditBefore {
		t.Errorf("the audit log, outside the scope, changed: %d rows, was %d", n, auditBefore)
	}
	s.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")

	// migrate's guard: covered for this migration, not for another.
	b := backupOf(o)
	h := &history{backups: []Backup{b}}
	db := s.tg.DBName()
	if c := backupPrecondition(s.env(h), db, []string{"config.0003_shift_constraints"}, true); !c.Holds || !strings.Contains(c.Detail, "scoped backup") {
		t.Errorf("guard for the covered migration: %+v", c)
	}
	if c := backupPrecondition(s.env(h), db, []string{"config.0003_shift_constraints", "config.0004_other"}, true); c.Holds || !strings.Contains(c.Detail, "do not cover") {
		t.Errorf("guard for a migration it does not cover: %+v", c)
	}
	if c := backupPrecondition(s.env(h), db, nil, false); c.Holds {
		t.Errorf("guard when the unapplied migrations are unknown: %+v", c)
	}
	mp := plan(t, "migrate", s.env(h), nil)
	if c := precondition(t, mp, "verified backup"); !c.Holds {
		t.Errorf("migrate's plan with the scoped backup: %+v", c)
	}

	// The rehearsal restores it into a scratch database and counts rows.
	rp := plan(t, "restore-check", s.env(h), nil)
	for _, c := range rp.Preconditions {
		if !c.Holds {
			t.Errorf("restore-check precondition %s: %s", c.Name, c.Detail)
		}
	}
	out = newRecorder()
	ro := execute(t, s.env(h), rp, out)
	want := "public.config_shift=" + strconv.FormatInt(query[int64](t, s.cfg.DB, `SELECT count(*) FROM config_shift`), 10)
	if ro.Status != Succeeded || !strings.Contains(ro.Artefacts["rows"], want) {
		t.Fatalf("restore-check %+v, want rows %s\n%s", ro, want, out.text())
	}
	if n := query[int64](t, s.cfg.DB, `SELECT count(*) FROM pg_database WHERE datname LIKE 'steady_check_%'`); n != 0 {
		t.Errorf("the scratch database was left behind")
	}
}

// A migration that runs Python code can write any table: no scope is
// safe, the plan says so by name and offers the full dump; auto, on a
// database it is told is large, falls back to the full dump.
func TestScopedBackupRefusesAMigrationWhoseTablesCannotBeKnown(t *testing.T) {
	src, err := examples.ClinicDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clinic")
	if b, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy the example app: %v %s", err, b)
	}
	mig := `from django.db import migrations


def backfill(apps, schema_editor):
    Shift = apps.get_model('config', 'Shift')
    Shift.objects.filter(duration__lte=0).update(duration=1)


class Migration(migrations.Migration):
    dependencies = [('config', '0003_shift_constraints')]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
`
	if err := os.WriteFile(filepath.Join(dir, "config", "migrations", "0004_backfill.py"), []byte(mig), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newScopedApp(t, dir)
	s.app.MustManage(t, "migrate", "config", "0003", "--noinput")
	env := s.env(&history{})
	p := plan(t, "backup", env, map[string]string{"mode": "scoped"})
	c := precondition(t, p, "tables of every unapplied migration known")
	if c.Holds || c.Overridable || !strings.Contains(c.Detail, "config.0004_backfill: RunPython backfill") || !strings.Contains(c.Detail, "--mode pg_dump") {
		t.Errorf("precondition %+v", c)
	}
	if o := execute(t, env, p, nil); o.Status != Refused {
		t.Errorf("a scope that cannot be known ran: %+v", o)
	}

	defer func(was int64) { largeDatabase = was }(largeDatabase)
	largeDatabase = 1
	p = plan(t, "backup", env, nil)
	if p.Facts[factMode] != modePgDump || !strings.Contains(p.Summary, "no cheaper mode") {
		t.Errorf("auto on a large database whose migration runs Python: mode %s, summary %s", p.Facts[factMode], p.Summary)
	}
	alts := map[string]Alternative{}
	for _, a := range p.Alternatives {
		alts[a.Param] = a
	}
	if a := alts["mode=scoped"]; a.Available || !strings.Contains(a.Estimate, "RunPython") {
		t.Errorf("scoped alternative %+v", a)
	}
	if a := alts["mode=restore_point"]; a.Available || !strings.Contains(a.Estimate, "archive_mode = off") {
		t.Errorf("restore point alternative %+v", a)
	}
	if a := alts["mode=pg_dump"]; !a.Available || !a.Chosen {
		t.Errorf("full dump alternative %+v", a)
	}
}

// With no mode configured, a small database gets a full dump and a large
// one (here: anything) the scoped dump of the pending migration, each plan
// showing the other modes with their estimates.
func TestAutoBackupChoosesByDatabaseSize(t *testing.T) {
	s := newScopedApp(t, "")
	s.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	env := s.env(&history{})
	p := plan(t, "backup", env, nil)
	if p.Facts[factMode] != modePgDump || !strings.Contains(p.Summary, "the database is small") || len(p.Alternatives) != 4 {
		t.Errorf("small database: mode %s, summary %s, alternatives %+v", p.Facts[factMode], p.Summary, p.Alternatives)
	}

	defer func(was int64) { largeDatabase = was }(largeDatabase)
	largeDatabase = 1
	p = plan(t, "backup", env, nil)
	if p.Facts[factMode] != modeScoped || !strings.Contains(p.Summary, "alter only") || !strings.Contains(p.Steps[0].Text, "--table=public.config_shift ") {
		t.Fatalf("large database: mode %s, summary %s", p.Facts[factMode], p.Summary)
	}
	for _, a := range p.Alternatives {
		if a.Estimate == "" {
			t.Errorf("alternative %s has no estimate", a.Param)
		}
	}
	if o := execute(t, env, p, nil); o.Status != Succeeded || o.Artefacts[ArtefactMethod] != modeScoped {
		t.Errorf("auto's scoped backup: %+v", o)
	}
}

// Two large tables are dumped in parallel, in directory format: the
// directory is written as .partial, read back whole, named without ever
// replacing anything, hashed file by file, and restores in the rehearsal.
func TestScopedBackupOfLargeTablesIsParallel(t *testing.T) {
	s := newScopedApp(t, "")
	s.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	defer func(was int64) { parallelTable = was }(parallelTable)
	parallelTable = 1
	env := s.env(&history{})
	p := plan(t, "backup", env, map[string]string{"mode": "scoped"})
	if p.Facts[factFormat] != formatDirectory || !strings.Contains(p.Steps[0].Text, "--format=directory --jobs=2 ") || !strings.HasSuffix(p.Facts[factPath], "-scoped.dir") {
		t.Fatalf("format %s, path %s, dump %s", p.Facts[factFormat], p.Facts[factPath], p.Steps[0].Text)
	}
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded || o.Artefacts[ArtefactFormat] != formatDirectory {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	path := o.Artefacts[ArtefactPath]
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Fatalf("%s is not the dump directory: %v", path, err)
	}
	if _, err := os.Stat(partialPath(path)); !os.IsNotExist(err) {
		t.Errorf("the .partial directory is left behind: %v", err)
	}
	if sum, _, err := pathSHA256(path); err != nil || sum != o.Artefacts[ArtefactSHA256] {
		t.Errorf("sha256 of the directory %s (%v), recorded %s", sum, err, o.Artefacts[ArtefactSHA256])
	}
	// A directory never replaces another: naming onto an existing one fails.
	other := filepath.Join(t.TempDir(), "taken")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := nameBackup(path, other); err == nil {
		t.Errorf("a dump directory was renamed over an existing directory")
	}

	h := &history{backups: []Backup{backupOf(o)}}
	rp := plan(t, "restore-check", s.env(h), nil)
	if ro := execute(t, s.env(h), rp, newRecorder()); ro.Status != Succeeded || !strings.Contains(ro.Artefacts["rows"], "public.config_shift=") {
		t.Errorf("restore-check of the directory dump: %+v", ro)
	}
}
