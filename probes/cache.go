package probes

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/config"
	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// Cache answers "is the cache healthy, and does it agree with the
// database?" — the runbook's cache-invalidation cause.
//
// Reads: INFO memory, stats, keyspace and server of the cache Redis (of
// every master of a cluster); up to probes.sample_keys keys per pattern of
// profile.cache.patterns by SCAN MATCH with COUNT probes.scan_count on the
// cache db (every master of a cluster), then TYPE and PTTL of each sampled
// key and GET of the sampled shift-count keys (django.cache.shift_count_key);
// one SQL statement recomputing all those counts under the worked-shift
// rule (an index lookup by clinician per key); and, when the Celery broker
// lives in the same Redis, LLEN of the queue, HLEN of unacked and a SCAN
// count of celery-task-meta-* keys.
// Cost: SCAN is incremental and stops at the sample size or after 1000
// calls per node, so a cache of millions of keys costs a bounded number of
// short calls; nothing blocks the server (measured: 60 ms for 1000 sampled
// keys of 48,000, with their counts recomputed over 720,000 shifts). A
// sample can miss a stale key; the summary says when the cache held more
// than was sampled.
// Never: KEYS, FLUSH*, DEL, SET or any other write, or a scan of the whole
// keyspace without a bound.
type Cache struct{}

func init() { Register(Cache{}) }

// ID implements Probe.
func (Cache) ID() string { return "cache" }

// Title implements Probe.
func (Cache) Title() string { return "Cache health and cached figures against the database" }

// Params implements Probe.
func (Cache) Params() []Param {
	return []Param{{Name: "full", Kind: "bool", Help: "audit every cached figure of the profile instead of a sample (SCAN batches with their GETs pipelined, the shifts of each clinician read once)"}}
}

// maxScanCalls bounds the SCAN calls per node and pattern.
const maxScanCalls = 1000

// sampledKey is one key the probe looked at.
type sampledKey struct {
	key   string
	typ   string
	ttl   time.Duration // -1 no expiry, -2 gone
	value string        // shift-count keys only
	// Parsed from a shift-count key.
	isCount   bool
	clinician int64
	from, to  time.Time
	cached    int64
	actual    int64
	state     string // "ok", "stale", "corrupt", "pickled", "gone", "unchecked"
}

// Run implements Probe.
func (c Cache) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, c.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if cfg.Redis == "" {
			return skip("no cache Redis configured (give --redis or REDIS_URL)")
		}
		rdb, err := t.Cache(ctx)
		if err != nil {
			return err
		}
		nodes, err := target.Masters(ctx, rdb)
		if err != nil {
			return fmt.Errorf("list the cluster's masters: %w", err)
		}
		if err := cacheHealth(ctx, r, nodes); err != nil {
			return fmt.Errorf("read INFO: %w", err)
		}
		if full, _ := strconv.ParseBool(p["full"]); full {
			if err := fullAudit(ctx, t, r, rdb, nodes); err != nil {
				return err
			}
			brokerSharing(ctx, t, r)
			return nil
		}
		keys, notes, partial, err := sampleKeys(ctx, cfg, rdb, nodes)
		if err != nil {
			return err
		}
		for _, n := range notes {
			r.add(OK, "cache.sample", n, nil)
		}
		if err := checkCounts(ctx, t, r, keys); err != nil {
			return err
		}
		brokerSharing(ctx, t, r)
		cacheEvidence(r, keys)
		var total int64
		for _, n := range nodes {
			total += n.DBSize(ctx).Val()
		}
		cacheSummary(r, keys, partial, total)
		return nil
	})
}

// cacheHealth reads INFO of every node and reports memory, evictions, hit
// ratio and keys per db.
func cacheHealth(ctx context.Context, r *Result, nodes []redis.UniversalClient) error {
	var h redisHealth
	h.dbKeys = map[string][2]int64{}
	for _, n := range nodes {
		s, err := n.Info(ctx, "memory", "stats", "keyspace").Result()
		if err != nil {
			return err
		}
		h.add(parseInfo(s))
	}
	h.addMemory(r, len(nodes))
	if h.evicted > 0 {
		r.add(Warn, "cache.evictions", fmt.Sprintf("%s evicted since the server started (policy %s): cached figures vanish and are recomputed, which slows the app but does not make them stale", plural.Count(h.evicted, "key", "keys"), h.policy),
			map[string]any{"evicted_keys": h.evicted})
	}
	h.addHitRatio(r)
	h.addKeyspace(r)
	return nil
}

// redisHealth is INFO summed over the nodes.
type redisHealth struct {
	used, limit, evicted, hits, misses int64
	unlimited                          bool
	policy                             string
	dbKeys                             map[string][2]int64 // db → keys, expires
}

// add sums one node's INFO.
func (h *redisHealth) add(info map[string]string) {
	num := func(k string) int64 { v, _ := strconv.ParseInt(info[k], 10, 64); return v }
	h.used += num("used_memory")
	if m := num("maxmemory"); m > 0 {
		h.limit += m
	} else {
		h.unlimited = true
	}
	h.evicted += num("evicted_keys")
	h.hits += num("keyspace_hits")
	h.misses += num("keyspace_misses")
	h.policy = info["maxmemory_policy"]
	for k, v := range info {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		keys, expires := keyspaceCounts(v)
		cur := h.dbKeys[k]
		h.dbKeys[k] = [2]int64{cur[0] + keys, cur[1] + expires}
	}
}

// keyspaceCounts reads keys and expires from a keyspace line ("keys=3,expires=1,...").
func keyspaceCounts(v string) (keys, expires int64) {
	for _, part := range strings.Split(v, ",") {
		name, val, _ := strings.Cut(part, "=")
		x, _ := strconv.ParseInt(val, 10, 64)
		switch name {
		case "keys":
			keys = x
		case "expires":
			expires = x
		}
	}
	return keys, expires
}

// addMemory reports the memory used, against maxmemory where there is one.
func (h *redisHealth) addMemory(r *Result, nodes int) {
	nodesText := ""
	if nodes > 1 {
		nodesText = fmt.Sprintf(" over %d masters", nodes)
	}
	mem := map[string]any{"used_memory": h.used, "maxmemory": h.limit, "policy": h.policy}
	if h.unlimited {
		r.add(OK, "cache.memory", fmt.Sprintf("memory: %s used%s, no maxmemory (nothing is evicted; policy %s)", bytesText(h.used), nodesText, h.policy), mem)
		return
	}
	pct := float64(h.used) / float64(h.limit) * 100
	status := OK
	msg := fmt.Sprintf("memory: %s of %s used (%.0f%%)%s, policy %s", bytesText(h.used), bytesText(h.limit), pct, nodesText, h.policy)
	if pct >= 90 {
		status = Warn
		msg += " — nearly full: keys are being or will be evicted"
	}
	r.add(status, "cache.memory", msg, mem)
}

// addHitRatio reports the share of reads that hit, once there were any.
func (h *redisHealth) addHitRatio(r *Result) {
	lookups := h.hits + h.misses
	if lookups == 0 {
		return
	}
	ratio := float64(h.hits) / float64(lookups)
	status := OK
	msg := fmt.Sprintf("hit ratio %.0f%% (%d hits, %d misses since the server started)", ratio*100, h.hits, h.misses)
	if lookups >= 1000 && ratio < 0.5 {
		status = Warn
		msg += " — low: most reads miss (keys expire too soon, are evicted, or are deleted often)"
	}
	r.add(status, "cache.hit_ratio", msg, map[string]any{"hits": h.hits, "misses": h.misses, "ratio": ratio})
}

// addKeyspace reports the keys per db.
func (h *redisHealth) addKeyspace(r *Result) {
	dbs := make([]string, 0, len(h.dbKeys))
	for k := range h.dbKeys {
		dbs = append(dbs, k)
	}
	sort.Strings(dbs)
	var parts []string
	data := map[string]any{}
	for _, db := range dbs {
		v := h.dbKeys[db]
		parts = append(parts, fmt.Sprintf("%s %s (%d with a TTL)", db, plural.Count(v[0], "key", "keys"), v[1]))
		data[db] = v[0]
	}
	if len(parts) == 0 {
		parts = append(parts, "no keys")
	}
	r.add(OK, "cache.keys", "keyspace: "+strings.Join(parts, ", "), data)
}

// sampleKeys SCANs each pattern on each node up to the sample size, then
// reads TYPE and PTTL of every sampled key and the value of the sampled
// shift-count keys.
func sampleKeys(ctx context.Context, cfg *config.Config, rdb redis.UniversalClient, nodes []redis.UniversalClient) (_ []*sampledKey, _ []string, anyPartial bool, _ error) {
	parseKey, countGlob := cfg.Profile.Cache.WorkedKeyMatcher()
	patterns := samplePatterns(cfg, parseKey != nil, countGlob)
	s := keySampler{nodes: nodes, sample: cfg.Probes.SampleKeys, count: int64(cfg.Probes.ScanCount), seen: map[string]bool{}}
	if s.sample <= 0 {
		s.sample = 1000
	}
	if s.count <= 0 {
		s.count = int64(config.Default().Probes.ScanCount)
	}
	var notes []string
	for _, pat := range patterns {
		got, partial, err := s.scan(ctx, pat)
		if err != nil {
			return nil, nil, false, err
		}
		note := fmt.Sprintf("pattern %s: %s sampled", pat, plural.Count(got, "key", "keys"))
		if partial {
			note += fmt.Sprintf(" (sample limit %d or scan limit reached: the keyspace is larger)", s.sample)
			anyPartial = true
		}
		notes = append(notes, note)
	}
	keys := s.keys
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	if err := readKeyTypes(ctx, rdb, keys, parseKey); err != nil {
		return nil, nil, false, err
	}
	if err := readCountValues(ctx, rdb, keys); err != nil {
		return nil, nil, false, err
	}
	return keys, notes, anyPartial, nil
}

// samplePatterns is the profile's cache patterns, plus the worked-count keys' glob when
// none of them covers those keys.
func samplePatterns(cfg *config.Config, parsesCounts bool, countGlob string) []string {
	patterns := append([]string{}, cfg.Profile.Cache.Patterns...)
	if !parsesCounts {
		return patterns
	}
	example := cfg.Profile.Cache.WorkedKeyOf(7, "2026-01-01", "2026-01-31")
	covered := false
	for _, pat := range patterns {
		covered = covered || target.MatchGlob(pat, example)
	}
	if !covered {
		patterns = append(patterns, countGlob)
	}
	return patterns
}

// keySampler gathers the sampled keys, each once, over the patterns.
type keySampler struct {
	nodes  []redis.UniversalClient
	sample int   // keys per pattern at the most
	count  int64 // SCAN's COUNT
	seen   map[string]bool
	keys   []*sampledKey
}

// scan SCANs one pattern on every node until the sample is full or the scan limit is
// reached (partial), and says how many keys it met.
func (s *keySampler) scan(ctx context.Context, pat string) (got int, partial bool, _ error) {
	for _, n := range s.nodes {
		var cursor uint64
		for calls := 0; ; calls++ {
			if calls == maxScanCalls {
				partial = true
				break
			}
			batch, next, err := n.Scan(ctx, cursor, pat, s.count).Result()
			if err != nil {
				return 0, false, fmt.Errorf("SCAN MATCH %s: %w", pat, err)
			}
			for _, k := range batch {
				if got == s.sample {
					return got, true, nil
				}
				got++
				if !s.seen[k] {
					s.seen[k] = true
					s.keys = append(s.keys, &sampledKey{key: k})
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return got, partial, nil
}

// sampleChunk is how many keys one pipeline reads.
const sampleChunk = 500

// readKeyTypes reads TYPE and PTTL in pipelines (a cluster client routes each to its node)
// and marks the shift-count keys.
func readKeyTypes(ctx context.Context, rdb redis.UniversalClient, keys []*sampledKey, parseKey func(string) (profile.KeyParts, bool)) error {
	for start := 0; start < len(keys); start += sampleChunk {
		part := keys[start:min(start+sampleChunk, len(keys))]
		pipe := rdb.Pipeline()
		types := make([]*redis.StatusCmd, len(part))
		ttls := make([]*redis.DurationCmd, len(part))
		for i, k := range part {
			types[i] = pipe.Type(ctx, k.key)
			ttls[i] = pipe.PTTL(ctx, k.key)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("TYPE/PTTL of sampled keys: %w", err)
		}
		for i, k := range part {
			k.typ = types[i].Val()
			k.ttl = ttls[i].Val()
			if parseKey == nil {
				continue
			}
			if kp, ok := parseKey(k.key); ok {
				k.isCount, k.clinician, k.from, k.to = true, kp.Clinician, kp.From, kp.To
			}
		}
	}
	return nil
}

// readCountValues GETs the sampled shift-count keys in pipelines and sets each one's state.
func readCountValues(ctx context.Context, rdb redis.UniversalClient, keys []*sampledKey) error {
	var counts []*sampledKey
	for _, k := range keys {
		if k.isCount {
			counts = append(counts, k)
		}
	}
	for start := 0; start < len(counts); start += sampleChunk {
		part := counts[start:min(start+sampleChunk, len(counts))]
		pipe := rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(part))
		for i, k := range part {
			if k.typ == "string" {
				gets[i] = pipe.Get(ctx, k.key)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("GET of sampled shift-count keys: %w", err)
		}
		for i, k := range part {
			k.setCountState(gets[i])
		}
	}
	return nil
}

// setCountState says what a shift-count key holds: an integer (unchecked until compared), a
// pickle, something else (corrupt), or nothing (gone); get is nil unless it is a string.
func (k *sampledKey) setCountState(get *redis.StringCmd) {
	switch {
	case k.typ == "none":
		k.state = "gone"
	case k.typ != "string":
		k.state = "corrupt"
		k.value = "(a " + k.typ + ")"
	case get.Err() == redis.Nil:
		k.state = "gone"
	default:
		k.value = get.Val()
		if n, err := strconv.ParseInt(k.value, 10, 64); err == nil {
			k.cached, k.state = n, "unchecked"
		} else if strings.HasPrefix(k.value, "\x80") {
			k.state = "pickled"
		} else {
			k.state = "corrupt"
		}
	}
}

// checkCounts recomputes every sampled shift count in one statement and
// marks each key ok or stale.
func checkCounts(ctx context.Context, t *target.Target, r *Result, keys []*sampledKey) error {
	var todo []*sampledKey
	for _, k := range keys {
		if k.state == "unchecked" {
			todo = append(todo, k)
		}
	}
	for _, k := range keys {
		if k.state == "corrupt" {
			r.add(Fail, "cache.corrupt", fmt.Sprintf("%s holds %s, neither an integer nor a pickle: cache.get raises in the application for this key", k.key, quoteValue(k.value)),
				map[string]any{"key": k.key, "value": k.value})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	cfg := t.Config()
	sh := cfg.Profile.Shift
	if cfg.DB == "" || sh.Table == "" {
		r.add(Warn, "cache.unchecked", fmt.Sprintf("%s sampled but not compared: no database configured (give --db)", plural.Count(len(todo), "shift-count key", "shift-count keys")), nil)
		return nil
	}
	var gaps []profileGap
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if gaps, err = profileGaps(ctx, tx, &cfg.Profile, profile.RoleShift); err != nil || len(gaps) > 0 {
			return err
		}
		return recountKeys(ctx, tx, sh, todo)
	})
	if err != nil {
		return err
	}
	if len(gaps) > 0 {
		r.add(Warn, "cache.unchecked", fmt.Sprintf("%s sampled but not compared: the profile and the live tables disagree: %s; %s",
			plural.Count(len(todo), "worked-count key", "worked-count keys"), joinGaps(gaps), gapAdvice), nil)
		return nil
	}
	addStaleKeys(r, sh, todo)
	return nil
}

// recountKeys counts the worked shifts behind each key in one statement and marks the key
// ok or stale.
func recountKeys(ctx context.Context, tx pgx.Tx, sh profile.Shift, todo []*sampledKey) error {
	ids := make([]int64, len(todo))
	froms := make([]time.Time, len(todo))
	tos := make([]time.Time, len(todo))
	for i, k := range todo {
		ids[i], froms[i], tos[i] = k.clinician, k.from, k.to
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`
SELECT k.i, (SELECT count(*) FROM %s s WHERE %s = k.c AND %s BETWEEN k.f AND k.t AND %s)
FROM unnest($1::int8[], $2::date[], $3::date[]) WITH ORDINALITY AS k(c, f, t, i)`,
		profile.Ident(sh.Table), profile.Col("s", sh.Clinician), profile.Col("s", sh.Date), sh.WorkedSQL("s")), ids, froms, tos)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i, n int64
		if err := rows.Scan(&i, &n); err != nil {
			return err
		}
		k := todo[i-1]
		k.actual = n
		if k.cached == n {
			k.state = "ok"
		} else {
			k.state = "stale"
		}
	}
	return rows.Err()
}

// addStaleKeys reports the compared keys: all fresh, or each stale one and its scope.
func addStaleKeys(r *Result, sh profile.Shift, todo []*sampledKey) {
	var stale []*sampledKey
	for _, k := range todo {
		if k.state == "stale" {
			stale = append(stale, k)
			r.Affected = append(r.Affected, Scope{Clinician: k.clinician, From: dateOnly(k.from), To: dateOnly(k.to)})
		}
	}
	if len(stale) == 0 {
		r.add(OK, "cache.fresh", fmt.Sprintf("%s %s with the database (worked shifts recomputed by steady's reading of the rule: %s)", plural.All(len(todo), "sampled shift count", "sampled shift counts"), plural.Word(len(todo), "agrees", "agree"), sh.RuleText()),
			map[string]any{"compared": len(todo)})
		return
	}
	r.add(Fail, "cache.stale", fmt.Sprintf("%d of %s are stale: the cache disagrees with the database", len(stale), plural.Count(len(todo), "sampled shift count", "sampled shift counts")),
		map[string]any{"stale": len(stale), "compared": len(todo)})
	for i, k := range stale {
		if i == maxFindings {
			r.add(Fail, "cache.stale_key", fmt.Sprintf("… and %d more stale keys (see the evidence)", len(stale)-maxFindings), nil)
			break
		}
		r.add(Fail, "cache.stale_key", fmt.Sprintf("%s: cache says %d, database says %d (clinician %d, %s..%s)", k.key, k.cached, k.actual, k.clinician, dateOnly(k.from), dateOnly(k.to)),
			map[string]any{"key": k.key, "clinician": k.clinician, "from": dateOnly(k.from), "to": dateOnly(k.to), "cached": k.cached, "actual": k.actual})
	}
}

// brokerSharing warns when the Celery broker lives in the cache's Redis: a
// FLUSHALL (the built-in runbook's manual way of clearing the cache) drops queued
// tasks and results too.
func brokerSharing(ctx context.Context, t *target.Target, r *Result) {
	cfg := t.Config()
	if cfg.Broker == "" || !target.SameRedisInstance(cfg.Redis, cfg.Broker) {
		return
	}
	cacheDB, brokerDB := target.RedisDB(cfg.Redis), target.RedisDB(cfg.Broker)
	where := fmt.Sprintf("cache db %d, broker db %d", cacheDB, brokerDB)
	broker, err := t.Broker(ctx)
	if err != nil {
		_, why := classify(err, t)
		r.add(Warn, "cache.broker_shared", fmt.Sprintf("the Celery broker shares this Redis instance (%s) but could not be read: %s", where, why), nil)
		return
	}
	queue := cfg.Profile.Celery.QueueOf()
	queued := broker.LLen(ctx, queue).Val()
	unacked := broker.HLen(ctx, "unacked").Val()
	results := int64(-1)
	if res, err := t.Results(ctx); err == nil {
		results = countKeys(ctx, res, "celery-task-meta-*")
	}
	msg := fmt.Sprintf("the Celery broker shares this Redis instance (%s): queue %s holds %s, %d unacked", where, queue, plural.Count(queued, "task", "tasks"), unacked)
	if results >= 0 {
		msg += fmt.Sprintf(", %d results", results)
	}
	msg += "; FLUSHALL would drop them (the flush-cache action deletes only the cache's keys)"
	if cacheDB == brokerDB {
		msg += "; they share the db, so even cache.clear() (FLUSHDB) drops them"
	}
	r.add(Warn, "cache.broker_shared", msg, map[string]any{"queue": queue, "queued": queued, "unacked": unacked, "results": results, "same_db": cacheDB == brokerDB})
}

// countKeys counts keys matching pattern by SCAN on every master, bounded
// by maxScanCalls per node (a bound reached makes the count a lower bound).
func countKeys(ctx context.Context, c redis.UniversalClient, pattern string) int64 {
	nodes, err := target.Masters(ctx, c)
	if err != nil {
		return -1
	}
	var n int64
	for _, node := range nodes {
		var cursor uint64
		for calls := 0; calls < maxScanCalls; calls++ {
			batch, next, err := node.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return -1
			}
			n += int64(len(batch))
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return n
}

// cacheEvidence lists the sampled keys, problems first.
func cacheEvidence(r *Result, keys []*sampledKey) {
	r.Evidence = Table{Title: "sampled keys", Columns: []string{"key", "type", "ttl", "cached", "database", "state"}}
	rank := map[string]int{"corrupt": 0, "stale": 1, "gone": 2, "ok": 3, "pickled": 4, "unchecked": 5, "": 6}
	sorted := append([]*sampledKey{}, keys...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank[sorted[i].state] < rank[sorted[j].state] })
	for _, k := range sorted {
		cached, actual := "", ""
		switch k.state {
		case "ok", "stale":
			cached, actual = fmt.Sprint(k.cached), fmt.Sprint(k.actual)
		case "corrupt":
			cached = quoteValue(k.value)
		case "pickled":
			cached = "(pickle)"
		}
		r.Evidence.Rows = append(r.Evidence.Rows, []string{k.key, k.typ, ttlText(k.ttl), cached, actual, k.state})
	}
	r.Evidence.limit(maxRows)
}

func cacheSummary(r *Result, keys []*sampledKey, partial bool, total int64) {
	var stale, corrupt, compared int
	for _, k := range keys {
		switch k.state {
		case "stale":
			stale++
			compared++
		case "ok":
			compared++
		case "corrupt":
			corrupt++
		}
	}
	var parts []string
	if stale > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d sampled shift counts stale", stale, compared))
	}
	if corrupt > 0 {
		parts = append(parts, plural.Count(corrupt, "unreadable value", "unreadable values"))
	}
	short := map[string]string{
		"cache.memory":        "memory nearly full",
		"cache.evictions":     "keys evicted",
		"cache.hit_ratio":     "low hit ratio",
		"cache.broker_shared": "the Celery broker shares this Redis",
		"cache.unchecked":     "counts not compared (no database)",
	}
	for _, f := range r.Findings {
		if f.Status == Warn && short[f.Code] != "" {
			parts = append(parts, short[f.Code])
		}
	}
	if len(parts) == 0 {
		r.Summary = fmt.Sprintf("cache healthy: %s sampled, %s agree with the database", plural.Count(len(keys), "key", "keys"), plural.Count(compared, "shift count", "shift counts"))
	} else {
		r.Summary = strings.Join(parts, "; ")
	}
	if partial {
		// A sample cannot clear the whole cache; say so where the verdict
		// is read, with what it does bound.
		r.Summary += fmt.Sprintf(" (a sample of %d of %d keys", len(keys), total)
		if compared > 0 {
			r.Summary += fmt.Sprintf(": at most %s of the cached counts are stale, with 95%% confidence", percent(staleBound(stale, compared)))
		}
		r.Summary += "; steady check --full compares every one)"
	}
}

func ttlText(d time.Duration) string {
	switch {
	case d == -1 || d == -1*time.Nanosecond:
		return "none"
	case d < 0:
		return "gone"
	}
	return d.Round(time.Second).String()
}

func quoteValue(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// staleBound is the upper end of the 95% confidence interval of the stale
// fraction of a cache of which stale of n sampled counts were stale: the
// rule of three when none was, else Wilson's score interval.
func staleBound(stale, n int) float64 {
	if n == 0 {
		return 1
	}
	if stale == 0 {
		return min(3/float64(n), 1)
	}
	const z = 1.96
	p, nf := float64(stale)/float64(n), float64(n)
	centre := p + z*z/(2*nf)
	margin := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	return min((centre+margin)/(1+z*z/nf), 1)
}

// percent writes a fraction as a percentage with what precision it needs.
func percent(f float64) string {
	switch {
	case f >= 0.1:
		return fmt.Sprintf("%.0f%%", f*100)
	case f >= 0.01:
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return fmt.Sprintf("%.2f%%", f*100)
}
