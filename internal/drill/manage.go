package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"steady/internal/clinic"
)

// Manage is the sandbox's `manage.py`: the drill configures
// `steady sandbox manage` as the manage command, so the migrate, check and
// run-tests actions run this, against the database named by
// STEADY_SANDBOX_DATABASE_URL. It knows the application's migrations
// (clinic.Migrations) and prints what Django 3.2 prints:
//
//	migrate [--noinput]          applies the unapplied migrations in order, each in its own
//	                             transaction with its django_migrations row (applied = now())
//	showmigrations [--plan]      the applied state, in Django's two formats
//	check                        "System check identified no issues (0 silenced)."
//	test [calculations]          the business-rule tests, in a transaction rolled back at the end
//
// It returns the exit status: 0, 1 when the command failed (a failed
// migration, a failing test), 2 for a usage error.
func Manage(ctx context.Context, dbURL string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Type 'manage.py help <subcommand>' for help on a specific subcommand.\n\nAvailable subcommands (steady's sandbox):\n    check\n    migrate\n    showmigrations\n    test")
		return 2
	}
	if dbURL == "" {
		fmt.Fprintf(stderr, "django.core.exceptions.ImproperlyConfigured: %s is not set; `steady drill` sets it for the commands it runs (from another terminal, point STEADY_CONFIG at the drill's steady.yaml)\n", EnvDatabase)
		return 1
	}
	cmd, rest := args[0], args[1:]
	run, ok := map[string]func(context.Context, *pgx.Conn, []string, io.Writer, io.Writer) int{
		"migrate": migrate, "showmigrations": showMigrations, "check": check, "test": runTests,
	}[cmd]
	if !ok {
		fmt.Fprintf(stderr, "Unknown command: %q\nsteady's sandbox manage.py knows check, migrate, showmigrations and test.\n", cmd)
		return 1
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "django.db.utils.OperationalError: could not connect to the sandbox database: %s\n", oneLine(err))
		return 1
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := guardPostgres(ctx, conn); err != nil {
		fmt.Fprintln(stderr, "CommandError: "+err.Error())
		return 1
	}
	return run(ctx, conn, rest, stdout, stderr)
}

// migrationGraph is clinic.Migrations with the dependencies their files
// declare (clinic.WriteProject): each on the one before it in its app,
// calculations.0001 on config.0001.
func migrationGraph() (order []clinic.Migration, deps map[string][]string) {
	deps = map[string][]string{}
	previous := map[string]string{}
	for _, m := range clinic.Migrations {
		switch {
		case previous[m.App] != "":
			deps[m.Key()] = []string{previous[m.App]}
		case m.App == "calculations":
			deps[m.Key()] = []string{"config.0001_initial"}
		}
		previous[m.App] = m.Key()
	}
	return clinic.Migrations, deps
}

// djangoPlan orders the migrations as `showmigrations --plan` and migrate
// do: for each leaf node, sorted, its forwards plan (dependencies first),
// each migration once.
func djangoPlan() []clinic.Migration {
	all, deps := migrationGraph()
	byKey := map[string]clinic.Migration{}
	isDep := map[string]bool{}
	for _, m := range all {
		byKey[m.Key()] = m
		for _, d := range deps[m.Key()] {
			isDep[d] = true
		}
	}
	var leaves []string
	for _, m := range all {
		if !isDep[m.Key()] {
			leaves = append(leaves, m.Key())
		}
	}
	sort.Strings(leaves)
	var plan []clinic.Migration
	seen := map[string]bool{}
	var visit func(k string)
	visit = func(k string) {
		if seen[k] {
			return
		}
		for _, d := range deps[k] {
			visit(d)
		}
		seen[k] = true
		plan = append(plan, byKey[k])
	}
	for _, l := range leaves {
		visit(l)
	}
	return plan
}

// recorded reads the keys in django_migrations; a missing table is an
// empty database, which migrate creates the table for.
func recorded(ctx context.Context, conn *pgx.Conn) (map[string]bool, error) {
	out := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT app || '.' || name FROM django_migrations`)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return out, nil
		}
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

func appsOf(plan []clinic.Migration) []string {
	seen := map[string]bool{}
	var apps []string
	for _, m := range plan {
		if !seen[m.App] {
			seen[m.App] = true
			apps = append(apps, m.App)
		}
	}
	sort.Strings(apps)
	return apps
}

func migrate(ctx context.Context, conn *pgx.Conn, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a != "--noinput" && a != "--no-input" {
			fmt.Fprintf(stderr, "steady's sandbox migrate takes no %q: it applies every unapplied migration, as `migrate` does\n", a)
			return 2
		}
	}
	plan := djangoPlan()
	done, err := recorded(ctx, conn)
	if err != nil {
		fmt.Fprintf(stderr, "django.db.utils.ProgrammingError: read django_migrations: %s\n", oneLine(err))
		return 1
	}
	if len(done) == 0 {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS "django_migrations" ("id" bigserial NOT NULL PRIMARY KEY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" timestamp with time zone NOT NULL)`); err != nil {
			fmt.Fprintf(stderr, "django.db.migrations.exceptions.MigrationSchemaMissing: Unable to create the django_migrations table (%s)\n", oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(stdout, "Operations to perform:\n  Apply all migrations: %s\nRunning migrations:\n", strings.Join(appsOf(plan), ", "))
	applied := 0
	for _, m := range plan {
		if done[m.Key()] {
			continue
		}
		if err := applyMigration(ctx, conn, m); err != nil {
			fmt.Fprintf(stdout, "  Applying %s...\n", m.Key())
			fmt.Fprintf(stderr, "Traceback (most recent call last):\n  migration %s\ndjango.db.utils.%s\n", m.Key(), describePgError(err))
			return 1
		}
		fmt.Fprintf(stdout, "  Applying %s... OK\n", m.Key())
		applied++
	}
	if applied == 0 {
		fmt.Fprintln(stdout, "  No migrations to apply.")
	}
	return 0
}

// applyMigration runs one migration's SQL and records it in one
// transaction, as Django does for an atomic migration on PostgreSQL.
func applyMigration(ctx context.Context, conn *pgx.Conn, m clinic.Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	for _, k := range append(append([]string{}, m.Replaces...), m.Key()) {
		if err := clinic.Record(ctx, tx, k); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func showMigrations(ctx context.Context, conn *pgx.Conn, args []string, stdout, stderr io.Writer) int {
	asPlan := false
	for _, a := range args {
		switch a {
		case "--plan", "-p":
			asPlan = true
		default:
			fmt.Fprintf(stderr, "steady's sandbox showmigrations takes only --plan, not %q\n", a)
			return 2
		}
	}
	done, err := recorded(ctx, conn)
	if err != nil {
		fmt.Fprintf(stderr, "django.db.utils.ProgrammingError: read django_migrations: %s\n", oneLine(err))
		return 1
	}
	mark := func(k string) string {
		if done[k] {
			return "[X]"
		}
		return "[ ]"
	}
	plan := djangoPlan()
	if asPlan {
		for _, m := range plan {
			fmt.Fprintf(stdout, "%s  %s\n", mark(m.Key()), m.Key())
		}
		return 0
	}
	for _, app := range appsOf(plan) {
		fmt.Fprintln(stdout, app)
		for _, m := range clinic.Migrations {
			if m.App == app {
				fmt.Fprintf(stdout, " %s %s\n", mark(m.Key()), m.Name)
			}
		}
	}
	return 0
}

func check(ctx context.Context, conn *pgx.Conn, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "steady's sandbox check takes no arguments, not %q\n", strings.Join(args, " "))
		return 2
	}
	// Django's check reads the project, not the data; reaching the
	// database is as far as the sandbox's version goes.
	if err := conn.Ping(ctx); err != nil {
		fmt.Fprintf(stderr, "django.db.utils.OperationalError: %s\n", oneLine(err))
		return 1
	}
	fmt.Fprintln(stdout, "System check identified no issues (0 silenced).")
	return 0
}

// describePgError writes a database error the way Django's wrapper names
// it: IntegrityError for constraint violations, ProgrammingError else.
func describePgError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		kind := "ProgrammingError"
		if strings.HasPrefix(pgErr.Code, "23") {
			kind = "IntegrityError"
		}
		s := kind + ": " + pgErr.Message
		if pgErr.Detail != "" {
			s += "\nDETAIL:  " + pgErr.Detail
		}
		return s
	}
	return "OperationalError: " + oneLine(err)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
