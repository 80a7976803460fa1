package probes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"steady/internal/config"
)

// TestProbesCannotWrite: the transaction every probe runs in refuses
// writes (SQLSTATE 25006), whatever the SQL.
func TestProbesCannotWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, sql := range []string{
		`INSERT INTO config_clinician (name, email, contracted_shifts, active, created_at) VALUES ('x', 'x@x', 1, true, now())`,
		`UPDATE config_shift SET status = 'CANCELLED'`,
		`DELETE FROM django_migrations`,
		`CREATE TABLE steady_was_here (id int)`,
		`SELECT setval('config_shift_id_seq', 1)`,
	} {
		err := f.tg.ReadOnly(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
			t.Errorf("%s: %v, want SQLSTATE 25006 (read-only transaction)", sql, err)
		}
	}
	var n int
	if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM config_shift WHERE status <> 'CANCELLED'`).Scan(&n); err != nil || n == 0 {
		t.Errorf("the update went through: %d shifts not cancelled, %v", n, err)
	}
}

// TestStatementTimeout: a probe whose statement runs past
// probes.statement_timeout is an error saying so and how to raise it. The
// statement waits on a lock another session holds, with lock_timeout set
// longer, so the statement timeout is what ends it.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	tx, err := f.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE config_shift IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	m := f.lastMonth()
	params := map[string]string{"clinician": "1", "from": m.FromDate(), "to": m.ToDate()}
	tests := []struct {
		name               string
		statement, lockFor time.Duration
		want               []string
	}{
		{"statement_timeout", 100 * time.Millisecond, 10 * time.Second, []string{"cancelled by statement_timeout (100ms)", "probes.statement_timeout in steady.yaml"}},
		{"lock_timeout", 10 * time.Second, 100 * time.Millisecond, []string{"lock_timeout (100ms)", "probes.lock_timeout"}},
	}
	base := *f.cfg
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Probes.StatementTimeout = config.Duration(tt.statement)
			cfg.Probes.LockTimeout = config.Duration(tt.lockFor)
			f.setConfig(t, &cfg)
			for _, id := range []string{"source-data", "summaries", "shift-counts"} {
				start := time.Now()
				r := f.run(t, id, params)
				if r.Status != Error {
					t.Fatalf("%s: status %s\n%s", id, r.Status, describe(r))
				}
				for _, w := range tt.want {
					if !strings.Contains(r.Error, w) {
						t.Errorf("%s: error %q lacks %q", id, r.Error, w)
					}
				}
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("%s took %s", id, took)
				}
			}
		})
	}
}

// TestCancelledContext: a probe honours its context.
func TestCancelledContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, id := range []string{"summaries", "constraints", "cache"} {
		p, _ := Get(id)
		r := p.Run(ctx, f.tg, nil)
		if r.Status != Error || r.Error == "" {
			t.Errorf("%s with a cancelled context: %s %q", id, r.Status, r.Error)
		}
	}
}
