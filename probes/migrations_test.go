package probes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/django"
)

// fakeManage writes a script that prints out (and exits with code) the way
// `manage.py showmigrations --plan` would, and returns a manage prefix
// that runs it.
func fakeManage(t *testing.T, out string, code int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manage.sh")
	script := fmt.Sprintf("#!/bin/sh\n# called as: manage.sh showmigrations --plan\n[ \"$1 $2\" = \"showmigrations --plan\" ] || { echo \"unexpected arguments: $*\" >&2; exit 3; }\ncat <<'EOF'\n%sEOF\nexit %d\n", out, code)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "sh " + path
}

func TestMigrationsProbe(t *testing.T) {
	const plan = "[X]  config.0001_initial\n[X]  calculations.0001_initial\n[X]  config.0002_auditlog_entity_timestamp_idx\n[ ]  config.0003_shift_constraints\n"
	tests := []struct {
		name    string
		opts    fixtureOptions
		setup   func(t *testing.T, f *fixture)
		status  Status
		pending []string // unapplied migrations, in findings order
		summary string
	}{
		{
			name:    "an unapplied migration (migrate config 0002)",
			setup:   func(t *testing.T, f *fixture) { must(t, clinic.UnapplyMigration(context.Background(), f.db)) },
			status:  Fail,
			pending: []string{"config.0003_shift_constraints"},
			summary: "1 unapplied migration: config.0003_shift_constraints",
		},
		{
			name:    "never applied (a deploy without migrate)",
			opts:    fixtureOptions{install: clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}},
			status:  Fail,
			pending: []string{"config.0003_shift_constraints"},
		},
		{
			name:    "a new migration file not yet applied",
			opts:    fixtureOptions{project: clinic.ProjectOptions{Extra: []clinic.Migration{{App: "config", Name: "0004_shift_notes", SQL: "SELECT 1;"}}}},
			status:  Fail,
			pending: []string{"config.0004_shift_notes"},
		},
		{
			name:    "squashed, before its own row exists",
			opts:    fixtureOptions{project: clinic.ProjectOptions{Squash: true}},
			status:  OK,
			summary: "all 2 migrations of 2 apps applied",
		},
		{
			name: "squashed, after its own row exists",
			opts: fixtureOptions{project: clinic.ProjectOptions{Squash: true}},
			setup: func(t *testing.T, f *fixture) {
				must(t, clinic.Record(context.Background(), f.db, clinic.Squashed.Key()))
			},
			status:  OK,
			summary: "all 2 migrations of 2 apps applied",
		},
		{
			name:    "squashed, fresh install, replaced files deleted",
			opts:    fixtureOptions{install: clinic.InstallOptions{Squashed: true}, project: clinic.ProjectOptions{Squash: true, DropReplaced: true}},
			status:  OK,
			summary: "all 2 migrations of 2 apps applied",
		},
		{
			name:    "squashed, partly applied: the replaced migration is what is missing",
			opts:    fixtureOptions{install: clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}, project: clinic.ProjectOptions{Squash: true}},
			status:  Fail,
			pending: []string{"config.0003_shift_constraints"},
		},
		{
			name: "a recorded migration whose file is gone",
			setup: func(t *testing.T, f *fixture) {
				must(t, clinic.Record(context.Background(), f.db, "config.0004_removed_later"))
			},
			status:  Warn,
			summary: "all 4 migrations of 2 apps applied",
		},
		{
			name: "showmigrations --plan when there is no project directory",
			setup: func(t *testing.T, f *fixture) {
				f.cfg.Django.Dir = ""
				f.cfg.Django.Manage = fakeManage(t, plan, 0)
			},
			status:  Fail,
			pending: []string{"config.0003_shift_constraints"},
			summary: "(source: `sh ",
		},
		{
			name: "a failing manage command falls back to the expected list",
			setup: func(t *testing.T, f *fixture) {
				must(t, clinic.UnapplyMigration(context.Background(), f.db))
				f.cfg.Django.Dir = ""
				f.cfg.Django.Manage = fakeManage(t, "Traceback (most recent call last):\ndjango.db.utils.OperationalError: could not connect\n", 1)
				f.cfg.Django.Migrations = map[string][]string{"config": {"0001_initial", "0002_auditlog_entity_timestamp_idx", "0003_shift_constraints"}}
			},
			status:  Fail,
			pending: []string{"config.0003_shift_constraints"},
			summary: "(source: the expected list django.migrations in steady.yaml)",
		},
		{
			name: "no source of migrations",
			setup: func(t *testing.T, f *fixture) {
				f.cfg.Django.Dir = ""
			},
			status:  Skipped,
			summary: "no source of migrations",
		},
		{
			name:    "a database that was never migrated",
			setup:   func(t *testing.T, f *fixture) { f.exec(t, `DROP TABLE django_migrations`) },
			status:  Fail,
			pending: []string{"config.0001_initial", "calculations.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.opts)
			if tt.setup != nil {
				cfg := *f.cfg
				f.cfg = &cfg
				tt.setup(t, f)
				f.setConfig(t, f.cfg)
			}
			r := f.run(t, "migrations", nil)
			want(t, r, tt.status)
			var pending []string
			for _, x := range findings(r, "migration.unapplied") {
				pending = append(pending, x.Data["app"].(string)+"."+x.Data["name"].(string))
			}
			if strings.Join(pending, " ") != strings.Join(tt.pending, " ") {
				t.Errorf("unapplied %v, want %v\n%s", pending, tt.pending, describe(r))
			}
			if !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tt.summary)
			}
		})
	}
}

// TestMigrationsProbeWithRealShowmigrations proves the manage source on the
// example Django app: its own showmigrations --plan, against a database
// where config.0003 was never applied.
func TestMigrationsProbeWithRealShowmigrations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{install: clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}, noSeed: true})
	app := examples.NewClinic(t, f.cfg.DB, f.cfg.Redis)
	cfg := *f.cfg
	cfg.Django.Dir = ""
	cfg.Django.Manage = app.ManageLine()
	f.setConfig(t, &cfg)
	r := f.run(t, "migrations", nil)
	want(t, r, Fail)
	if u := findings(r, "migration.unapplied"); len(u) != 1 || u[0].Message != "config.0003_shift_constraints is not applied" {
		t.Errorf("unapplied findings %v", u)
	}
	if strings.Contains(r.Summary, f.tg.Config().DB) || strings.Contains(r.Summary, pgPassword(t, f.cfg.DB)) {
		t.Errorf("the summary shows the database password: %s", r.Summary)
	}
}

func pgPassword(t *testing.T, url string) string {
	t.Helper()
	c, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return c.Password
}

// TestMigrationsProbeSeesARunningMigration: a migration holding its
// transaction open in another session, or steady's migrate action holding
// its advisory lock, is reported (warn) without blocking the probe.
func TestMigrationsProbeSeesARunningMigration(t *testing.T) {
	tests := []struct {
		name string
		hold func(ctx context.Context, tx pgx.Tx) error
		want string
	}{
		{"DDL in an open transaction", func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `ALTER TABLE config_shift ADD COLUMN notes text`)
			return err
		}, "a migration seems to be running"},
		{"steady's advisory lock", func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT pg_advisory_lock($1)`, django.MigrateLockKey)
			return err
		}, "steady's migrate action is running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOptions{noSeed: true})
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
			defer tx.Rollback(ctx)
			if err := tt.hold(ctx, tx); err != nil {
				t.Fatal(err)
			}
			r := f.run(t, "migrations", nil)
			want(t, r, Warn)
			running := findings(r, "migration.running")
			if len(running) != 1 || !strings.Contains(running[0].Message, tt.want) {
				t.Errorf("running findings %v, want one saying %q", running, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
