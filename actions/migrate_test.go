package actions

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/clinic"
)

// migrateFixture has config.0003 unapplied and a manage command that
// only says what it was asked (no Python needed here; the real migrate is
// proven in the end-to-end test).
func migrateFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, fixtureOptions{install: clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}})
	f.cfg.Django.Manage = f.script(t, "manage", `echo "manage $*"`)
	return f
}

func verified(db string) *history {
	return &history{backups: []Backup{{Database: db, Path: "/backups/x.dump", SHA256: "0123456789abcdef", Size: 4096, At: time.Now()}}}
}

func TestMigratePlanShowsTheUnappliedMigrationsAndTheCommands(t *testing.T) {
	f := migrateFixture(t)
	db := f.tg.DBName()
	p := plan(t, "migrate", f.env(verified(db)), nil)
	if p.Facts["unapplied"] != "config.0003_shift_constraints" || !strings.Contains(p.Summary, "config.0003_shift_constraints") {
		t.Errorf("unapplied %q, summary %q", p.Facts["unapplied"], p.Summary)
	}
	manage := f.cfg.Django.Manage
	var texts []string
	for _, s := range p.Steps {
		texts = append(texts, string(s.Kind)+" "+s.Text)
	}
	want := []string{
		"sql SELECT pg_try_advisory_lock(8319385880632048237)",
		"command " + manage + " migrate --noinput",
		"command " + manage + " check",
		"sql SELECT pg_advisory_unlock(8319385880632048237)",
		"probe migrations",
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	if !p.Destructive || p.ConfirmPhrase != db || p.Risk != High || len(p.Recheck) != 1 || p.Recheck[0] != "migrations" {
		t.Errorf("plan %+v", p)
	}
	if c := precondition(t, p, "verified backup"); !c.Holds || !strings.Contains(c.Detail, "/backups/x.dump") {
		t.Errorf("backup precondition %+v", c)
	}
}

func TestMigrateWithoutABackupIsRefused(t *testing.T) {
	f := migrateFixture(t)
	env := f.env(&history{})
	p := plan(t, "migrate", env, nil)
	c := precondition(t, p, "verified backup")
	if c.Holds || !c.Overridable || !strings.Contains(c.Detail, "run the backup action first") {
		t.Fatalf("backup precondition %+v", c)
	}
	o := execute(t, env, p, nil)
	if o.Status != Refused || !strings.Contains(o.Summary, "verified backup") {
		t.Fatalf("outcome %+v", o)
	}

	// A stale plan is not trusted: the backup the plan saw is gone now
	// (Execute asks the history again) and the migrate is refused.
	p = plan(t, "migrate", f.env(verified(f.tg.DBName())), nil)
	a, _ := Get("migrate")
	if o := a.Execute(context.Background(), env, p, newRecorder()); o.Status != Refused {
		t.Errorf("Execute trusted the plan's backup: %+v", o)
	}

	// A written override waives it, and is said in the output.
	env.Override = "the disk is full; the DBA has a snapshot from 02:00"
	out := newRecorder()
	if o := execute(t, env, p, out); o.Status != Succeeded {
		t.Fatalf("with an override: %+v\n%s", o, out.text())
	}
	if !strings.Contains(out.text(), "overridden by alice: the disk is full") || !strings.Contains(out.text(), "manage migrate --noinput") {
		t.Errorf("output:\n%s", out.text())
	}
}

// holdLock takes the migrate lock the way another operator's steady does.
func holdLock(t *testing.T, f *fixture, operator string, since time.Time) *pgx.Conn {
	t.Helper()
	cc, err := pgx.ParseConfig(f.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = lockAppName(operator, since)
	conn, err := pgx.ConnectConfig(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var got bool
	if err := conn.QueryRow(context.Background(), migrateLockSQL).Scan(&got); err != nil || !got {
		t.Fatalf("take the lock: %v %v", got, err)
	}
	return conn
}

func TestMigrateInProgressRefusesOrWaits(t *testing.T) {
	f := migrateFixture(t)
	since := time.Date(2026, 3, 1, 2, 14, 5, 0, time.UTC)
	bob := holdLock(t, f, "bob", since)
	env := f.env(verified(f.tg.DBName()))

	p := plan(t, "migrate", env, nil)
	c := precondition(t, p, "no migration in progress")
	want := "migration in progress by bob since 2026-03-01 02:14:05 UTC"
	if c.Holds || !strings.Contains(c.Detail, want) {
		t.Errorf("precondition %+v, want %q", c, want)
	}
	// Executed anyway (the plan raced the other operator): the lock
	// itself refuses, naming the holder, and nothing runs.
	p.Preconditions = nil
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Refused || !strings.Contains(o.Summary, want) {
		t.Fatalf("outcome %+v, want refused naming bob", o)
	}
	if strings.Contains(out.text(), "manage migrate") {
		t.Errorf("migrate ran while bob held the lock:\n%s", out.text())
	}

	// With wait=, it waits for bob and then runs.
	p = plan(t, "migrate", env, map[string]string{"wait": "30s"})
	if c := precondition(t, p, "no migration in progress"); !c.Holds || !strings.Contains(c.Detail, "will wait up to 30s") {
		t.Errorf("precondition with wait: %+v", c)
	}
	out = newRecorder()
	done := make(chan Outcome, 1)
	go func() { done <- execute(t, env, p, out) }()
	out.waitFor(t, "waiting up to", 10*time.Second)
	if _, err := bob.Exec(context.Background(), migrateUnlockSQL); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if o.Status != Succeeded || o.Artefacts["lock_holder"] == "" {
			t.Fatalf("after waiting: %+v\n%s", o, out.text())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still waiting after bob released the lock:\n%s", out.text())
	}
	if h, err := migrateLockHolder(context.Background(), f.tg); err != nil || h != nil {
		t.Errorf("the lock is still held after the migrate: %v %v", h, err)
	}
}

func TestMigrateCancelStopsTheCommandAndReleasesTheLock(t *testing.T) {
	f := migrateFixture(t)
	pids := filepath.Join(t.TempDir(), "pids")
	// A migrate that hangs with a child process, like a migration waiting
	// on a table lock.
	f.cfg.Django.Manage = f.script(t, "manage", `sleep 60 & echo $$ $! > `+pids+`; wait`)
	env := f.env(verified(f.tg.DBName()))
	p := plan(t, "migrate", env, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- executeCtx(ctx, t, env, p, nil) }()
	procs := readPIDs(t, pids, 2, 10*time.Second)
	if h, err := migrateLockHolder(context.Background(), f.tg); err != nil || h == nil || h.Operator != "alice" {
		t.Errorf("while migrating, the lock holder is %+v (%v), want alice", h, err)
	}
	cancel()
	var o Outcome
	select {
	case o = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the migrate did not stop after the cancel")
	}
	if o.Status != Cancelled || !strings.Contains(o.Summary, "stay applied") {
		t.Errorf("outcome %+v", o)
	}
	for _, pid := range procs {
		if !gone(pid, 5*time.Second) {
			t.Errorf("process %d outlived the cancel", pid)
		}
	}
	if h, err := migrateLockHolder(context.Background(), f.tg); err != nil || h != nil {
		t.Errorf("the lock is still held after the cancel: %+v %v", h, err)
	}
}

func TestMigrateNeedsTheManageCommand(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a, _ := Get("migrate")
	_, err := a.Plan(context.Background(), f.env(nil), nil)
	var nc *NotConfiguredError
	if !errors.As(err, &nc) || nc.Key != "django.manage" {
		t.Errorf("err %v, want NotConfiguredError for django.manage", err)
	}
}

func TestLockAppNameRoundTrips(t *testing.T) {
	since := time.Date(2026, 3, 1, 2, 14, 5, 0, time.UTC)
	for op, want := range map[string]string{
		"alice":  "alice",
		"Zoë Ng": "Zo__Ng",
		"a very long operator name that does not fit at all": "a_very_long_operator_name_t",
	} {
		name := lockAppName(op, since)
		got, at, ok := parseLockAppName(name)
		if len(name) > 63 || !ok || !at.Equal(since) || got != want {
			t.Errorf("%q → %q → %q %v %v, want %q", op, name, got, at, ok, want)
		}
	}
}

// A migration in progress is any evidence of one, not only steady's own
// advisory lock: a session holding ACCESS EXCLUSIVE on a table (the
// orphaned `manage.py migrate` of a steady that was killed), or a command
// of an earlier steady still alive. Each is named.
func TestMigrateSeesEveryMigrationInProgress(t *testing.T) {
	f := migrateFixture(t)
	db := f.tg.DBName()
	h := verified(db)
	if c := precondition(t, plan(t, "migrate", f.env(h), nil), "no migration in progress"); !c.Holds {
		t.Fatalf("nothing runs yet: %+v", c)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE config_shift IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	c := precondition(t, plan(t, "migrate", f.env(h), nil), "no migration in progress")
	if c.Holds || !strings.Contains(c.Detail, "ACCESS EXCLUSIVE on config_shift") {
		t.Errorf("a session holding ACCESS EXCLUSIVE on config_shift: %+v", c)
	}
	_ = tx.Rollback(ctx)

	h.orphans = []Orphan{{Action: "migrate", PGID: 4242}}
	c = precondition(t, plan(t, "migrate", f.env(h), nil), "no migration in progress")
	if c.Holds || !strings.Contains(c.Detail, "process group 4242") {
		t.Errorf("an earlier steady's command still alive: %+v", c)
	}
}
