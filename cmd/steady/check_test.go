package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/clinic/clinictest"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
	"steady/probes"
)

// app is the clinic application (clinictest) for the binary to work on:
// the cache in db 1 and the broker in db 0 of one Redis.
type app struct {
	db, cache, broker string
	pool              *pgxpool.Pool
	rdb               *redis.Client
	cfg               config.Config
}

func newApp(t *testing.T) *app {
	t.Helper()
	c := clinictest.New(t, clinictest.Options{Seed: clinic.SeedOptions{Clinicians: 20, Months: 2, Seed: 7}, Broker: clinictest.SameRedis})
	return &app{db: c.Config.DB, cache: c.Config.Redis, broker: c.Config.Broker, pool: c.DB, rdb: c.Cache, cfg: *c.Config}
}

func (a *app) env() []string {
	dir, _ := filepath.Abs("../../examples/clinic")
	return []string{"DATABASE_URL=" + a.db, "REDIS_URL=" + a.cache, "CELERY_BROKER_URL=" + a.broker, "STEADY_DJANGO_DIR=" + dir}
}

func checkJSON(t *testing.T, r result) checkReport {
	t.Helper()
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check --json printed no JSON (%v): %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rep
}

func probeByID(rep checkReport, id string) probes.Result {
	for _, p := range rep.Probes {
		if p.Probe == id {
			return p
		}
	}
	return probes.Result{}
}

func TestCheckOnAHealthyDatabaseExitsZero(t *testing.T) {
	a := newApp(t)
	r := runSteady(t, "", a.env(), "check", "--json")
	rep := checkJSON(t, r)
	if r.code != 0 {
		t.Fatalf("exit %d on a healthy database:\n%s", r.code, r.stdout)
	}
	for _, p := range rep.Probes {
		switch p.Probe {
		case "shift-counts", "source-data":
			if p.Status != probes.Skipped {
				t.Errorf("%s without --clinician should be skipped, is %s", p.Probe, p.Status)
			}
		default:
			t.Logf("%s: %s %s", p.Probe, p.Status, p.Summary)
			if p.Status != probes.OK && p.Status != probes.Warn {
				t.Errorf("%s cries wolf: %s %s %v", p.Probe, p.Status, p.Summary, p.Findings)
			}
		}
	}
	for _, c := range rep.Causes {
		if c.Verdict != probes.RuledOut {
			t.Errorf("cause %s is %s on a healthy database", c.ID, c.Verdict)
		}
	}
}

func TestCheckFindsTheFourSeedFaults(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	if err := clinic.UnapplyMigration(ctx, a.pool); err != nil {
		t.Fatal(err)
	}
	races, err := clinic.RaceCondition(ctx, a.pool, clinic.RaceOptions{Groups: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := clinic.StaleCache(ctx, a.pool, a.rdb, &a.cfg, clinic.StaleOptions{Clinicians: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	bypass, err := clinic.ConstraintBypass(ctx, a.pool)
	if err != nil {
		t.Fatal(err)
	}

	r := runSteady(t, "", a.env(), "check", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rep := checkJSON(t, r)
	verdicts := map[string]probes.Verdict{}
	for _, c := range rep.Causes {
		verdicts[c.ID] = c.Verdict
	}
	for _, id := range []string{"incomplete-migration", "race-condition", "cache-invalidation", "constraint-bypass"} {
		if verdicts[id] != probes.Confirmed {
			t.Errorf("cause %s: %s, want confirmed", id, verdicts[id])
		}
	}
	if verdicts["business-rule"] == probes.Confirmed {
		t.Error("business-rule confirmed though no summary was computed with a wrong rule")
	}

	mig := probeByID(rep, "migrations")
	if !strings.Contains(mig.Summary, "config.0003_shift_constraints") || !strings.HasPrefix(mig.Summary, "1 unapplied") {
		t.Errorf("migrations: %s", mig.Summary)
	}
	audit := probeByID(rep, "audit-concurrency")
	if !strings.HasPrefix(audit.Summary, "3 groups") {
		t.Errorf("audit-concurrency should find %d groups: %s", len(races), audit.Summary)
	}
	cache := probeByID(rep, "cache")
	if cache.Status != probes.Fail {
		t.Errorf("cache: %s %s", cache.Status, cache.Summary)
	}
	for _, k := range stale {
		found := false
		for _, f := range cache.Findings {
			if strings.Contains(f.Message, k.Key) {
				found = true
			}
		}
		if !found {
			t.Errorf("stale key %s (cached %d, actual %d) not reported", k.Key, k.Cached, k.Actual)
		}
	}
	cons := probeByID(rep, "constraints")
	if cons.Status != probes.Fail || !strings.Contains(r.stdout, bypass.Constraint) {
		t.Errorf("constraints: %s %s (want %s named)", cons.Status, cons.Summary, bypass.Constraint)
	}
}

func TestCheckAgainstAStoppedServerFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	start := time.Now()
	r := runSteady(t, "", []string{"DATABASE_URL=postgres://app:Secr3tPass@" + dead + "/app?sslmode=disable", "REDIS_URL=redis://" + dead + "/1"}, "check")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s: beyond the connect timeout", d)
	}
	if !regexp.MustCompile(`connectivity +FAIL`).MatchString(r.stdout) || !strings.Contains(r.stdout, "connection refused") {
		t.Errorf("no clear connectivity finding:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "Secr3tPass") {
		t.Error("the password reached the output")
	}
}

func TestCheckRejectsBadInputWithExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"check", "--from", "2025-03-31", "--to", "2025-03-01"}, "reversed"},
		{[]string{"check", "--from", "31/03/2025"}, "not a date"},
		{[]string{"check", "--only", "crystal-ball"}, "unknown probe"},
		{[]string{"check", "--runbook", "no-such-runbook"}, "no runbook"},
	}
	for _, tt := range tests {
		r := runSteady(t, "", []string{"DATABASE_URL=postgres://app@127.0.0.1:1/app"}, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// A query text in pg_stat_activity is the server's to write and anyone's
// to fill: its escape sequences (retitle the terminal, clear the screen,
// colour what follows) are shown as escapes, never obeyed, in the table,
// the findings and the JSON.
func TestCheckShowsAServersEscapesInsteadOfObeyingThem(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "ALTER TABLE config_shift ADD COLUMN notes text /* \x1b]0;pwned\x07 \x1b[2J \x1b[31m red \u009b0m */"); err != nil {
		t.Fatal(err)
	}
	shown := `\e]0;pwned\a \e[2J \e[31m red \u009b0m`
	r := runSteady(t, "", a.env(), "check", "--only", "migrations")
	if out := r.stdout + r.stderr; strings.ContainsAny(out, "\x1b\x07\u009b") || !strings.Contains(out, "a migration seems to be running") || !strings.Contains(out, shown) {
		t.Errorf("check does not show the query with its escapes visible:\n%q", out)
	}
	r = runSteady(t, "", a.env(), "check", "--only", "migrations", "--json")
	if strings.ContainsRune(r.stdout, '\u009b') {
		t.Errorf("check --json printed a C1 control raw")
	}
	for _, f := range probeByID(checkJSON(t, r), "migrations").Findings {
		if f.Code == "migration.running" && (!strings.Contains(f.Message, shown) || f.Data["query"] != "ALTER TABLE config_shift ADD COLUMN notes text /* "+shown+" */") {
			t.Errorf("the finding as JSON: %q, query %q", f.Message, f.Data["query"])
		}
	}
}

// silentServer accepts connections and never says a word, as a server
// behind a hung proxy or a firewall that drops replies does.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return l.Addr().String()
}

// A database that accepts and never answers costs one connect timeout for
// the whole check: connectivity decides, and every probe that needs the
// database is skipped with its reason instead of waiting out a timeout of
// its own.
func TestASilentServerCostsOneConnectTimeout(t *testing.T) {
	dir := t.TempDir()
	timeout := 2 * time.Second
	if err := os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte("probes: {connect_timeout: 2s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	redisURL := sandboxtest.Redis(t)
	env := []string{
		"DATABASE_URL=postgres://app:pw@" + silentServer(t) + "/app?sslmode=disable",
		"REDIS_URL=" + strings.TrimSuffix(redisURL, "/0") + "/1", "CELERY_BROKER_URL=" + redisURL,
	}
	// The first start of a freshly built binary on a busy machine is not
	// what is measured here.
	runSteady(t, dir, nil, "version")
	start := time.Now()
	r := runSteady(t, dir, env, "check", "--json")
	took := time.Since(start)
	rep := checkJSON(t, r)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	t.Logf("the check took %s", took.Round(time.Millisecond))
	// One timeout, and the time the probes of the cache take.
	if limit := 2*timeout + time.Second; took > limit {
		t.Errorf("the check took %s with one silent server and a connect timeout of %s (limit %s)", took.Round(time.Millisecond), timeout, limit)
	}
	conn := probeByID(rep, "connectivity")
	if conn.Status != probes.Fail || !strings.Contains(conn.Summary, "no answer within 2s") {
		t.Errorf("connectivity: %s %s", conn.Status, conn.Summary)
	}
	for _, id := range []string{"audit-concurrency", "summaries", "constraints"} {
		p := probeByID(rep, id)
		if p.Status != probes.Skipped || !strings.Contains(p.Summary, "skipped: needs postgres") || !strings.Contains(p.Summary, "no answer within 2s") {
			t.Errorf("%s: %s %q, want skipped with the reason", id, p.Status, p.Summary)
		}
	}
}

// A value out of its range stops steady before it touches anything: exit
// 2, naming the file and line.
func TestABadConfigurationValueIsExit2WithFileAndLine(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"db: postgres://app@127.0.0.1:1/app\nprobes:\n  sample_keys: -1\n", "steady.yaml:3: probes.sample_keys must be from 1 to 1000000, not -1"},
		{"serve:\n  max_sessions: -3\n", "steady.yaml:2: serve.max_sessions must be from 1 to 1000, not -3"},
		{"probes: {connect_timeout: 0s}\n", "steady.yaml:1: probes.connect_timeout must be from 100ms to 5m0s, not 0s"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runSteady(t, dir, nil, "check")
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.yaml, r.code, r.stderr, tt.want)
		}
	}
}

// Two servers that never answer, the database and the Redis of the cache
// and the broker, still cost one connect timeout between them: they are
// reached at once, before the profile is learnt from the database alone.
func TestTwoSilentServersCostOneConnectTimeout(t *testing.T) {
	dir := t.TempDir()
	timeout := 3 * time.Second
	if err := os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte("probes: {connect_timeout: 3s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := silentServer(t)
	env := []string{
		"DATABASE_URL=postgres://app:pw@" + silentServer(t) + "/app?sslmode=disable",
		"REDIS_URL=redis://" + quiet + "/1", "CELERY_BROKER_URL=redis://" + quiet + "/0",
	}
	// The first start of a freshly built binary on a busy machine is not
	// what is measured here.
	runSteady(t, dir, nil, "version")
	start := time.Now()
	r := runSteady(t, dir, env, "check", "--json")
	took := time.Since(start)
	rep := checkJSON(t, r)
	if limit := timeout + timeout/2; took > limit {
		t.Errorf("the check took %s with two silent servers and a connect timeout of %s (limit %s)", took.Round(time.Millisecond), timeout, limit)
	}
	if conn := probeByID(rep, "connectivity"); conn.Status != probes.Fail || strings.Count(conn.Summary, "no answer within 3s") != 3 {
		t.Errorf("connectivity: %s %s", conn.Status, conn.Summary)
	}
	if c := probeByID(rep, "cache"); c.Status != probes.Skipped || !strings.Contains(c.Summary, "skipped: needs redis") {
		t.Errorf("cache: %s %q, want skipped with the reason", c.Status, c.Summary)
	}
}
