// Package sandbox owns throwaway PostgreSQL and Redis servers, started from
// the local installation in private temp dirs on random ports, and makes
// sure they and their dirs disappear afterwards, even if the program using
// them is SIGKILLed.
//
// Tests, drills and benchmarks share it; tests usually go through
// steady/sandbox/sandboxtest.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
)

// Options tunes Start. The zero value is ready to use.
type Options struct {
	// Postgres and Redis tune the two servers. Their Keep and Log fields
	// are overridden by the ones below when those are set.
	Postgres PostgresOptions
	Redis    RedisOptions
	// Database is created at start and is what DatabaseURL points to;
	// empty means "steady".
	Database string
	// Keep leaves the temp dirs in place after Close (steady drill --keep);
	// the server processes are stopped regardless.
	Keep bool
	// Log receives one-line progress messages; nil discards them.
	Log io.Writer
}

// Sandbox is one private PostgreSQL and one private Redis: the backing
// services of a Django+Celery app, for a drill or an integration test.
type Sandbox struct {
	// Postgres and Redis give access to the servers themselves.
	Postgres *Postgres
	Redis    *Redis
	// DatabaseURL is a password-authenticated TCP URL of Options.Database.
	DatabaseURL string
	// RedisURL is the URL of Redis database 0.
	RedisURL string
}

// Start starts both servers in parallel and creates the database. On error
// nothing is left running.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	if opts.Log != nil {
		opts.Log = progressWriter(opts.Log)
		opts.Postgres.Log, opts.Redis.Log = opts.Log, opts.Log
	}
	if opts.Keep {
		opts.Postgres.Keep, opts.Redis.Keep = true, true
	}
	if opts.Database == "" {
		opts.Database = "steady"
	}

	s := &Sandbox{}
	var pgErr, redisErr error
	var wg sync.WaitGroup
	wg.Go(func() { s.Postgres, pgErr = StartPostgres(ctx, opts.Postgres) })
	wg.Go(func() { s.Redis, redisErr = StartRedis(ctx, opts.Redis) })
	wg.Wait()
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if err := errors.Join(pgErr, redisErr); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	if s.DatabaseURL, err = s.Postgres.CreateDatabase(ctx, opts.Database); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s.RedisURL = s.Redis.URL(0)
	return s, nil
}

// Close stops both servers and, unless Keep was set, removes their dirs.
// It is idempotent.
func (s *Sandbox) Close() error {
	var pgErr, redisErr error
	var wg sync.WaitGroup
	if s.Postgres != nil {
		wg.Go(func() { pgErr = s.Postgres.Stop() })
	}
	if s.Redis != nil {
		wg.Go(func() { redisErr = s.Redis.Stop() })
	}
	wg.Wait()
	return errors.Join(pgErr, redisErr)
}

// Holds reports whether path lies inside a sandbox's temp dir (one of its
// elements is a steady-pg-* or steady-redis-* dir). Commands that must only
// ever write to a sandbox check the server's own data directory with it
// (PostgreSQL's data_directory, Redis's dir), which no client setting can
// fake and no FLUSHALL can remove.
func Holds(path string) bool {
	for _, el := range strings.Split(filepath.ToSlash(filepath.Clean(path)), "/") {
		if strings.HasPrefix(el, pgDirPrefix) || strings.HasPrefix(el, redisDirPrefix) {
			return true
		}
	}
	return false
}
