package probes

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// staleFindings returns key → "cached/actual" of the cache.stale_key findings.
func staleFindings(r Result) map[string]string {
	out := map[string]string{}
	for _, x := range findings(r, "cache.stale_key") {
		if k, ok := x.Data["key"].(string); ok {
			out[k] = fmt.Sprintf("%v/%v", x.Data["cached"], x.Data["actual"])
		}
	}
	return out
}

// expectedStale is what the probe should say of stale keys: key →
// "cached/actual", and their scopes by clinician.
func expectedStale(stale []clinic.StaleKey) (map[string]string, []Scope) {
	wantKeys := map[string]string{}
	var scopes []Scope
	for _, s := range stale {
		wantKeys[s.Key] = fmt.Sprintf("%d/%d", s.Cached, s.Actual)
		scopes = append(scopes, Scope{Clinician: s.Clinician, From: s.Period.FromDate(), To: s.Period.ToDate()})
	}
	sort.Slice(scopes, func(i, j int) bool { return scopes[i].Clinician < scopes[j].Clinician })
	return wantKeys, scopes
}

func wantStale(t *testing.T, r Result, stale []clinic.StaleKey) {
	t.Helper()
	wantKeys, scopes := expectedStale(stale)
	if got := staleFindings(r); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("stale keys (cached/actual) %v, want %v\n%s", got, wantKeys, describe(r))
	}
	sort.Slice(scopes, func(i, j int) bool { return scopes[i].Clinician < scopes[j].Clinician })
	got := append([]Scope{}, r.Affected...)
	sort.Slice(got, func(i, j int) bool { return got[i].Clinician < got[j].Clinician })
	if !reflect.DeepEqual(got, scopes) {
		t.Errorf("affected %v, want %v", got, scopes)
	}
	for i, row := range r.Evidence.Rows[:len(stale)] {
		if row[5] != "stale" {
			t.Errorf("evidence row %d is %v; stale keys come first", i, row)
		}
	}
}

func TestCacheFindsStaleKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	stale, err := clinic.StaleCache(context.Background(), f.db, f.rdb, f.cfg, clinic.StaleOptions{Clinicians: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "cache", nil)
	want(t, r, Fail)
	wantStale(t, r, stale)
	if !strings.HasPrefix(r.Summary, fmt.Sprintf("4 of %d sampled shift counts stale", len(f.ds.Clinicians)*len(f.ds.Months))) {
		t.Errorf("summary %q", r.Summary)
	}
}

// TestCacheFindsStaleKeysAcrossClusterMasters: with Redis Cluster the keys
// spread over the masters, and every master is scanned.
func TestCacheFindsStaleKeysAcrossClusterMasters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	cluster := sandboxtest.RedisCluster(t, 3)
	cfg := *f.cfg
	cfg.Redis = cluster.URL()
	if !target.IsCluster(cfg.Redis) {
		t.Fatalf("%s is not a cluster URL for target", cfg.Redis)
	}
	f.setConfig(t, &cfg)
	rdb, err := f.tg.Cache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clinic.WarmCache(ctx, f.db, rdb, &cfg, clinic.CacheOptions{}); err != nil {
		t.Fatal(err)
	}
	stale, err := clinic.StaleCache(ctx, f.db, rdb, &cfg, clinic.StaleOptions{Clinicians: 6})
	if err != nil {
		t.Fatal(err)
	}
	masters := map[string]bool{}
	for _, s := range stale {
		n, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		masters[n.Options().Addr] = true
	}
	if len(masters) < 2 {
		t.Fatalf("the stale keys all live on one master (%v); the test proves nothing", masters)
	}
	r := f.run(t, "cache", nil)
	want(t, r, Fail)
	wantStale(t, r, stale)
	if s := findings(r, "cache.sample"); len(s) != 1 || !strings.Contains(s[0].Message, fmt.Sprintf("%d keys sampled", len(f.ds.Clinicians)*len(f.ds.Months))) {
		t.Errorf("sample %v: every master's keys should be sampled", s)
	}
}

func TestCacheUnreadableValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	m := f.lastMonth()
	text := f.cfg.Profile.Cache.WorkedKeyOf(1, m.FromDate(), m.ToDate())
	hash := f.cfg.Profile.Cache.WorkedKeyOf(2, m.FromDate(), m.ToDate())
	pickled := f.cfg.Profile.Cache.WorkedKeyOf(3, m.FromDate(), m.ToDate())
	must(t, f.rdb.Set(ctx, text, "fourteen", 0).Err())
	must(t, f.rdb.Del(ctx, hash).Err())
	must(t, f.rdb.HSet(ctx, hash, "n", 14).Err())
	// A pickled Decimal('14'): the application can read it; steady does not compare it.
	must(t, f.rdb.Set(ctx, pickled, "\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x07decimal\x94\x8c\x07Decimal\x94\x93\x94\x8c\x0214\x94\x85\x94R\x94.", 0).Err())
	r := f.run(t, "cache", nil)
	want(t, r, Fail)
	corrupt := findings(r, "cache.corrupt")
	if len(corrupt) != 2 {
		t.Fatalf("%d corrupt findings, want 2 (text and hash)\n%s", len(corrupt), describe(r))
	}
	for _, c := range corrupt {
		if !strings.Contains(c.Message, "cache.get raises") {
			t.Errorf("finding %q does not say what it does to the application", c.Message)
		}
	}
	if len(findings(r, "cache.stale_key")) != 0 {
		t.Errorf("unreadable or pickled values are not stale counts:\n%s", describe(r))
	}
	if !strings.Contains(r.Summary, "2 unreadable values") {
		t.Errorf("summary %q", r.Summary)
	}
}

func TestCacheWarnsWhenTheBrokerSharesTheInstance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	cfg := *f.cfg
	cfg.Broker = strings.TrimSuffix(cfg.Redis, "/0") + "/1"
	f.setConfig(t, &cfg)
	broker, err := f.tg.Broker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clinic.EnqueueNoise(ctx, broker, &cfg, clinic.NoiseOptions{Tasks: 3, Results: 2}); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, "cache", nil)
	want(t, r, Warn)
	shared := findings(r, "cache.broker_shared")
	if len(shared) != 1 {
		t.Fatalf("no broker finding\n%s", describe(r))
	}
	d := shared[0].Data
	if d["queued"] != int64(3) || d["unacked"] != int64(0) || d["results"] != int64(2) || d["same_db"] != false {
		t.Errorf("broker finding data %v", d)
	}
	if !strings.Contains(shared[0].Message, "FLUSHALL would drop them") {
		t.Errorf("message %q", shared[0].Message)
	}
}

func TestCacheWarnsOnEvictions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	ctx := context.Background()
	srv := sandboxtest.RedisServer(t, sandbox.RedisOptions{MaxMemory: "2mb"})
	must(t, redis.NewClient(&redis.Options{Addr: srv.Addr()}).ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	big := strings.Repeat("x", 64<<10)
	for i := 0; i < 100; i++ {
		must(t, rdb.Set(ctx, fmt.Sprintf(":1:page:%d", i), big, 0).Err())
	}
	cfg := *f.cfg
	cfg.Redis = srv.URL(0)
	f.setConfig(t, &cfg)
	r := f.run(t, "cache", nil)
	want(t, r, Warn)
	if len(findings(r, "cache.evictions")) != 1 {
		t.Errorf("no eviction finding\n%s", describe(r))
	}
}

func TestCacheWithoutDatabaseStillReportsHealth(t *testing.T) {
	t.Parallel()
	url := sandboxtest.Redis(t)
	cfg := config.Default()
	cfg.Redis = url
	tg := target.New(&cfg)
	defer tg.Close()
	rdb, err := tg.Cache(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	must(t, rdb.Set(context.Background(), cfg.Profile.Cache.WorkedKeyOf(1, "2026-01-01", "2026-01-31"), "12", 0).Err())
	p, _ := Get("cache")
	r := p.Run(context.Background(), tg, nil)
	want(t, r, Warn)
	if len(findings(r, "cache.unchecked")) != 1 || len(findings(r, "cache.keys")) != 1 {
		t.Errorf("want health and a note that counts were not compared\n%s", describe(r))
	}
}

// The full audit compares every worked-count key, where the sample (here
// of 5 keys) cannot clear the cache: every stale key is found with its
// figures and scope, on one Redis and across a cluster's masters; values
// that are not counts are said, not compared.
func TestCacheFullAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	stale, err := clinic.StaleCache(ctx, f.db, f.rdb, f.cfg, clinic.StaleOptions{Clinicians: 5})
	if err != nil {
		t.Fatal(err)
	}
	m := f.lastMonth()
	corrupt := f.cfg.Profile.Cache.WorkedKeyOf(1, m.FromDate(), "2099-01-31")
	must(t, f.rdb.Set(ctx, corrupt, "fourteen", 0).Err())
	cfg := *f.cfg
	cfg.Probes.SampleKeys = 5
	f.setConfig(t, &cfg)

	sample := f.run(t, "cache", nil)
	if !strings.Contains(sample.Summary, "a sample") {
		t.Errorf("the sample does not say it is one: %q", sample.Summary)
	}
	check := func(t *testing.T, r Result) {
		t.Helper()
		want(t, r, Fail)
		full := findings(r, "cache.full")
		total := len(f.ds.Clinicians)*len(f.ds.Months) + 1
		if len(full) != 1 || full[0].Data["keys"] != total || full[0].Data["stale"] != len(stale) || full[0].Data["corrupt"] != 1 {
			t.Fatalf("full audit %v, want %d keys, %d stale, 1 corrupt\n%s", full, total, len(stale), describe(r))
		}
		wantKeys, scopes := expectedStale(stale)
		if got := staleFindings(r); !reflect.DeepEqual(got, wantKeys) {
			t.Errorf("stale keys (cached/actual) %v, want %v", got, wantKeys)
		}
		if !reflect.DeepEqual(r.Affected, scopes) {
			t.Errorf("affected %v, want %v", r.Affected, scopes)
		}
		if len(r.Evidence.Rows) != len(stale) || len(findings(r, "cache.corrupt")) != 1 {
			t.Errorf("evidence %d rows, corrupt findings %d", len(r.Evidence.Rows), len(findings(r, "cache.corrupt")))
		}
		if !strings.HasPrefix(r.Summary, fmt.Sprintf("full audit: %d of %d worked counts stale", len(stale), total-1)) {
			t.Errorf("summary %q", r.Summary)
		}
	}
	check(t, f.run(t, "cache", map[string]string{"full": "true"}))

	t.Run("fewer figures than clinicians: their shifts read per batch", func(t *testing.T) {
		// A second cache holding only the stale keys and the corrupt one.
		small := cfg
		small.Redis = sandboxtest.Redis(t)
		f.setConfig(t, &small)
		rdb, err := f.tg.Cache(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stale {
			must(t, rdb.Set(ctx, s.Key, s.Cached, 0).Err())
		}
		must(t, rdb.Set(ctx, corrupt, "fourteen", 0).Err())
		r := f.run(t, "cache", map[string]string{"full": "true"})
		full := findings(r, "cache.full")
		if len(full) != 1 || full[0].Data["keys"] != len(stale)+1 || full[0].Data["stale"] != len(stale) || len(staleFindings(r)) != len(stale) {
			t.Errorf("full audit of a small cache: %v\n%s", full, describe(r))
		}
	})

	t.Run("across a cluster's masters", func(t *testing.T) {
		cluster := sandboxtest.RedisCluster(t, 3)
		ccfg := cfg
		ccfg.Redis = cluster.URL()
		f.setConfig(t, &ccfg)
		rdb, err := f.tg.Cache(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := clinic.WarmCache(ctx, f.db, rdb, &ccfg, clinic.CacheOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, s := range stale {
			must(t, rdb.Set(ctx, s.Key, s.Cached, 0).Err())
		}
		must(t, rdb.Set(ctx, corrupt, "fourteen", 0).Err())
		check(t, f.run(t, "cache", map[string]string{"full": "true"}))
	})
}

func TestStaleBound(t *testing.T) {
	for _, tt := range []struct {
		stale, n int
		lo, hi   float64
	}{
		{0, 1000, 0.0029, 0.0031}, // the rule of three
		{10, 1000, 0.017, 0.019},  // Wilson: 1.0% seen, at most about 1.8%
		{0, 0, 1, 1},
		{5, 5, 0.99, 1},
	} {
		if got := staleBound(tt.stale, tt.n); got < tt.lo || got > tt.hi {
			t.Errorf("staleBound(%d, %d) = %.4f, want %.4f..%.4f", tt.stale, tt.n, got, tt.lo, tt.hi)
		}
	}
}
