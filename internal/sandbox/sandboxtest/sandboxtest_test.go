package sandboxtest_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func currentDatabase(t *testing.T, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect %s: %v", u, err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// databaseExists asks the shared server, which hosts every database here.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, sandboxtest.Postgres(t).SocketURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestDatabase(t *testing.T) {
	var names []string
	t.Run("fresh databases", func(t *testing.T) {
		a, b := sandboxtest.Database(t), sandboxtest.Database(t)
		names = []string{currentDatabase(t, a), currentDatabase(t, b)}
		if names[0] == names[1] {
			t.Fatalf("two calls gave the same database %s", names[0])
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "t_testdatabase_fresh_databases_") {
				t.Errorf("database name %q does not say which test made it", n)
			}
		}
	})
	for _, n := range names {
		if databaseExists(t, n) {
			t.Errorf("database %s survived its test", n)
		}
	}
}

func TestPostgresIsShared(t *testing.T) {
	if a, b := sandboxtest.Postgres(t), sandboxtest.Postgres(t); a != b {
		t.Errorf("Postgres started a second server: %s and %s", a.Dir(), b.Dir())
	}
}

func TestDatabaseFromEnv(t *testing.T) {
	pg := sandboxtest.Postgres(t)
	for _, admin := range []string{
		pg.URL("postgres"),
		fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=postgres sslmode=disable", pg.Port(), sandbox.PostgresUser, pg.Password()),
	} {
		t.Setenv(sandboxtest.EnvDatabaseURL, admin)
		var name string
		t.Run("", func(t *testing.T) {
			u := sandboxtest.Database(t)
			if !strings.Contains(u, pg.Password()) {
				t.Errorf("URL %s lost the credentials of %s", u, sandboxtest.EnvDatabaseURL)
			}
			if name = currentDatabase(t, u); !strings.HasPrefix(name, "t_testdatabasefromenv_") {
				t.Errorf("connected to %s, want a fresh database", name)
			}
		})
		if name == "" || databaseExists(t, name) {
			t.Errorf("database %q was not created or survived its test", name)
		}
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	u := sandboxtest.Redis(t)
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh server has %d keys", n)
	}
	if other := sandboxtest.Redis(t); other == u {
		t.Errorf("two calls share the server %s", u)
	}
}

func TestRedisFromEnv(t *testing.T) {
	srv := sandboxtest.RedisServer(t, sandbox.RedisOptions{Password: "pw"})
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "pw"})
	defer c.Close()
	if err := c.Set(ctx, "stale", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sandboxtest.EnvRedisURL, srv.URL(0))

	t.Run("flushed", func(t *testing.T) {
		if got := sandboxtest.Redis(t); got != srv.URL(0) {
			t.Errorf("Redis = %s, want %s", got, srv.URL(0))
		}
		if n := c.Exists(ctx, "stale").Val(); n != 0 {
			t.Error("the external server was not flushed")
		}
		c.Set(ctx, "mine", 1, 0)
		t.Run("subtest shares the turn", func(t *testing.T) {
			sandboxtest.Redis(t)
			if n := c.Exists(ctx, "mine").Val(); n != 1 {
				t.Error("a subtest flushed its parent's keys")
			}
		})
	})
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cl := sandboxtest.RedisCluster(t, 3)
	if _, err := url.Parse(cl.URL()); err != nil || len(cl.Addrs()) != 3 {
		t.Errorf("cluster URL %q, addrs %v", cl.URL(), cl.Addrs())
	}
}
