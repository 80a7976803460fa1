package actions_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"steady/actions"
	"steady/examples"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// Through the session, as the TUI and `steady act` use it: a scoped backup
// of the pending migration is journaled with what it covers, migrate's
// guard accepts it for that migration, and the rehearsal restores it.
func TestScopedBackupGuardsMigrateThroughTheSession(t *testing.T) {
	dbURL := sandboxtest.Database(t)
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "4", "--months", "1")
	app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	cfg := config.Default()
	cfg.DB = dbURL
	cfg.Django.Dir = app.Dir
	cfg.Django.Manage = app.ManageLine()
	cfg.BackupDir = filepath.Join(t.TempDir(), "backups")
	tg := target.New(&cfg)
	t.Cleanup(tg.Close)
	rb, err := runbook.Load("", "", runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(session.Options{Runbook: rb, Target: tg, Dir: t.TempDir(), Actor: operator})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	c := &clinicApp{app: app, cfg: &cfg, tg: tg, s: s}
	db := tg.DBName()

	run, err := c.act(t, "backup", map[string]string{"mode": "scoped"}, "", "")
	if err != nil || run.Outcome.Status != actions.Succeeded {
		t.Fatalf("scoped backup: %v %+v\n%s", err, run.Outcome, outputOf(run))
	}
	bs := s.State().VerifiedBackups(db)
	if len(bs) != 1 || !bs[0].Scoped() || strings.Join(bs[0].Migrations, ",") != "config.0003_shift_constraints" || bs[0].Took <= 0 || bs[0].SourceBytes <= 0 {
		t.Fatalf("the session remembers %+v", bs)
	}

	plan, err := s.PlanAction(context.Background(), operator, "", "migrate", nil)
	if err != nil {
		t.Fatal(err)
	}
	guard := plan.Plan.Preconditions[0]
	if !guard.Holds || !strings.Contains(guard.Detail, "covers config.0003_shift_constraints") {
		t.Errorf("migrate's guard: %+v", guard)
	}
	// The next plan estimates from what this backup measured.
	next, err := s.PlanAction(context.Background(), operator, "", "backup", map[string]string{"mode": "pg_dump"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(next.Plan.Summary, "measured on the scoped backup") {
		t.Errorf("the full dump's estimate does not use the measured throughput: %s", next.Plan.Summary)
	}

	run, err = c.act(t, "restore-check", nil, "", "")
	if err != nil || run.Outcome.Status != actions.Succeeded || !strings.Contains(run.Outcome.Artefacts["rows"], "public.config_shift=") {
		t.Fatalf("restore-check: %v %+v\n%s", err, run.Outcome, outputOf(run))
	}
	if !strings.Contains(run.Plan.Steps[0].Text, "steady_check_action_") {
		t.Errorf("the scratch database is not named after the run: %s", run.Plan.Steps[0].Text)
	}
}
