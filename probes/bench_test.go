package probes

import (
	"context"
	"testing"

	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// BenchmarkMigrationsCold is the migrations probe as `steady check --only
// migrations` runs it: a new Target (so a new connection, with its
// authentication) for every run, the migration files read from a project
// directory.
func BenchmarkMigrationsCold(b *testing.B) {
	cfg := migrationsBenchConfig(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := target.New(cfg)
		if r := (Migrations{}).Run(ctx, t, nil); r.Status != OK {
			b.Fatalf("%s: %s", r.Status, r.Summary)
		}
		t.Close()
	}
}

// BenchmarkMigrationsWarm is the same probe re-run on a connected Target,
// as the TUI re-runs it: what the probe itself costs.
func BenchmarkMigrationsWarm(b *testing.B) {
	cfg := migrationsBenchConfig(b)
	ctx := context.Background()
	t := target.New(cfg)
	defer t.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := (Migrations{}).Run(ctx, t, nil); r.Status != OK {
			b.Fatalf("%s: %s", r.Status, r.Summary)
		}
	}
}

func migrationsBenchConfig(b *testing.B) *config.Config {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DB = sandboxtest.Database(b)
	tg := target.New(&cfg)
	defer tg.Close()
	pool, err := tg.Postgres(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := clinic.Install(ctx, pool, clinic.InstallOptions{}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := clinic.WriteProject(dir, clinic.ProjectOptions{}); err != nil {
		b.Fatal(err)
	}
	cfg.Django.Dir = dir
	return &cfg
}
