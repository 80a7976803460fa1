// Package target owns the connections to the systems an incident is about:
// the application's PostgreSQL, the Redis of its cache, the Celery broker
// and result backend, and the commands that operate the application. It
// opens them lazily, bounds them with timeouts, and never prints a secret.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/config"
	"steady/internal/secret"
)

// Target is the set of systems one incident works on. It is safe for
// concurrent use; connections are opened on first use and reused.
//
// A system that cannot be reached costs one connect timeout, not one per
// caller: each system connects on its own (a silent database does not hold
// up the cache), callers of the same system wait for the one attempt, and
// a failure is remembered, with its reason, for RetryAfter, so every later
// caller gets the same answer at once (as a *ConnectError with Remembered
// set). A server that does not answer at all is remembered by its
// address, so the cache and the broker on one silent Redis cost one
// timeout between them.
type Target struct {
	cfg *config.Config
	// Scrubber removes this target's secrets from any text shown or kept.
	Scrubber *secret.Scrubber
	// RetryAfter is how long a failed connect is remembered before the
	// next caller tries again; 0 remembers it for as long as the Target
	// lives (one `steady check` is one look at the systems).
	RetryAfter time.Duration

	mu    sync.Mutex
	links map[string]*link
	// silent holds, by server address, the servers that gave no answer.
	silent map[string]*ConnectError
}

// link is one connection (a pool, or a Redis client) and its last failure.
type link struct {
	mu     sync.Mutex // held while connecting
	pool   *pgxpool.Pool
	client redis.UniversalClient
	failed *ConnectError
}

// New returns a Target for cfg. Nothing is connected yet.
func New(cfg *config.Config) *Target {
	s := &secret.Scrubber{}
	s.Add(cfg.Secrets()...)
	return &Target{cfg: cfg, Scrubber: s, links: map[string]*link{}, silent: map[string]*ConnectError{},
		RetryAfter: max(2*cfg.Probes.ConnectTimeout.D(), 2*time.Second)}
}

// link returns the connection of a system, creating an empty one.
func (t *Target) link(key string) *link {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.links[key]
	if !ok {
		l = &link{}
		t.links[key] = l
	}
	return l
}

// remembered returns a failure still fresh enough to give again: the
// link's own, or its server's when that server gave no answer.
func (t *Target) remembered(l *link, addr string) *ConnectError {
	fresh := func(ce *ConnectError) bool {
		return ce != nil && (t.RetryAfter <= 0 || time.Since(ce.At) < t.RetryAfter)
	}
	t.mu.Lock()
	silent := t.silent[addr]
	t.mu.Unlock()
	for _, ce := range []*ConnectError{l.failed, silent} {
		if fresh(ce) {
			again := *ce
			again.Remembered = true
			return &again
		}
	}
	return nil
}

// fail records a failed connect on its link and, when the server gave no
// answer or refused, under its address. A connect the caller gave up on
// (its context ended) says nothing of the server and is not remembered.
func (t *Target) fail(ctx context.Context, l *link, addr string, ce *ConnectError) *ConnectError {
	ce.At = time.Now()
	if ctx.Err() != nil {
		return ce
	}
	l.failed = ce
	if ce.Silent && addr != "" {
		t.mu.Lock()
		t.silent[addr] = ce
		t.mu.Unlock()
	}
	return ce
}

// Config returns the configuration the target was built from.
func (t *Target) Config() *config.Config { return t.cfg }

// String describes the target with every password redacted.
func (t *Target) String() string {
	var parts []string
	if t.cfg.DB != "" {
		parts = append(parts, "db "+secret.RedactURL(t.cfg.DB))
	}
	if t.cfg.Redis != "" {
		parts = append(parts, "cache "+secret.RedactURL(t.cfg.Redis))
	}
	if t.cfg.Broker != "" && t.cfg.Broker != t.cfg.Redis {
		parts = append(parts, "broker "+secret.RedactURL(t.cfg.Broker))
	}
	if len(parts) == 0 {
		return "no target configured"
	}
	return strings.Join(parts, ", ")
}

// Error kinds a caller may need to tell apart.
var (
	// ErrNotConfigured means the system was not given at all.
	ErrNotConfigured = errors.New("not configured")
)

// ConnectError is a failure to reach a system, with a one-line reason an
// operator can act on.
type ConnectError struct {
	System string // "postgres", "redis", "broker", "results"
	Target string // redacted address
	Reason string // e.g. "password authentication failed for user app"
	Err    error
	// At is when the connect failed.
	At time.Time
	// Silent is set when the server gave no answer or refused the
	// connection (rather than, say, the password).
	Silent bool
	// Remembered is set when this is an earlier failure given again
	// without a new attempt.
	Remembered bool
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect to %s %s: %s", e.System, e.Target, e.Reason)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// DBName returns the database name of the configured PostgreSQL, used as
// the confirm phrase of destructive database actions.
func (t *Target) DBName() string {
	cfg, err := pgx.ParseConfig(t.cfg.DB)
	if err != nil {
		return ""
	}
	return cfg.Database
}

// Postgres returns the connection pool, connecting on first use within the
// configured connect timeout.
func (t *Target) Postgres(ctx context.Context) (*pgxpool.Pool, error) {
	if t.cfg.DB == "" {
		return nil, fmt.Errorf("postgres: %w (give --db or DATABASE_URL)", ErrNotConfigured)
	}
	l := t.link("postgres")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pool != nil {
		return l.pool, nil
	}
	red := secret.RedactURL(t.cfg.DB)
	pc, err := pgxpool.ParseConfig(t.cfg.DB)
	if err != nil {
		return nil, &ConnectError{System: "postgres", Target: red, Reason: "invalid connection string: " + t.Scrubber.Scrub(err.Error()), Err: err}
	}
	addr := net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port)))
	if ce := t.remembered(l, addr); ce != nil {
		return nil, ce
	}
	timeout := t.cfg.Probes.ConnectTimeout.D()
	pc.ConnConfig.ConnectTimeout = timeout
	pc.MaxConns = 8
	pc.ConnConfig.RuntimeParams["application_name"] = "steady"
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, pc)
	if err == nil {
		err = pool.Ping(cctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		reason, silent := t.reason(err, timeout)
		return nil, t.fail(ctx, l, addr, &ConnectError{System: "postgres", Target: red, Reason: reason, Err: err, Silent: silent})
	}
	l.pool = pool
	return pool, nil
}

// Reach connects every configured system at once and returns when each
// has connected or failed, failures remembered as any connect's are. A
// caller about to ask every system (a whole check) calls it first, so two
// unreachable servers cost one connect timeout between them, not one each
// in turn.
func (t *Target) Reach(ctx context.Context) {
	// An unconfigured system answers at once with ErrNotConfigured.
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = t.Postgres(ctx) })
	for _, open := range []func(context.Context) (redis.UniversalClient, error){t.Cache, t.Broker, t.Results} {
		wg.Go(func() { _, _ = open(ctx) })
	}
	wg.Wait()
}

// ReadOnly runs fn in a read-only transaction bounded by the configured
// statement_timeout and lock_timeout. The transaction is always rolled
// back, so nothing fn does can persist.
func (t *Target) ReadOnly(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	pool, err := t.Postgres(ctx)
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // rollback of a read-only tx; the result is fn's
	st := t.cfg.Probes.StatementTimeout.D().Milliseconds()
	lt := t.cfg.Probes.LockTimeout.D().Milliseconds()
	// jit off: a probe's statements read a range through an index; the
	// planner's cost of one over a large table passes jit_above_cost, and
	// compiling then costs more than the query (measured: 31 of 89 ms of
	// the audit probe's statement on 5M rows).
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL lock_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d; SET LOCAL jit = off", st, lt, st*4)); err != nil {
		return fmt.Errorf("set probe timeouts: %w", err)
	}
	return fn(ctx, tx)
}

// Cache returns a client of the Redis that holds the Django cache.
func (t *Target) Cache(ctx context.Context) (redis.UniversalClient, error) {
	return t.redis(ctx, "redis", t.cfg.Redis, "--redis or REDIS_URL")
}

// Broker returns a client of the Celery broker.
func (t *Target) Broker(ctx context.Context) (redis.UniversalClient, error) {
	return t.redis(ctx, "broker", t.cfg.Broker, "--broker or CELERY_BROKER_URL")
}

// Results returns a client of the Celery result backend (the broker unless
// configured otherwise).
func (t *Target) Results(ctx context.Context) (redis.UniversalClient, error) {
	return t.redis(ctx, "results", t.cfg.ResultsURL(), "--results, CELERY_RESULT_BACKEND or the broker")
}

func (t *Target) redis(ctx context.Context, system, raw, hint string) (redis.UniversalClient, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s: %w (give %s)", system, ErrNotConfigured, hint)
	}
	l := t.link("redis " + raw)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client != nil {
		return l.client, nil
	}
	red := secret.RedactURL(raw)
	opts, err := RedisOptions(raw)
	if err != nil {
		return nil, &ConnectError{System: system, Target: red, Reason: t.Scrubber.Scrub(err.Error()), Err: err}
	}
	addr := strings.Join(opts.Addrs, ",")
	if ce := t.remembered(l, addr); ce != nil {
		ce.System, ce.Target = system, red
		return nil, ce
	}
	timeout := t.cfg.Probes.ConnectTimeout.D()
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.MaxRetries = 1
	opts.ClientName = "steady"
	// RESP2 keeps INFO and SCAN replies in the shape every Redis returns.
	opts.Protocol = 2
	opts.DisableIdentity = true
	c := redis.NewUniversalClient(opts)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Ping(cctx).Err(); err != nil {
		c.Close()
		reason, silent := t.reason(err, timeout)
		return nil, t.fail(ctx, l, addr, &ConnectError{System: system, Target: red, Reason: reason, Err: err, Silent: silent})
	}
	l.client = c
	return c, nil
}

// IsCluster reports whether a Redis URL names a cluster: more than one
// address (redis://h1:6379?addr=h2:6379) or the redis+cluster scheme.
func IsCluster(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return strings.HasSuffix(u.Scheme, "+cluster") || len(u.Query()["addr"]) > 0
}

// RedisOptions parses a single-node or cluster Redis URL into options for
// redis.NewUniversalClient. A cluster URL has extra addr= parameters or the
// scheme redis+cluster (rediss+cluster for TLS).
func RedisOptions(raw string) (*redis.UniversalOptions, error) {
	if IsCluster(raw) {
		fixed := strings.Replace(raw, "+cluster://", "://", 1)
		co, err := redis.ParseClusterURL(fixed)
		if err != nil {
			return nil, fmt.Errorf("invalid cluster URL: %w", err)
		}
		return &redis.UniversalOptions{
			Addrs: co.Addrs, Username: co.Username, Password: co.Password,
			TLSConfig: co.TLSConfig, IsClusterMode: true,
		}, nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL: %w", err)
	}
	return &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig,
	}, nil
}

// RedisDB returns the database number of a single-node Redis URL (0 when
// absent or a cluster).
func RedisDB(raw string) int {
	if IsCluster(raw) {
		return 0
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return 0
	}
	return o.DB
}

// SameRedisInstance reports whether two Redis URLs point at the same
// server (possibly different databases), which is when a FLUSHALL of one
// empties the other.
func SameRedisInstance(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	oa, errA := RedisOptions(a)
	ob, errB := RedisOptions(b)
	if errA != nil || errB != nil {
		return false
	}
	for _, x := range oa.Addrs {
		for _, y := range ob.Addrs {
			if sameAddr(x, y) {
				return true
			}
		}
	}
	return false
}

func sameAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	norm := func(h string) string {
		if h == "localhost" || h == "::1" || h == "" {
			return "127.0.0.1"
		}
		return h
	}
	return norm(ha) == norm(hb) && pa == pb
}

// RedisName returns a short name of the cache Redis ("host:port/db"), used
// as the confirm phrase of destructive cache actions.
func (t *Target) RedisName() string {
	opts, err := RedisOptions(t.cfg.Redis)
	if err != nil || len(opts.Addrs) == 0 {
		return ""
	}
	if opts.IsClusterMode {
		return opts.Addrs[0]
	}
	return opts.Addrs[0] + "/" + strconv.Itoa(opts.DB)
}

// reason turns a connection error into one line an operator can act on,
// and says whether the server gave no answer at all (silent, refused or
// unknown): whoever asks that server next gets the same answer at once.
func (t *Target) reason(err error, timeout time.Duration) (string, bool) {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	noAnswer := fmt.Sprintf("no answer within %s (is the host reachable and the port open?)", timeout)
	switch {
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "28P01", "28000":
			return "authentication failed: " + t.Scrubber.Scrub(pgErr.Message) + " (check the user and password)", false
		case "3D000":
			return "database does not exist: " + pgErr.Message, false
		}
		return t.Scrubber.Scrub(pgErr.Message) + " (SQLSTATE " + pgErr.Code + ")", false
	case errors.As(err, &dnsErr):
		return "host not found: " + dnsErr.Name, true
	case errors.Is(err, context.DeadlineExceeded):
		return noAnswer, true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if strings.Contains(opErr.Err.Error(), "refused") {
			return "connection refused (is the server running on that port?)", true
		}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"), strings.Contains(msg, "NOAUTH"):
		return "authentication failed (check the Redis password)", false
	case strings.Contains(msg, "connection refused"):
		return "connection refused (is the server running on that port?)", true
	case strings.Contains(msg, "no such host"):
		return "host not found", true
	case strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "timeout"):
		return noAnswer, true
	}
	return t.Scrubber.Scrub(msg), false
}

// Close releases every connection.
func (t *Target) Close() {
	t.mu.Lock()
	links := t.links
	t.links = map[string]*link{}
	t.silent = map[string]*ConnectError{}
	t.mu.Unlock()
	for _, l := range links {
		l.mu.Lock()
		if l.pool != nil {
			l.pool.Close()
		}
		if l.client != nil {
			l.client.Close()
		}
		l.mu.Unlock()
	}
}
