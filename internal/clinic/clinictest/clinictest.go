// Package clinictest hands Go tests the clinic application on private
// servers, built the one way every package's tests build it: a database
// installed and seeded by clinic, its migration files in a project
// directory, the django-redis cache warmed from the database, a Celery
// broker where the options put it, and steady's configuration pointing at
// all of it.
package clinictest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
)

// Broker says where the application's Celery broker lives.
type Broker int

// Broker layouts.
const (
	// NoBroker configures none; the cache is db 0 of its Redis.
	NoBroker Broker = iota
	// SameRedis puts the broker in db 0 and the cache in db 1 of one
	// Redis, as the example application has them.
	SameRedis
	// SharedDB puts the broker in the cache's own db (1), as a careless
	// deployment does.
	SharedDB
	// OwnRedis gives the broker a Redis of its own; the cache is db 0 of
	// the other.
	OwnRedis
)

// Options shape an application; the zero value is seeded with clinic's
// defaults, warm, and has no broker.
type Options struct {
	Install clinic.InstallOptions
	Seed    clinic.SeedOptions
	// NoSeed leaves the tables empty and the cache cold.
	NoSeed  bool
	Project clinic.ProjectOptions
	Broker  Broker
}

// App is one application on private servers.
type App struct {
	// Config points steady at it: DB, Redis, Broker and Django.Dir.
	Config *config.Config
	// DB writes as the application (faults, locks) and checks; probes
	// never get it.
	DB *pgxpool.Pool
	// Cache is a client of the cache's db; Broker of the broker's, or
	// nil without one.
	Cache, Broker *redis.Client
	// Data is what was seeded (nil with NoSeed).
	Data *clinic.Dataset
	// Dir is the project directory holding the migration files.
	Dir string
}

// New builds an application; everything is torn down when the test ends.
func New(t testing.TB, o Options) *App {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	a := &App{Config: &cfg, Dir: t.TempDir()}
	cfg.DB = sandboxtest.Database(t)
	cfg.Django.Dir = a.Dir
	var err error
	if a.DB, err = pgxpool.New(ctx, cfg.DB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.DB.Close)
	if err := clinic.Install(ctx, a.DB, o.Install); err != nil {
		t.Fatal(err)
	}
	if !o.NoSeed {
		if a.Data, err = clinic.Seed(ctx, a.DB, o.Seed); err != nil {
			t.Fatal(err)
		}
	}
	if err := clinic.WriteProject(a.Dir, o.Project); err != nil {
		t.Fatal(err)
	}

	redisURL := sandboxtest.Redis(t)
	switch o.Broker {
	case NoBroker:
		cfg.Redis = WithDB(t, redisURL, 0)
	case SameRedis:
		cfg.Redis, cfg.Broker = WithDB(t, redisURL, 1), WithDB(t, redisURL, 0)
	case SharedDB:
		cfg.Redis = WithDB(t, redisURL, 1)
		cfg.Broker = cfg.Redis
	case OwnRedis:
		cfg.Redis, cfg.Broker = WithDB(t, redisURL, 0), sandboxtest.Redis(t)
	}
	a.Cache = Client(t, cfg.Redis)
	if cfg.Broker != "" {
		a.Broker = a.Cache
		if cfg.Broker != cfg.Redis {
			a.Broker = Client(t, cfg.Broker)
		}
	}
	if !o.NoSeed {
		if _, err := clinic.WarmCache(ctx, a.DB, a.Cache, &cfg, clinic.CacheOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// WithDB returns redisURL naming database db instead.
func WithDB(t testing.TB, redisURL string, db int) string {
	t.Helper()
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/%d", strings.TrimSuffix(redisURL, fmt.Sprintf("/%d", o.DB)), db)
}

// Client returns a Redis client of url, closed when the test ends.
func Client(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
