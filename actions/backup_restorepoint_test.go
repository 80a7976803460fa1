package actions

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// archivingEnv is an Env on a database of a private cluster that archives
// its WAL into a directory.
func archivingEnv(t *testing.T, pg *sandbox.Postgres, dsn string) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.DB = dsn
	cfg.BackupDir = filepath.Join(t.TempDir(), "backups")
	tg := target.New(&cfg)
	t.Cleanup(tg.Close)
	return &Env{Target: tg, History: &history{}, Probes: direct{tg}, Operator: "alice", Incident: "inc-test", Run: "action-1"}
}

// awaitArchiver waits until the archiver has archived segment or a later
// one.
func awaitArchiver(t *testing.T, dsn, segment string) {
	t.Helper()
	poll.Until(t, time.Minute, "segment "+segment+" to be archived", func() bool {
		return walName(query[string](t, dsn, `SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver`)) >= segment
	}, nil)
}

// A restore point on an archiving cluster: made, switched, seen archived,
// recorded with its LSN, segment and the base backup found; and a second
// cluster recovered from that base backup to the point holds exactly what
// was written before it.
func TestRestorePointIsArchivedAndRecoverable(t *testing.T) {
	ctx := context.Background()
	pg := sandboxtest.ArchivingPostgres(t)
	dsn, err := pg.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	damage(t, dsn, `CREATE TABLE marks (what text)`)
	damage(t, dsn, `INSERT INTO marks VALUES ('before the base backup')`)
	base, err := pg.BaseBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Its history file reaches the archive as the archiver gets to it.
	poll.Until(t, time.Minute, "the base backup's history file to be archived", func() bool {
		found, _ := filepath.Glob(filepath.Join(pg.ArchiveDir(), "*.backup"))
		return len(found) > 0
	}, nil)
	damage(t, dsn, `INSERT INTO marks VALUES ('before the point')`)

	env := archivingEnv(t, pg, dsn)
	p := plan(t, "backup", env, map[string]string{"mode": "restore_point"})
	for _, c := range p.Preconditions {
		if !c.Holds {
			t.Errorf("precondition %s does not hold: %s", c.Name, c.Detail)
		}
	}
	if want := "SELECT lsn::text, pg_walfile_name(lsn) FROM pg_create_restore_point('steady-inc-test-action-1') AS lsn"; p.Steps[0].Text != want {
		t.Errorf("first step %q, want %q", p.Steps[0].Text, want)
	}
	if c := precondition(t, p, "a base backup"); !strings.Contains(c.Detail, ".backup") {
		t.Errorf("the base backup is not named: %+v", c)
	}
	for _, want := range []string{"not a file", "recovery_target_name = 'steady-inc-test-action-1'", "restore_command"} {
		if !strings.Contains(p.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, p.Summary)
		}
	}
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	t.Logf("restore point made and archived in %s", o.Duration)
	a := o.Artefacts
	if a[ArtefactMethod] != modeRestorePoint || a[ArtefactLabel] != "steady-inc-test-action-1" || a["lsn"] == "" || a[ArtefactVerified] != "true" || !strings.Contains(a["base_backup"], ".backup") {
		t.Fatalf("artefacts %v", a)
	}
	if _, err := os.Stat(filepath.Join(pg.ArchiveDir(), a["segment"])); err != nil {
		t.Errorf("the segment holding the point is not in the archive: %v", err)
	}

	// Written after the point, and archived too: recovery must stop short
	// of it.
	damage(t, dsn, `INSERT INTO marks VALUES ('after the point')`)
	after := query[string](t, dsn, `SELECT pg_walfile_name(pg_current_wal_lsn())`)
	damage(t, dsn, `SELECT pg_switch_wal()`)
	awaitArchiver(t, dsn, after)

	rec := sandboxtest.PostgresServer(t, sandbox.PostgresOptions{Recover: &sandbox.Recovery{
		BaseBackup: base, ArchiveDir: pg.ArchiveDir(), TargetName: a[ArtefactLabel], Password: pg.Password(),
	}})
	u, _ := url.Parse(rec.URL("app"))
	got := query[string](t, u.String(), `SELECT string_agg(what, ', ' ORDER BY what) FROM marks`)
	if got != "before the base backup, before the point" {
		t.Errorf("recovered to the point, the table holds %q", got)
	}

	// The session remembers it as a backup covering any migration.
	b := backupOf(o)
	if c := backupPrecondition(&Env{Target: env.Target, History: &history{backups: []Backup{b}}}, env.Target.DBName(), []string{"config.0003_x"}, true); !c.Holds || !strings.Contains(c.Detail, "restore point steady-inc-test-action-1") {
		t.Errorf("migrate's guard with the restore point: %+v", c)
	}
	// It is no file: the rehearsal says how to rehearse it instead.
	rp := plan(t, "restore-check", &Env{Target: env.Target, History: &history{backups: []Backup{b}}}, nil)
	if c := precondition(t, rp, "a verified backup"); c.Holds || !strings.Contains(c.Detail, "recovery target, not a file") {
		t.Errorf("restore-check of a restore point: %+v", c)
	}
}

// Each thing a restore point needs, missing, is a named precondition with
// its fix, and the dump is offered instead.
func TestRestorePointBadInput(t *testing.T) {
	ctx := context.Background()

	t.Run("archiving off", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{})
		p := plan(t, "backup", f.env(&history{}), map[string]string{"mode": "restore_point"})
		if c := precondition(t, p, "WAL archiving on"); c.Holds || !strings.Contains(c.Detail, "archive_mode = off") || !strings.Contains(c.Detail, "--mode pg_dump") {
			t.Errorf("%+v", c)
		}
		if o := execute(t, f.env(&history{}), p, nil); o.Status != Refused {
			t.Errorf("made a restore point without archiving: %+v", o)
		}
	})

	pg := sandboxtest.ArchivingPostgres(t)
	dsn, err := pg.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	damage(t, dsn, `SELECT pg_switch_wal()`)
	damage(t, dsn, `CREATE ROLE app LOGIN PASSWORD 'app-pw'`)

	t.Run("no privilege", func(t *testing.T) {
		u, _ := url.Parse(dsn)
		u.User = url.UserPassword("app", "app-pw")
		p := plan(t, "backup", archivingEnv(t, pg, u.String()), map[string]string{"mode": "restore_point"})
		c := precondition(t, p, "privileges for a restore point")
		if c.Holds || !strings.Contains(c.Detail, "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text), pg_switch_wal() TO app") {
			t.Errorf("%+v", c)
		}
		// Granted, the plan holds.
		damage(t, dsn, `GRANT EXECUTE ON FUNCTION pg_create_restore_point(text), pg_switch_wal() TO app`)
		p = plan(t, "backup", archivingEnv(t, pg, u.String()), map[string]string{"mode": "restore_point"})
		if c := precondition(t, p, "privileges for a restore point"); !c.Holds {
			t.Errorf("after the grant: %+v", c)
		}
	})

	t.Run("archiving failing", func(t *testing.T) {
		damage(t, dsn, `ALTER SYSTEM SET archive_command = 'false'`)
		damage(t, dsn, `SELECT pg_reload_conf()`)
		damage(t, dsn, `CREATE TABLE filler AS SELECT 1 AS x`)
		damage(t, dsn, `SELECT pg_switch_wal()`)
		poll.Until(t, time.Minute, "the archiver to fail", func() bool {
			return query[bool](t, dsn, `SELECT coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) FROM pg_stat_archiver`)
		}, nil)
		env := archivingEnv(t, pg, dsn)
		p := plan(t, "backup", env, map[string]string{"mode": "restore_point"})
		if c := precondition(t, p, "WAL archiving succeeds"); c.Holds || !strings.Contains(c.Detail, "archiving is failing") || !strings.Contains(c.Detail, "--mode pg_dump") {
			t.Errorf("%+v", c)
		}
		// auto does not propose it, even for a large database.
		defer func(was int64) { largeDatabase = was }(largeDatabase)
		largeDatabase = 1
		p = plan(t, "backup", env, nil)
		if p.Facts[factMode] == modeRestorePoint {
			t.Errorf("auto chose a restore point while archiving fails")
		}
		damage(t, dsn, `ALTER SYSTEM RESET archive_command`)
		damage(t, dsn, `SELECT pg_reload_conf()`)
	})
}

// On an archiving cluster, auto proposes a restore point for a large
// database.
func TestAutoBackupProposesARestorePointWhereArchivingWorks(t *testing.T) {
	ctx := context.Background()
	pg := sandboxtest.ArchivingPostgres(t)
	dsn, err := pg.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	damage(t, dsn, `SELECT pg_switch_wal()`)
	poll.Until(t, time.Minute, "a segment to be archived", func() bool {
		return query[int64](t, dsn, `SELECT archived_count FROM pg_stat_archiver`) > 0
	}, nil)
	defer func(was int64) { largeDatabase = was }(largeDatabase)
	largeDatabase = 1
	env := archivingEnv(t, pg, dsn)
	p := plan(t, "backup", env, nil)
	if p.Facts[factMode] != modeRestorePoint || !strings.Contains(p.Summary, "archives WAL") {
		t.Errorf("mode %s, summary %s", p.Facts[factMode], p.Summary)
	}
}
