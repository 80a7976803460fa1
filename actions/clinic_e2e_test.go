package actions_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"steady/actions"
	"steady/examples"
	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// clinicApp is the example Django application on private servers with its
// real Celery worker, and a steady session on it.
type clinicApp struct {
	app    *examples.App
	worker *examples.Worker
	cfg    *config.Config
	tg     *target.Target
	s      *session.Session
}

var operator = session.Actor{Name: "alice", Via: "local", Role: session.Operator}

func startClinic(t *testing.T) *clinicApp {
	t.Helper()
	dbURL := sandboxtest.Database(t)
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "6", "--months", "2")
	c := &clinicApp{app: app, worker: app.StartWorker(t)}
	// steady runs the manage command the way an operator's shell would:
	// with the application's settings in the environment.
	for k, v := range map[string]string{
		"DATABASE_URL": app.DatabaseURL, "REDIS_URL": app.CacheURL, "CELERY_BROKER_URL": app.BrokerURL,
		"CELERY_RESULT_BACKEND": app.BrokerURL, "DJANGO_SETTINGS_MODULE": "clinicsite.settings", "PYTHONDONTWRITEBYTECODE": "1",
	} {
		t.Setenv(k, v)
	}
	cfg := config.Default()
	cfg.DB, cfg.Redis, cfg.Broker = dbURL, app.CacheURL, app.BrokerURL
	cfg.Django.Dir = app.Dir
	cfg.Django.Manage = target.Join(app.Python, "manage.py")
	cfg.BackupDir = filepath.Join(t.TempDir(), "backups")
	cfg.Actions.TaskTimeout = config.Duration(30 * time.Second)
	c.cfg = &cfg
	c.tg = target.New(c.cfg)
	t.Cleanup(c.tg.Close)
	rb, err := runbook.Load("", "", runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	c.s, err = session.Open(session.Options{Runbook: rb, Target: c.tg, Dir: t.TempDir(), Actor: operator})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.s.Shutdown() })
	return c
}

func (c *clinicApp) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.s.Wait(ctx); err != nil {
		t.Fatalf("the session's runs did not finish: %v", err)
	}
}

// probe runs a probe through the session and returns its result.
func (c *clinicApp) probe(t *testing.T, id string) *probes.Result {
	t.Helper()
	run, err := c.s.RunProbe(context.Background(), operator, "", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.wait(t)
	return c.s.State().Probe(run).Result
}

// act plans and carries out an action through the session, as the TUI and
// `steady act` do, and returns the run once it and its re-checks are done.
// A refusal by ExecuteAction is returned as err with the run.
func (c *clinicApp) act(t *testing.T, id string, params map[string]string, phrase, override string) (*session.ActionRun, error) {
	t.Helper()
	run, err := c.s.PlanAction(context.Background(), operator, "", id, params)
	if err != nil {
		t.Fatalf("plan %s: %v", id, err)
	}
	if phrase == "" {
		phrase = run.Plan.ConfirmPhrase
	}
	err = c.s.ExecuteAction(context.Background(), operator, run.ID, phrase, override)
	c.wait(t)
	return c.s.State().Action(run.ID), err
}

func outputOf(run *session.ActionRun) string {
	var b strings.Builder
	for _, l := range run.Output {
		b.WriteString(l.Stream + ": " + l.Text + "\n")
	}
	return b.String()
}

func TestClinicEndToEnd(t *testing.T) {
	c := startClinic(t)
	db := c.tg.DBName()

	t.Run("incomplete migration: refused without a backup, then backup, migrate, check, probe ok", func(t *testing.T) {
		c.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
		if r := c.probe(t, "migrations"); r.Status != probes.Fail || !strings.Contains(r.Summary, "config.0003_shift_constraints") {
			t.Fatalf("migrations probe after the fault: %s %s", r.Status, r.Summary)
		}

		run, err := c.act(t, "migrate", nil, db, "")
		if err == nil || run.Outcome == nil || run.Outcome.Status != actions.Refused || !strings.Contains(run.Outcome.Summary, "verified backup of "+db+" from this incident: none taken") {
			t.Fatalf("migrate without a backup: err %v, run %+v", err, run.Outcome)
		}

		run, err = c.act(t, "backup", nil, "", "")
		if err != nil || run.Outcome.Status != actions.Succeeded || run.Outcome.Artefacts[actions.ArtefactVerified] != "true" {
			t.Fatalf("backup: %v %+v\n%s", err, run.Outcome, outputOf(run))
		}
		if _, err := os.Stat(run.Outcome.Artefacts[actions.ArtefactPath]); err != nil {
			t.Fatal(err)
		}

		run, err = c.act(t, "migrate", nil, db, "")
		if err != nil || run.Outcome.Status != actions.Succeeded {
			t.Fatalf("migrate: %v %+v\n%s", err, run.Outcome, outputOf(run))
		}
		out := outputOf(run)
		for _, want := range []string{"Applying config.0003_shift_constraints... OK", "System check identified no issues"} {
			if !strings.Contains(out, want) {
				t.Errorf("migrate output lacks %q:\n%s", want, out)
			}
		}
		if r := c.s.State().LastResult("migrations"); r == nil || r.Status != probes.OK {
			t.Errorf("the migrations probe after migrate: %+v", r)
		}
	})

	t.Run("two migrates at once: the second is refused naming the holder, or waits", func(t *testing.T) {
		c.app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
		// Alice's migrate stops at a gate before Django starts, holding the
		// lock, like a long migration would.
		gate := filepath.Join(t.TempDir(), "open")
		script := filepath.Join(t.TempDir(), "gate")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nwhile [ ! -e "+gate+" ]; do sleep 0.05; done\nexec \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		alice := *c.cfg
		alice.Django.Manage = target.Join(script, c.app.Python, "manage.py")
		aliceTarget, bobTarget := target.New(&alice), target.New(c.cfg)
		defer aliceTarget.Close()
		defer bobTarget.Close()
		aliceEnv := &actions.Env{Target: aliceTarget, History: backups{db}, Probes: actions.DirectProbes(aliceTarget), Operator: "alice"}
		bobEnv := &actions.Env{Target: bobTarget, History: backups{db}, Probes: actions.DirectProbes(bobTarget), Operator: "bob"}
		migrate, _ := actions.Get("migrate")

		p, err := migrate.Plan(context.Background(), aliceEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		aliceDone := make(chan actions.Outcome, 1)
		go func() { aliceDone <- migrate.Execute(context.Background(), aliceEnv, p, discard{}) }()

		// Bob plans while alice holds the lock: the plan names her.
		var bobPlan *actions.Plan
		var refused *actions.Outcome
		poll.Until(t, 20*time.Second, "alice's migrate to show as in progress", func() bool {
			bobPlan, err = migrate.Plan(context.Background(), bobEnv, nil)
			if err != nil {
				t.Fatal(err)
			}
			refused = actions.RefusedBy(bobPlan, bobEnv)
			return refused != nil
		}, nil)
		if !strings.Contains(refused.Summary, "migration in progress by alice since") {
			t.Errorf("refusal %q does not name alice", refused.Summary)
		}
		// Bob carries out his plan anyway: the lock itself refuses.
		if o := migrate.Execute(context.Background(), bobEnv, bobPlan, discard{}); o.Status != actions.Refused || !strings.Contains(o.Summary, "by alice") {
			t.Errorf("bob's migrate while alice holds the lock: %+v", o)
		}

		// Bob waits instead; alice finishes; bob then migrates (nothing left).
		bobPlan, err = migrate.Plan(context.Background(), bobEnv, map[string]string{"wait": "60s"})
		if err != nil || actions.RefusedBy(bobPlan, bobEnv) != nil {
			t.Fatalf("bob's waiting plan: %v %+v", err, bobPlan.Preconditions)
		}
		out := &lines{seen: make(chan string, 1000)}
		bobDone := make(chan actions.Outcome, 1)
		go func() { bobDone <- migrate.Execute(context.Background(), bobEnv, bobPlan, out) }()
		out.waitFor(t, "waiting up to")
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if o := <-aliceDone; o.Status != actions.Succeeded {
			t.Fatalf("alice's migrate: %+v", o)
		}
		o := <-bobDone
		if o.Status != actions.Succeeded || !strings.Contains(out.all(), "No migrations to apply") {
			t.Errorf("bob's migrate after waiting: %+v\n%s", o, out.all())
		}
	})

	t.Run("stale cache: flush-cache, recalculate with the real worker, cache and summaries agree", func(t *testing.T) {
		raw := c.app.MustManage(t, "inject_fault", "--fault", "stale-cache", "--json")
		var fault struct {
			Clinicians []int64 `json:"clinicians"`
			Start      string  `json:"period_start"`
		}
		if err := json.Unmarshal([]byte(raw[strings.Index(raw, "{"):]), &fault); err != nil {
			t.Fatalf("inject_fault output %q: %v", raw, err)
		}
		r := c.probe(t, "cache")
		if r.Status != probes.Fail || len(r.Affected) == 0 || r.Affected[0].Clinician != fault.Clinicians[0] {
			t.Fatalf("cache probe after the fault: %s %s %v", r.Status, r.Summary, r.Affected)
		}
		run, err := c.act(t, "flush-cache", nil, "", "")
		if err != nil || run.Outcome.Status != actions.Succeeded || run.Plan.Steps[0].Text != "FLUSHDB ASYNC" {
			t.Fatalf("flush-cache: %v %+v %+v", err, run.Outcome, run.Plan.Steps)
		}
		if !c.worker.Alive() {
			t.Fatalf("the worker died:\n%s", c.worker.Log())
		}

		// No scope given: recalculate takes the one the cache probe named
		// before the flush, and the real worker recomputes it.
		run, err = c.act(t, "recalculate", nil, "", "")
		if err != nil || run.Outcome.Status != actions.Succeeded {
			t.Fatalf("recalculate: %v %+v\n%s\nworker log:\n%s", err, run.Outcome, outputOf(run), c.worker.Log())
		}
		found := false
		for _, sc := range run.Plan.Scopes {
			found = found || (sc.Clinician == fault.Clinicians[0] && sc.From == fault.Start)
		}
		if !found {
			t.Errorf("scopes %v lack the stale one (clinician %d from %s)", run.Plan.Scopes, fault.Clinicians[0], fault.Start)
		}
		if run.Progress == nil || run.Progress.Done != run.Progress.Total {
			t.Errorf("progress %+v", run.Progress)
		}
		// The example app keeps the broker in db 0 of the cache's Redis,
		// which the cache probe warns about; what matters is that every
		// cached count agrees with the database again.
		st := c.s.State()
		if r := st.LastResult("cache"); r == nil || r.Status == probes.Fail || !hasFinding(r, "cache.fresh") {
			t.Errorf("cache probe after recalculate: %+v", r)
		}
		if r := st.LastResult("summaries"); r == nil || r.Status != probes.OK {
			t.Errorf("summaries probe after recalculate: %+v", r)
		}
		if !c.worker.Alive() {
			t.Errorf("the worker died:\n%s", c.worker.Log())
		}
	})
}

func hasFinding(r *probes.Result, code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// backups is a History with one verified backup of a database.
type backups struct{ db string }

func (b backups) VerifiedBackups(db string) []actions.Backup {
	if db != b.db {
		return nil
	}
	return []actions.Backup{{Database: db, Path: "/backups/before.dump", SHA256: "00", Size: 1, At: time.Now()}}
}

func (backups) LastResult(string) *probes.Result { return nil }
func (backups) Orphans() []actions.Orphan        { return nil }

type discard struct{}

func (discard) Line(string, string)       {}
func (discard) Progress(int, int, string) {}

// lines is an Output that lets a test wait for a line.
type lines struct {
	seen chan string
	text strings.Builder
}

func (l *lines) Line(stream, text string) { l.seen <- text }

func (l *lines) Progress(int, int, string) {}

func (l *lines) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-l.seen:
			l.text.WriteString(line + "\n")
			if strings.Contains(line, s) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q:\n%s", s, l.text.String())
		}
	}
}

// all returns everything written, once the writer has finished.
func (l *lines) all() string {
	for {
		select {
		case line := <-l.seen:
			l.text.WriteString(line + "\n")
		default:
			return l.text.String()
		}
	}
}
