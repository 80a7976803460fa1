// Package sandboxtest hands Go tests private PostgreSQL databases and Redis
// servers from steady/sandbox, so `go test` needs no running services, and
// lets a developer point the tests at existing services instead.
//
// Wire it up once per package:
//
//	func TestMain(m *testing.M) { sandboxtest.Main(m) }
//
// then, in a test:
//
//	dbURL := sandboxtest.Database(t)  // fresh database, dropped afterwards
//	redisURL := sandboxtest.Redis(t)  // fresh redis-server, stopped afterwards
//
// Environment:
//
//	STEADY_TEST_DATABASE_URL  a PostgreSQL URL (or key=value DSN) whose role
//	                          may CREATE DATABASE; Database creates and drops
//	                          its databases there instead of in the private
//	                          server.
//	STEADY_TEST_REDIS_URL     a Redis URL that Redis returns instead of
//	                          starting a server. Redis runs FLUSHALL on it for
//	                          every test that asks, so never point it at data
//	                          you want to keep. Tests of one binary take turns
//	                          on it; run `go test -p 1` so that the test
//	                          binaries of different packages do too.
//
// Missing binaries fail the test, naming the Debian package to install; this
// package never skips.
package sandboxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"steady/internal/sandbox"
)

// Environment variables that replace the private servers.
const (
	EnvDatabaseURL = "STEADY_TEST_DATABASE_URL"
	EnvRedisURL    = "STEADY_TEST_REDIS_URL"
)

// startTimeout bounds starting one server; initdb on a loaded CI machine
// running many test binaries at once can take a while.
const startTimeout = 2 * time.Minute

var shared struct {
	once sync.Once
	pg   *sandbox.Postgres
	err  error
}

// dirs records every sandbox dir this test binary created, for Main's leak
// check.
var dirs struct {
	sync.Mutex
	list []string
}

func track(dir string) {
	dirs.Lock()
	dirs.list = append(dirs.list, dir)
	dirs.Unlock()
}

// Main is TestMain for packages using sandboxtest: it runs the tests, stops
// the shared PostgreSQL server, checks that no sandbox process of this
// binary survived, and exits with the tests' code (1 if the tests passed
// but cleanup failed). Without Main the shared server is still killed, by
// its reaper, moments after the test binary exits.
func Main(m *testing.M) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "sandboxtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func shutdown() error {
	var errs []error
	if shared.pg != nil {
		errs = append(errs, shared.pg.Stop())
	}
	left, err := sandbox.Leftovers()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	dirs.Lock()
	defer dirs.Unlock()
	for _, d := range dirs.list {
		re := regexp.MustCompile(regexp.QuoteMeta(d[strings.LastIndexByte(d, '/')+1:]) + `(?:[^0-9]|$)`)
		for _, l := range left {
			if re.MatchString(l) {
				errs = append(errs, fmt.Errorf("leaked process of %s: %.200s", d, l))
			}
		}
	}
	return errors.Join(errs...)
}

// Postgres returns the PostgreSQL server shared by all tests of this test
// binary, starting it on first use. Tests must not stop it; Main does.
// It ignores STEADY_TEST_DATABASE_URL: use it when a test needs the server
// itself (its socket, its log), and Database otherwise.
func Postgres(t testing.TB) *sandbox.Postgres {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		shared.pg, shared.err = sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
		if shared.err == nil {
			track(shared.pg.Dir())
		}
	})
	if shared.err != nil {
		t.Fatalf("sandboxtest: shared PostgreSQL server: %v", shared.err)
	}
	return shared.pg
}

// ArchivingPostgres starts a private PostgreSQL server of the test's own
// with continuous archiving on (its WAL copied into ArchiveDir()), stopped
// when the test ends. Archiving needs a server restart to switch on, so it
// cannot be the shared server; expect a second or two of startup. It
// ignores STEADY_TEST_DATABASE_URL.
func ArchivingPostgres(t testing.TB) *sandbox.Postgres {
	t.Helper()
	return PostgresServer(t, sandbox.PostgresOptions{Archive: true})
}

// PostgresServer starts a private PostgreSQL server of the test's own with
// opts (archiving, recovery from a base backup), stopped when the test
// ends.
func PostgresServer(t testing.TB, opts sandbox.PostgresOptions) *sandbox.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pg, err := sandbox.StartPostgres(ctx, opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	track(pg.Dir())
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Errorf("sandboxtest: %v", err)
		}
	})
	return pg
}

// Database creates a database with a unique name and returns its URL; it is
// dropped, connections and all, when the test ends. It lives in the shared
// private server, or in the server of STEADY_TEST_DATABASE_URL if set.
func Database(t testing.TB) string {
	t.Helper()
	name, err := uniqueName(t)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if admin := os.Getenv(EnvDatabaseURL); admin != "" {
		return externalDatabase(ctx, t, admin, name)
	}
	pg := Postgres(t)
	u, err := pg.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pg.DropDatabase(ctx, name); err != nil {
			t.Errorf("sandboxtest: %v", err)
		}
	})
	return u
}

func externalDatabase(ctx context.Context, t testing.TB, admin, name string) string {
	t.Helper()
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("sandboxtest: %s: %v", EnvDatabaseURL, err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := execOn(ctx, admin, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("sandboxtest: create database %s via %s (%s): %v; the role needs CREATEDB", name, EnvDatabaseURL, redact(admin), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := execOn(ctx, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42601" {
			// Before PostgreSQL 13 there is no FORCE; hope the test closed
			// its connections.
			err = execOn(ctx, admin, "DROP DATABASE IF EXISTS "+ident)
		}
		if err != nil {
			t.Errorf("sandboxtest: drop database %s via %s (%s): %v", name, EnvDatabaseURL, redact(admin), err)
		}
	})
	return u
}

func execOn(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase points a connection string (URL or key=value DSN) at another
// database, keeping host, credentials and options.
func withDatabase(connString, name string) (string, error) {
	if strings.Contains(connString, "://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("not a valid URL: %w", err)
		}
		u.Path, u.RawPath = "/"+name, ""
		q := u.Query()
		if q.Has("dbname") {
			q.Set("dbname", name)
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// A later keyword wins in libpq's and pgx's key=value parsing; the name
	// is [a-z0-9_] only, so it needs no quoting.
	return connString + " dbname=" + name, nil
}

// redact hides the password of a URL for error messages.
func redact(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(key=value connection string)"
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueName derives a database name from the test name, so a leftover
// database (say, after a crash with an external server) says who made it.
func uniqueName(t testing.TB) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	base := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return "t_" + base + "_" + hex.EncodeToString(b), nil
}

// Redis returns the URL (database 0) of a fresh private redis-server that is
// stopped when the test ends. If STEADY_TEST_REDIS_URL is set it returns
// that URL instead, after FLUSHALL; tests of this binary then take turns on
// it (a test's subtests share their parent's turn), one until its end.
func Redis(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvRedisURL); u != "" {
		if acquireExternal(t) {
			flushExternal(t, u)
		}
		return u
	}
	return RedisServer(t, sandbox.RedisOptions{}).URL(0)
}

// RedisServer starts a private redis-server with opts (say, a password or a
// maxmemory) that is stopped when the test ends. It ignores
// STEADY_TEST_REDIS_URL.
func RedisServer(t testing.TB, opts sandbox.RedisOptions) *sandbox.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	r, err := sandbox.StartRedis(ctx, opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	track(r.Dir())
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("sandboxtest: %v", err)
		}
	})
	return r
}

// RedisCluster starts a private Redis Cluster of masters nodes, stopped
// when the test ends. Expect about two seconds of startup.
func RedisCluster(t testing.TB, masters int) *sandbox.RedisCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := sandbox.StartRedisCluster(ctx, masters)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	track(c.Dir())
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("sandboxtest: %v", err)
		}
	})
	return c
}

// external serialises the tests of this binary on STEADY_TEST_REDIS_URL:
// each flushes it, so two at once would wipe each other's keys.
var external = struct {
	mu     sync.Mutex
	free   *sync.Cond
	holder string // name of the test whose turn it is; "" when free
}{}

func init() { external.free = sync.NewCond(&external.mu) }

// acquireExternal waits for t's turn and reports whether it is a new turn
// (which gets a flush) rather than t or its parent already holding it.
func acquireExternal(t testing.TB) bool {
	external.mu.Lock()
	defer external.mu.Unlock()
	for {
		switch h := external.holder; {
		case h == "":
			external.holder = t.Name()
			t.Cleanup(func() {
				external.mu.Lock()
				external.holder = ""
				external.mu.Unlock()
				external.free.Broadcast()
			})
			return true
		case h == t.Name() || strings.HasPrefix(t.Name(), h+"/"):
			// Waiting here would deadlock: the holder ends only after t.
			return false
		}
		external.free.Wait()
	}
}

func flushExternal(t testing.TB, u string) {
	t.Helper()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("sandboxtest: %s: %v", EnvRedisURL, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("sandboxtest: FLUSHALL on %s (%s): %v", EnvRedisURL, redact(u), err)
	}
}
