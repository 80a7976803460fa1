package examples_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/examples"
	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// env is the example app on a fresh database and Redis, with connections
// for checking what it did.
type env struct {
	app   *examples.App
	db    *pgx.Conn
	cache *redis.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	dbURL := sandboxtest.Database(t)
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	opts, err := redis.ParseURL(app.CacheURL)
	if err != nil {
		t.Fatal(err)
	}
	cache := redis.NewClient(opts)
	t.Cleanup(func() { cache.Close() })
	return env{app: app, db: db, cache: cache}
}

// rows runs a query and returns every row as strings, for comparisons.
func rows(t *testing.T, db *pgx.Conn, sql string, args ...any) [][]string {
	t.Helper()
	r, err := db.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer r.Close()
	var out [][]string
	for r.Next() {
		vals, err := r.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}
