package clinic

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what clinic needs of a PostgreSQL connection; a *pgxpool.Pool, a
// *pgx.Conn and a pgx.Tx all are one. Everything here writes: it builds
// and breaks databases for tests and drills, never the incident's own.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Squashed is config's first three migrations squashed into one, named the
// way `manage.py squashmigrations config 0003` names it. It is not part of
// Migrations: tests that need a squashed layout ask for it (ProjectOptions,
// InstallOptions).
var Squashed = Migration{
	App:      "config",
	Name:     "0001_squashed_0003_shift_constraints",
	Replaces: []string{"config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"},
	SQL:      Migrations[0].SQL + Migrations[1].SQL + Migrations[2].SQL,
}

// InstallOptions tunes Install.
type InstallOptions struct {
	// Skip leaves these migrations ("app.name") unapplied: their SQL is
	// not run and no row is recorded, as on a database where someone
	// forgot to run migrate after a deploy.
	Skip []string
	// Squashed installs config through the Squashed migration, recording
	// every replaced name and the squashed one, as Django does on a fresh
	// database once a squash exists.
	Squashed bool
}

// Install creates django_migrations and applies the application's
// migrations in order, each in its own transaction (a savepoint when db is
// itself a transaction) with its row recorded the way Django records it:
// app, name, applied = now().
func Install(ctx context.Context, db DB, opts InstallOptions) error {
	// Like migrate, create the table only when it is not there yet.
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('django_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if !exists {
		if _, err := db.Exec(ctx, DjangoMigrationsDDL); err != nil {
			return fmt.Errorf("install: create django_migrations: %w", err)
		}
	}
	skip := map[string]bool{}
	for _, k := range opts.Skip {
		skip[k] = true
	}
	plan := Migrations
	if opts.Squashed {
		plan = append([]Migration{Squashed}, Migrations[3:]...)
	}
	for _, m := range plan {
		if skip[m.Key()] {
			continue
		}
		if err := apply(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, db DB, m Migration) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("install %s: begin: %w", m.Key(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("install %s: %w", m.Key(), err)
	}
	for _, k := range append(append([]string{}, m.Replaces...), m.Key()) {
		if err := Record(ctx, tx, k); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("install %s: commit: %w", m.Key(), err)
	}
	return nil
}

// Record inserts the django_migrations row of migration key ("app.name")
// as `migrate` does after applying it. It is also how a test moves a
// squashed migration from "applied through its replaced rows" to "applied
// with its own row", which the next migrate does quietly.
func Record(ctx context.Context, db DB, key string) error {
	app, name, ok := strings.Cut(key, ".")
	if !ok {
		return fmt.Errorf("record migration: %q is not app.name", key)
	}
	if _, err := db.Exec(ctx, `INSERT INTO django_migrations (app, name, applied) VALUES ($1, $2, now())`, app, name); err != nil {
		return fmt.Errorf("record migration %s: %w", key, err)
	}
	return nil
}
