package target

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func TestRedisURLs(t *testing.T) {
	o, err := RedisOptions("redis://:pw@cache:6380/3")
	if err != nil || o.IsClusterMode || o.Addrs[0] != "cache:6380" || o.DB != 3 || o.Password != "pw" {
		t.Fatalf("single node: %+v %v", o, err)
	}
	o, err = RedisOptions("redis://n1:7000?addr=n2:7001&addr=n3:7002")
	if err != nil || !o.IsClusterMode || len(o.Addrs) != 3 {
		t.Fatalf("cluster: %+v %v", o, err)
	}
	o, err = RedisOptions("redis+cluster://n1:7000")
	if err != nil || !o.IsClusterMode {
		t.Fatalf("cluster scheme: %+v %v", o, err)
	}
	if _, err := RedisOptions("http://nope"); err == nil {
		t.Error("an http URL was accepted")
	}
	if !SameRedisInstance("redis://localhost:6379/1", "redis://127.0.0.1:6379/0") {
		t.Error("localhost and 127.0.0.1 on one port are the same instance")
	}
	if SameRedisInstance("redis://cache:6379/1", "redis://broker:6379/0") {
		t.Error("different hosts are different instances")
	}
	if RedisDB("redis://cache/5") != 5 {
		t.Error("db number")
	}
}

func TestStringRedacts(t *testing.T) {
	cfg := config.Default()
	cfg.DB = "postgres://app:s3cr3t@db/app"
	cfg.Redis = "redis://:r3d1s@cache:6379/1"
	cfg.Broker = "redis://:r3d1s@cache:6379/0"
	tg := New(&cfg)
	s := tg.String()
	if strings.Contains(s, "s3cr3t") || strings.Contains(s, "r3d1s") || !strings.Contains(s, "postgres://app:***@db/app") {
		t.Errorf("String() = %q", s)
	}
	if tg.DBName() != "app" || tg.RedisName() != "cache:6379/1" {
		t.Errorf("names %q %q", tg.DBName(), tg.RedisName())
	}
}

func TestConnectErrorsAreOneClearLine(t *testing.T) {
	pg := sandboxtest.Postgres(t)
	// A port nobody listens on: bind one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	tests := []struct {
		name, db, redis string
		want            string
	}{
		{"wrong password", strings.Replace(pg.URL("postgres"), pg.Password(), "wrong-password", 1), "", "authentication failed"},
		{"refused port", "postgres://app:pw@" + dead + "/app?sslmode=disable", "", "connection refused"},
		{"unknown host", "postgres://app:pw@no-such-host.invalid/app?sslmode=disable", "", "host not found"},
		{"redis refused", "", "redis://" + dead + "/0", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Probes.ConnectTimeout = config.Duration(3 * time.Second)
			cfg.DB, cfg.Redis = tt.db, tt.redis
			tg := New(&cfg)
			defer tg.Close()
			start := time.Now()
			if tt.db != "" {
				_, err = tg.Postgres(context.Background())
			} else {
				_, err = tg.Cache(context.Background())
			}
			var ce *ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ConnectError, got %v", err)
			}
			if !strings.Contains(ce.Reason, tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("reason %q, want one line containing %q", ce.Reason, tt.want)
			}
			if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error leaks the password: %v", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %s, beyond the connect timeout", d)
			}
		})
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	cfg := config.Default()
	cfg.DB = sandboxtest.Database(t)
	cfg.Probes.StatementTimeout = config.Duration(300 * time.Millisecond)
	tg := New(&cfg)
	defer tg.Close()
	pool, err := tg.Postgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	err = tg.ReadOnly(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "25006") {
		t.Fatalf("a write inside a probe transaction must fail with 25006, got %v", err)
	}
	err = tg.ReadOnly(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "SELECT pg_sleep(10)")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "57014") {
		t.Fatalf("statement_timeout should cancel a long statement, got %v", err)
	}
}

// silent accepts connections and never answers.
func silent(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// A server that never answers costs one connect timeout: callers of the
// same system wait for the one attempt, later callers get the remembered
// reason at once, and another system on the same silent server is not
// tried again. Once RetryAfter has passed, the next caller tries anew.
func TestASilentServerCostsOneTimeout(t *testing.T) {
	addr := silent(t)
	cfg := config.Default()
	timeout := 500 * time.Millisecond
	cfg.Probes.ConnectTimeout = config.Duration(timeout)
	cfg.DB = "postgres://app:pw@" + addr + "/app?sslmode=disable"
	cfg.Redis, cfg.Broker = "redis://"+addr+"/1", "redis://"+addr+"/0"
	tg := New(&cfg)
	defer tg.Close()
	ctx := context.Background()

	start := time.Now()
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := tg.Postgres(ctx); errs <- err }()
	}
	tried := 0
	for range 4 {
		var ce *ConnectError
		if err := <-errs; !errors.As(err, &ce) || !strings.Contains(ce.Reason, "no answer within 500ms") {
			t.Fatalf("want the silent server's reason, got %v", err)
		}
		if !ce.Remembered {
			tried++
		}
	}
	if took := time.Since(start); tried != 1 || took > 2*timeout {
		t.Errorf("4 callers: %d attempts in %s, want 1 within about %s", tried, took, timeout)
	}

	start = time.Now()
	_, cacheErr := tg.Cache(ctx)
	_, brokerErr := tg.Broker(ctx)
	var ce *ConnectError
	if !errors.As(brokerErr, &ce) || !ce.Remembered || ce.System != "broker" || cacheErr == nil {
		t.Errorf("cache %v, broker %v: want the broker given the silent server's failure again", cacheErr, brokerErr)
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("cache and broker on the silent server took %s: it was already known not to answer", took)
	}

	tg.RetryAfter = time.Nanosecond
	start = time.Now()
	if _, err := tg.Postgres(ctx); !errors.As(err, &ce) || ce.Remembered || time.Since(start) < timeout/2 {
		t.Errorf("after RetryAfter: %v (remembered %v) in %s, want a new attempt", err, ce != nil && ce.Remembered, time.Since(start))
	}
}
