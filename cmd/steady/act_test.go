package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"steady/examples"
	"steady/internal/celery"
	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/session"
	"steady/internal/target"
)

// clinicEnv is the environment `steady act` runs with against the example
// Django application: the application's own settings (which the manage
// command reads) and steady's.
func clinicEnv(app *examples.App, journals, backups string) []string {
	return []string{
		"DATABASE_URL=" + app.DatabaseURL,
		"REDIS_URL=" + app.CacheURL,
		"CELERY_BROKER_URL=" + app.BrokerURL,
		"CELERY_RESULT_BACKEND=" + app.BrokerURL,
		"DJANGO_SETTINGS_MODULE=clinicsite.settings",
		"PYTHONDONTWRITEBYTECODE=1",
		"STEADY_DJANGO_DIR=" + app.Dir,
		"STEADY_MANAGE=" + target.Join(app.Python, "manage.py"),
		"STEADY_JOURNAL_DIR=" + journals,
		"STEADY_BACKUP_DIR=" + backups,
	}
}

// with returns env with some variables replaced or added.
func with(env []string, kv ...string) []string {
	out := append([]string(nil), env...)
	for _, x := range kv {
		k, _, _ := strings.Cut(x, "=")
		replaced := false
		for i, y := range out {
			if strings.HasPrefix(y, k+"=") {
				out[i], replaced = x, true
			}
		}
		if !replaced {
			out = append(out, x)
		}
	}
	return out
}

func expect(t *testing.T, r result, code int, contains ...string) {
	t.Helper()
	all := r.stdout + r.stderr
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
		return
	}
	for _, s := range contains {
		if !strings.Contains(all, s) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// TestActEndToEnd drives the built-in runbook's two resolution paths through
// the built binary against the example Django application on private
// servers, with its real Celery worker, and proves the CLI's guards.
func TestActEndToEnd(t *testing.T) {
	steadyBin(t)
	dbURL := sandboxtest.Database(t)
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "6", "--months", "2")
	worker := app.StartWorker(t)
	journals := t.TempDir()
	env := clinicEnv(app, journals, t.TempDir())
	db := target.New(&config.Config{DB: dbURL}).DBName()
	act := func(args ...string) result {
		t.Helper()
		return runSteady(t, "", env, append([]string{"act"}, args...)...)
	}

	t.Run("incomplete migration: backup, migrate, check", func(t *testing.T) {
		app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
		expect(t, act("migrate", "--yes", "--confirm", db), 1, "Outcome: refused", "verified backup of "+db+" from this incident: none taken")
		expect(t, act("backup", "--plan"), 0, "[command] pg_dump --format=custom", "[command] pg_restore --list", "✓ free disk space", "Recorded as")
		expect(t, act("backup"), 1, "Not carried out", "steady act backup --yes")
		expect(t, act("backup", "--yes"), 0, "Outcome: succeeded", "verified: true")
		expect(t, act("migrate", "--plan"), 0, "config.0003_shift_constraints", "✓ verified backup of "+db, "Confirm phrase: "+db)
		expect(t, act("migrate", "--yes", "--confirm", "yes"), 1, "confirmation does not match", "type \""+db+"\" exactly")
		expect(t, act("migrate", "--yes", "--confirm", db), 0,
			"Applying config.0003_shift_constraints... OK", "System check identified no issues", "Outcome: succeeded", "» migrations: ok")
		expect(t, act("check", "--yes"), 0, "Outcome: succeeded")

		// One incident holds it all: the backup satisfied the later migrate.
		list, err := session.List(journals)
		if err != nil || len(list) != 1 {
			t.Fatalf("journals %v %v, want one incident", list, err)
		}
		events, _, err := session.ReadJournal(list[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		st := session.Fold(nil, events)
		var got []string
		for _, a := range st.Actions {
			if a.Outcome != nil {
				got = append(got, a.Action+":"+string(a.Outcome.Status))
			}
		}
		want := "migrate:refused backup:succeeded migrate:succeeded check:succeeded"
		if strings.Join(got, " ") != want {
			t.Errorf("journaled outcomes %q, want %q", strings.Join(got, " "), want)
		}
		if r := runSteady(t, "", nil, "report", "verify", list[0].Path); r.code != 0 {
			t.Errorf("the journal's chain does not verify: %s%s", r.stdout, r.stderr)
		}
	})

	t.Run("cache issue: flush-cache, recalculate with the real worker", func(t *testing.T) {
		raw := app.MustManage(t, "inject_fault", "--fault", "stale-cache", "--json")
		var fault struct {
			Clinicians []int64 `json:"clinicians"`
			Start      string  `json:"period_start"`
			End        string  `json:"period_end"`
		}
		if err := json.Unmarshal([]byte(raw[strings.Index(raw, "{"):]), &fault); err != nil {
			t.Fatalf("inject_fault said %q: %v", raw, err)
		}
		expect(t, runSteady(t, "", env, "check", "--only", "cache"), 1, "stale")
		redisName := target.New(&config.Config{Redis: app.CacheURL}).RedisName()
		expect(t, act("flush-cache", "--plan"), 0, "[redis] FLUSHDB ASYNC", "Confirm phrase: "+redisName)
		expect(t, act("flush-cache", "--yes", "--confirm", redisName), 0, "Outcome: succeeded", "FLUSHDB ASYNC done")
		clinician := fmt.Sprint(fault.Clinicians[0])
		expect(t, act("recalculate", "--clinician", clinician, "--from", fault.Start, "--to", fault.End, "--yes"), 0,
			"calculations.tasks.recalculate_clinician(clinician_id="+clinician+", start_date='"+fault.Start+"', end_date='"+fault.End+"')",
			"» progress: 1/1 tasks", "Outcome: succeeded", "» summaries: ok")
		expect(t, runSteady(t, "", env, "check", "--only", "cache,summaries"), 0)
		if !worker.Alive() {
			t.Errorf("the worker died:\n%s", worker.Log())
		}
	})

	t.Run("FLUSHALL with queued tasks needs the typed acceptance", func(t *testing.T) {
		// A Redis of its own with no worker, so the tasks stay queued.
		other := sandboxtest.Redis(t)
		cache, _ := examples.RedisDB(other, 1)
		broker, _ := examples.RedisDB(other, 0)
		flushEnv := with(env, "REDIS_URL="+cache, "CELERY_BROKER_URL="+broker, "CELERY_RESULT_BACKEND="+broker, "STEADY_JOURNAL_DIR="+t.TempDir())
		bo, _ := redis.ParseURL(broker)
		rdb := redis.NewClient(bo)
		defer rdb.Close()
		cfg := config.Default()
		if _, err := clinic.EnqueueNoise(context.Background(), rdb, &cfg, clinic.NoiseOptions{Tasks: 3, Results: 2}); err != nil {
			t.Fatal(err)
		}
		name := target.New(&config.Config{Redis: cache}).RedisName()
		accept := "drop 3 queued tasks and 2 task results"
		r := runSteady(t, "", flushEnv, "act", "flush-cache", "--mode", "flushall", "--yes", "--confirm", name)
		expect(t, r, 1, "[redis] FLUSHALL ASYNC", "3 queued tasks waiting in the Celery queue celery would be lost", "type \""+accept+"\" exactly")
		if n, _ := celery.QueueLength(context.Background(), rdb, "celery"); n != 3 {
			t.Fatalf("after the refusal the queue holds %d tasks, want 3", n)
		}
		r = runSteady(t, "", flushEnv, "act", "flush-cache", "--mode", "flushall", "--yes", "--confirm", accept)
		expect(t, r, 0, "Outcome: succeeded")
		if n, _ := celery.QueueLength(context.Background(), rdb, "celery"); n != 0 {
			t.Errorf("after the accepted FLUSHALL the queue holds %d tasks", n)
		}
	})

	t.Run("ctrl+c cancels the running action, no process is left, a second steady is told", func(t *testing.T) {
		dir := t.TempDir()
		pids := filepath.Join(dir, "pids")
		yaml := "django:\n  restart:\n    - \"sleep 60 & echo $$ $! > " + pids + "; wait\"\n"
		if err := os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		runEnv := with(env, "STEADY_JOURNAL_DIR="+filepath.Join(dir, "incidents"))
		cmd := exec.Command(steadyBin(t), "act", "restart", "--yes", "--confirm", db)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "USER=tester"}, runEnv...)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		procs := waitPIDs(t, pids, 20*time.Second)

		// While it runs, the incident is held: another steady says so.
		r := runSteady(t, dir, runEnv, "act", "check", "--plan")
		expect(t, r, 1, "open in another steady process")

		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 130 {
				t.Errorf("exit %v, want 130\n%s", err, out.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("steady did not end after ctrl+c:\n%s", out.String())
		}
		if s := out.String(); !strings.Contains(s, "Outcome: cancelled") {
			t.Errorf("output:\n%s", s)
		}
		for _, pid := range procs {
			if !processGone(pid, 5*time.Second) {
				t.Errorf("process %d outlived the cancelled restart", pid)
			}
		}
	})
}

// asUserPassword makes a login role whose password is its own name, as
// many compose files have it (postgres:postgres), and returns dbURL with
// that role's credentials. The role goes when the test ends.
func asUserPassword(t *testing.T, dbURL, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", pgx.Identifier{name}.Sanitize(), name)); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			t.Skipf("this server already has a role %s; its password is not ours to change", name)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		role := pgx.Identifier{name}.Sanitize()
		if _, err := conn.Exec(ctx, "REASSIGN OWNED BY "+role+" TO CURRENT_USER; DROP OWNED BY "+role+"; DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, name)
	return u.String()
}

// With user = password = "postgres", scrubbing the plan that runs would
// hand pg_dump --dbname=***://***@… and the manage command
// DATABASE_URL=***://***:***@…, and the backup, so migrate, would fail. What
// runs is the plan as made; only what is shown is scrubbed.
func TestActWhenTheUserIsThePassword(t *testing.T) {
	steadyBin(t)
	dbURL := asUserPassword(t, sandboxtest.Database(t), "postgres")
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "3", "--months", "1")
	app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	journals := t.TempDir()
	// The manage command carries the URL, password and all, as a team's
	// `env DATABASE_URL=... python manage.py` would.
	env := with(clinicEnv(app, journals, t.TempDir()), "STEADY_MANAGE="+app.ManageLine())
	db := target.New(&config.Config{DB: dbURL}).DBName()

	r := runSteady(t, "", env, "act", "backup", "--yes")
	expect(t, r, 0, "'--dbname=***://***@127.0.0.1:", "Outcome: succeeded", "verified: true")
	r = runSteady(t, "", env, "act", "migrate", "--yes", "--confirm", db)
	expect(t, r, 0, "DATABASE_URL=***://***:***@127.0.0.1:", "Applying config.0003_shift_constraints... OK", "Outcome: succeeded", "» migrations: ok")

	path := onlyJournal(t, journals)
	journal := string(mustReadFile(t, path))
	for _, leak := range []string{"postgres:postgres", ":postgres@", "//postgres"} {
		if strings.Contains(journal, leak) {
			t.Errorf("the journal holds %q", leak)
		}
	}
	expect(t, runSteady(t, "", nil, "report", "verify", path), 0, "ok")
}

// syncBuffer is a bytes.Buffer safe for a process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitPIDs waits for a file naming two pids.
func waitPIDs(t *testing.T, path string, timeout time.Duration) []int {
	t.Helper()
	var a, b int
	poll.Until(t, timeout, path+" to name two processes", func() bool {
		data, err := os.ReadFile(path)
		n, _ := fmt.Sscan(string(data), &a, &b)
		return err == nil && n == 2
	}, nil)
	return []int{a, b}
}

// processGone waits until pid has exited (a zombie awaiting its reaper counts).
func processGone(pid int, timeout time.Duration) bool {
	return poll.Within(timeout, func() bool {
		if err := syscall.Kill(pid, 0); err != nil {
			return true
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		i := bytes.LastIndexByte(stat, ')')
		return err == nil && i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z"))
	})
}
