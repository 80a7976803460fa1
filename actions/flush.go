package actions

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"steady/internal/celery"
	"steady/internal/config"
	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
)

// flushCache deletes the Django cache and nothing else by default:
// FLUSHDB of the cache db when neither the Celery broker nor the result
// backend lives in that db, else UNLINK of the configured key patterns
// (profile.cache.patterns), found by SCAN and deleted in small batches, one
// command at a time, so Redis is never blocked for long. The preview gives
// the exact number of keys.
//
// FLUSHALL, the built-in runbook's manual command (Resolution Steps,
// cache issues, step 1), runs only when asked for
// (mode=flushall). When it, or any mode, would also delete Celery's
// queued tasks, unacked tasks or results, the plan says how many and the
// confirm phrase becomes the acceptance of that loss ("drop 12 queued
// tasks"). Execute counts again and refuses if more would be lost than
// was accepted.
type flushCache struct{}

func init() { Register(flushCache{}) }

// ID implements Action.
func (flushCache) ID() string { return "flush-cache" }

// Title implements Action.
func (flushCache) Title() string { return "Flush the Django cache" }

// Params implements Action.
func (flushCache) Params() []probes.Param {
	return []probes.Param{{Name: "mode", Kind: "string", Default: flushAuto,
		Help: "auto (FLUSHDB when the cache db holds nothing of Celery's, else UNLINK by pattern), flushdb, unlink, or flushall (every db of the instance)"}}
}

// Flush modes.
const (
	flushAuto   = "auto"
	flushDB     = "flushdb"
	flushUnlink = "unlink"
	flushAll    = "flushall"
)

// unlinkBatch keys go into one UNLINK. Such a batch takes Redis well under
// a millisecond (UNLINK frees memory in the background), and with one
// command in flight the application's own commands run between batches.
// A pause between batches bought nothing more and made a large flush slow:
// 14.7 s for a million keys with 5 ms pauses, against 6.4 s for
// `redis-cli --scan | xargs redis-cli unlink` (BENCHMARKS.md).
const unlinkBatch = 500

// Facts of a flush plan, shown to the operator; a plan journaled before
// payloads carries what Execute needs in them too (see flushPayloadOf).
const (
	factFlushMode  = "mode"
	factPatterns   = "patterns"
	factKeys       = "keys"
	factLoseQueued = "lose_queued"
	factLoseUnack  = "lose_unacked"
	factLoseResult = "lose_results"
)

// flushPayload is what Execute reads back of a flush plan.
type flushPayload struct {
	// Mode is the flush mode decided, never auto.
	Mode     string   `json:"mode"`
	Patterns []string `json:"patterns,omitempty"`
	// Keys is how many keys the plan counted, for the progress of UNLINK.
	Keys int64 `json:"keys"`
	// Accepted is what of Celery's the operator accepted to lose.
	Accepted acceptedLoss `json:"accepted_loss"`
}

// acceptedLoss is the Celery loss a confirmed flush plan accepted.
type acceptedLoss struct {
	Queued  int64 `json:"queued"`
	Unacked int64 `json:"unacked"`
	Results int64 `json:"results"`
}

// flushPayloadOf reads a flush plan's payload, or, for a plan journaled
// before payloads, its facts.
func flushPayloadOf(plan *Plan) (flushPayload, error) {
	return payloadOr(plan, func(f map[string]string) flushPayload {
		pl := flushPayload{Mode: f[factFlushMode], Keys: factInt(f, factKeys),
			Accepted: acceptedLoss{Queued: factInt(f, factLoseQueued), Unacked: factInt(f, factLoseUnack), Results: factInt(f, factLoseResult)}}
		if p := f[factPatterns]; p != "" {
			pl.Patterns = strings.Split(p, "\n")
		}
		return pl
	})
}

// Plan implements Action: decide the mode, count the keys it deletes, then
// what of Celery's goes with them.
func (f flushCache) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	if cfg.Redis == "" {
		return nil, &NotConfiguredError{Action: f.ID(), Key: "redis", Why: "the cache to flush is this Redis (with its db number)", Example: "  --redis redis://cache:6379/1 (or REDIS_URL)"}
	}
	mode, err := flushModeOf(params)
	if err != nil {
		return nil, err
	}
	rdb, err := t.Cache(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := target.Masters(ctx, rdb)
	if err != nil {
		return nil, fmt.Errorf("list the cluster's masters: %w", err)
	}
	fp := &flushPlanning{cfg: cfg, nodes: nodes, share: cacheSharing(cfg), patterns: cfg.Profile.Cache.KeyPatterns(),
		where: dbWhere(cfg.Redis), count: scanCount(cfg.Probes.ScanCount)}
	fp.plan = &Plan{
		Action: f.ID(), Title: f.Title(), Risk: High, Destructive: true, ConfirmPhrase: t.RedisName(),
		Created: time.Now().UTC(), Params: copyParams(params), Recheck: []string{"cache"},
		Facts: map[string]string{},
	}
	fp.mode = fp.resolve(mode)
	if fp.mode == flushUnlink && len(fp.patterns) == 0 {
		return nil, &NotConfiguredError{Action: f.ID(), Key: "profile.cache.patterns", Why: "UNLINK by pattern needs the cache's key patterns (`steady init` learns them from the application's key function)",
			Example: "  profile:\n    cache:\n      patterns: [\"app:1:figures:*\"]"}
	}
	if err := fp.countPatterns(ctx); err != nil {
		return nil, err
	}
	if err := fp.addSteps(ctx); err != nil {
		return nil, err
	}
	loss, err := celeryLossOf(ctx, t, fp.mode, fp.patterns, fp.share)
	if err != nil {
		return nil, fmt.Errorf("count what Celery would lose: %w", err)
	}
	fp.addLoss(loss)
	if err := fp.plan.setPayload(fp.payload(loss)); err != nil {
		return nil, err
	}
	return fp.plan, nil
}

// flushModeOf is the mode asked for, auto when none is.
func flushModeOf(params map[string]string) (string, error) {
	mode := params["mode"]
	if mode == "" {
		mode = flushAuto
	}
	switch mode {
	case flushAuto, flushDB, flushUnlink, flushAll:
		return mode, nil
	}
	return "", fmt.Errorf("mode %q is not auto, flushdb, unlink or flushall", mode)
}

// flushPlanning is a flush plan in the making.
type flushPlanning struct {
	plan       *Plan
	cfg        *config.Config
	nodes      []redis.UniversalClient
	share      sharing
	mode       string
	patterns   []string
	where      string // the cache db, as messages name it
	count      int64  // SCAN's COUNT
	perPattern map[string]int64
	matched    int64 // keys matching any pattern
	keys       int64 // keys the flush deletes
}

// resolve decides what auto means here: FLUSHDB unless Celery may live in
// the cache's db, then UNLINK by pattern; the other modes stand.
func (fp *flushPlanning) resolve(mode string) string {
	if mode != flushAuto {
		return mode
	}
	switch {
	case !fp.share.brokerKnown:
		fp.plan.Warnings = append(fp.plan.Warnings, "the Celery broker is not configured (--broker): steady cannot tell whether it shares the cache's db, so only the cache's key patterns are deleted")
		return flushUnlink
	case fp.share.brokerDB || fp.share.resultsDB:
		fp.plan.Warnings = append(fp.plan.Warnings, "the Celery broker or result backend lives in the cache's db: FLUSHDB would drop them, so only the cache's key patterns are deleted")
		return flushUnlink
	}
	return flushDB
}

// countPatterns counts the keys of each pattern exactly: a full SCAN per
// pattern, never KEYS.
func (fp *flushPlanning) countPatterns(ctx context.Context) error {
	fp.plan.Facts[factFlushMode] = fp.mode
	fp.plan.Facts[factPatterns] = strings.Join(fp.patterns, "\n")
	fp.perPattern = map[string]int64{}
	for _, p := range fp.patterns {
		n, err := countKeys(ctx, fp.nodes, p, fp.count)
		if err != nil {
			return fmt.Errorf("count keys matching %s: %w", p, err)
		}
		fp.perPattern[p] = n
		fp.matched += n
	}
	for _, p := range fp.patterns {
		fp.plan.Facts["keys "+p] = strconv.FormatInt(fp.perPattern[p], 10)
	}
	return nil
}

// addSteps writes the mode's steps and summary, then the cache probe to run again.
func (fp *flushPlanning) addSteps(ctx context.Context) error {
	var err error
	switch fp.mode {
	case flushUnlink:
		fp.unlinkSteps()
	case flushDB:
		err = fp.flushDBSteps(ctx)
	case flushAll:
		err = fp.flushAllSteps(ctx)
	}
	if err != nil {
		return err
	}
	fp.plan.Facts[factKeys] = strconv.FormatInt(fp.keys, 10)
	fp.plan.Steps = append(fp.plan.Steps, Step{Kind: StepProbe, Text: "cache", Note: "re-run afterwards"})
	return nil
}

// unlinkSteps is one SCAN and UNLINK per pattern.
func (fp *flushPlanning) unlinkSteps() {
	plan := fp.plan
	for _, p := range fp.patterns {
		plan.Steps = append(plan.Steps, Step{Kind: StepRedis, Text: unlinkText(p, fp.count),
			Note: fmt.Sprintf("%s now in %s; one batch at a time", plural.Count(fp.perPattern[p], "key matches", "keys match"), fp.where)})
	}
	fp.keys = fp.matched
	plan.Summary = fmt.Sprintf("UNLINK %s matching %s in %s, in batches of %d", plural.Count(fp.matched, "key", "keys"), strings.Join(fp.patterns, ", "), fp.where, unlinkBatch)
}

// flushDBSteps is FLUSHDB of the cache's db, saying how many keys lie
// outside the cache's patterns.
func (fp *flushPlanning) flushDBSteps(ctx context.Context) error {
	size, err := dbSize(ctx, fp.nodes)
	if err != nil {
		return fmt.Errorf("DBSIZE: %w", err)
	}
	fp.keys = size
	note := fmt.Sprintf("%s: %s", fp.where, plural.Count(size, "key", "keys"))
	if other := size - fp.matched; other > 0 && len(fp.patterns) > 0 {
		note += fmt.Sprintf(", of which %d outside the cache patterns (%s)", other, strings.Join(fp.patterns, ", "))
	}
	fp.plan.Steps = []Step{{Kind: StepRedis, Text: "FLUSHDB ASYNC", Note: note + "; ASYNC frees the memory in the background"}}
	fp.plan.Summary = fmt.Sprintf("FLUSHDB of %s (%s): Django's cache.clear()", fp.where, plural.Count(size, "key", "keys"))
	return nil
}

// flushAllSteps is FLUSHALL of the instance, warning of every other db it
// empties.
func (fp *flushPlanning) flushAllSteps(ctx context.Context) error {
	dbs, err := keyspace(ctx, fp.nodes)
	if err != nil {
		return fmt.Errorf("INFO keyspace: %w", err)
	}
	var total int64
	var parts []string
	for _, db := range sortedKeys(dbs) {
		total += dbs[db]
		parts = append(parts, fmt.Sprintf("db%d %d", db, dbs[db]))
	}
	fp.keys = total
	plan, redisURL := fp.plan, fp.cfg.Redis
	inst := instanceName(redisURL)
	plan.Steps = []Step{{Kind: StepRedis, Text: "FLUSHALL ASYNC", Note: fmt.Sprintf("every database of %s: %s", inst, orNone(strings.Join(parts, ", ")))}}
	plan.Summary = fmt.Sprintf("FLUSHALL of %s: %s in every db, not only the cache's", inst, plural.Count(total, "key", "keys"))
	if others := len(dbs) - btoi(dbs[target.RedisDB(redisURL)] > 0); others > 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("FLUSHALL empties every database of %s (%s), not only the cache's db %d", inst, strings.Join(parts, ", "), target.RedisDB(redisURL)))
	}
	if !fp.share.brokerKnown {
		plan.Warnings = append(plan.Warnings, "the Celery broker is not configured (--broker): steady cannot tell whether FLUSHALL drops queued tasks")
	}
	return nil
}

// addLoss records what of Celery's the flush drops; a loss makes its
// acceptance the confirm phrase.
func (fp *flushPlanning) addLoss(loss celeryLoss) {
	plan := fp.plan
	plan.Facts[factLoseQueued] = strconv.FormatInt(loss.queued, 10)
	plan.Facts[factLoseUnack] = strconv.FormatInt(loss.unacked, 10)
	plan.Facts[factLoseResult] = strconv.FormatInt(loss.results, 10)
	plan.rests("mode", fp.mode)
	plan.rests("patterns", strings.Join(fp.patterns, " "))
	plan.rests("Celery would lose", orNone(loss.describe()))
	plan.Warnings = append(plan.Warnings, loss.warnings(fp.cfg.Profile.Celery.QueueOf())...)
	if loss.total() > 0 {
		plan.ConfirmPhrase = loss.acceptance()
		plan.Summary += "; Celery loses " + loss.describe()
	} else if loss.exposed {
		plan.Warnings = append(plan.Warnings, "the Celery broker shares what is flushed: nothing of Celery's is there now, but a task enqueued before the flush runs would be lost (Execute counts again and refuses if so)")
	}
}

// payload is what Execute needs of the plan.
func (fp *flushPlanning) payload(loss celeryLoss) flushPayload {
	return flushPayload{Mode: fp.mode, Patterns: fp.patterns, Keys: fp.keys,
		Accepted: acceptedLoss{Queued: loss.queued, Unacked: loss.unacked, Results: loss.results}}
}

// Execute implements Action.
func (f flushCache) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	t := env.Target
	cfg := t.Config()
	fail := func(summary string, err error) Outcome {
		o := Outcome{Status: Failed, ExitCode: -1, Summary: summary, Duration: time.Since(started)}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	pl, err := flushPayloadOf(plan)
	if err != nil {
		return fail("cannot read the plan; nothing was deleted: plan again", err)
	}
	mode, patterns := pl.Mode, pl.Patterns
	rdb, err := t.Cache(ctx)
	if err != nil {
		return fail("cannot reach the cache Redis", err)
	}
	nodes, err := target.Masters(ctx, rdb)
	if err != nil {
		return fail("cannot list the cluster's masters", err)
	}
	// Never trust a stale plan about what Celery loses: count again.
	loss, err := celeryLossOf(ctx, t, mode, patterns, cacheSharing(cfg))
	if err != nil {
		return fail("cannot count what Celery would lose; nothing was deleted", err)
	}
	accepted := celeryLoss{queued: pl.Accepted.Queued, unacked: pl.Accepted.Unacked, results: pl.Accepted.Results}
	if loss.queued > accepted.queued || loss.unacked > accepted.unacked || loss.results > accepted.results {
		return Outcome{Status: Refused, ExitCode: -1, Duration: time.Since(started),
			Summary: fmt.Sprintf("refused: the flush would now drop %s, more than the plan accepted (%s); nothing was deleted: plan again", loss.describe(), orNone(accepted.describe()))}
	}
	where := dbWhere(cfg.Redis)
	switch mode {
	case flushDB, flushAll:
		cmd := "FLUSHDB ASYNC"
		if mode == flushAll {
			cmd = "FLUSHALL ASYNC"
		}
		before, _ := dbSize(ctx, nodes)
		say(env, out, "%s on %s (%d keys in the cache db now)", cmd, instanceName(cfg.Redis), before)
		for _, n := range nodes {
			var err error
			if mode == flushAll {
				err = n.FlushAllAsync(ctx).Err()
			} else {
				err = n.FlushDBAsync(ctx).Err()
			}
			if err != nil {
				return fail(cmd+" failed", err)
			}
		}
		return Outcome{Status: Succeeded, Duration: time.Since(started),
			Summary:   fmt.Sprintf("%s done: %s dropped from %s", cmd, plural.Count(before, "key", "keys"), map[bool]string{true: instanceName(cfg.Redis), false: where}[mode == flushAll]),
			Artefacts: map[string]string{"mode": mode, "keys_before": strconv.FormatInt(before, 10)}}
	case flushUnlink:
		deleted, batches, err := unlinkPatterns(ctx, env, out, nodes, patterns, scanCount(cfg.Probes.ScanCount), pl.Keys)
		art := map[string]string{"mode": mode, "deleted": strconv.FormatInt(deleted, 10), "batches": strconv.Itoa(batches)}
		switch {
		case ctx.Err() != nil:
			return Outcome{Status: Cancelled, ExitCode: -1, Duration: time.Since(started), Artefacts: art,
				Summary: fmt.Sprintf("cancelled after deleting %s; the rest of the matching keys remain", plural.Count(deleted, "key", "keys"))}
		case err != nil:
			o := fail(fmt.Sprintf("UNLINK stopped after %s", plural.Count(deleted, "key", "keys")), err)
			o.Artefacts = art
			return o
		}
		return Outcome{Status: Succeeded, Duration: time.Since(started), Artefacts: art,
			Summary: fmt.Sprintf("deleted %s matching %s from %s in %d batches", plural.Count(deleted, "key", "keys"), strings.Join(patterns, ", "), where, batches)}
	}
	return fail("the plan has an unknown flush mode "+strconv.Quote(mode)+": plan again", nil)
}

// unlinkPatterns SCANs each pattern on each node and UNLINKs what it finds
// in batches, one at a time, reporting progress against total.
func unlinkPatterns(ctx context.Context, env *Env, out Output, nodes []redis.UniversalClient, patterns []string, count int64, total int64) (int64, int, error) {
	var deleted int64
	batches := 0
	cluster := target.IsCluster(env.Target.Config().Redis)
	for _, pat := range patterns {
		say(env, out, "%s", unlinkText(pat, count))
		for _, node := range nodes {
			var cursor uint64
			for {
				keys, next, err := node.Scan(ctx, cursor, pat, count).Result()
				if err != nil {
					return deleted, batches, fmt.Errorf("SCAN MATCH %s: %w", pat, err)
				}
				for len(keys) > 0 {
					batch := keys[:min(unlinkBatch, len(keys))]
					keys = keys[len(batch):]
					n, err := unlink(ctx, node, batch, cluster)
					if err != nil {
						return deleted, batches, fmt.Errorf("UNLINK: %w", err)
					}
					deleted += n
					batches++
					out.Progress(int(deleted), int(max(total, deleted)), "keys")
					if err := ctx.Err(); err != nil {
						return deleted, batches, err
					}
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
		}
		say(env, out, "%s done: %s deleted so far", pat, plural.Count(deleted, "key", "keys"))
	}
	out.Progress(int(deleted), int(deleted), "keys")
	return deleted, batches, nil
}

// unlink deletes keys found on one node. A cluster node refuses a
// multi-key command across hash slots, so there each key is its own
// UNLINK, pipelined.
func unlink(ctx context.Context, node redis.UniversalClient, keys []string, cluster bool) (int64, error) {
	if !cluster {
		return node.Unlink(ctx, keys...).Result()
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

func unlinkText(pattern string, count int64) string {
	return fmt.Sprintf("SCAN <cursor> MATCH %s COUNT %d, then UNLINK the keys found, %d at a time", pattern, count, unlinkBatch)
}

// sharing says which of Celery's stores live with the cache.
type sharing struct {
	// brokerKnown is false when no broker is configured: nothing can be said.
	brokerKnown bool
	// ...Instance: on the same Redis server; ...DB: in the cache's very db.
	brokerInstance, brokerDB   bool
	resultsInstance, resultsDB bool
}

// cacheSharing compares the cache's URL with the broker's and the result
// backend's. A cluster has only db 0, so the same cluster is the same db.
func cacheSharing(cfg *config.Config) sharing {
	sameDB := func(other string) bool {
		return target.SameRedisInstance(cfg.Redis, other) && (target.IsCluster(cfg.Redis) || target.RedisDB(cfg.Redis) == target.RedisDB(other))
	}
	results := cfg.ResultsURL()
	return sharing{
		brokerKnown:     cfg.Broker != "",
		brokerInstance:  target.SameRedisInstance(cfg.Redis, cfg.Broker),
		brokerDB:        sameDB(cfg.Broker),
		resultsInstance: target.SameRedisInstance(cfg.Redis, results),
		resultsDB:       sameDB(results),
	}
}

// celeryLossOf counts what of Celery's a flush in mode would delete: the
// queue and the unacked tasks when the broker is in what is flushed, the
// results when the result backend is. In unlink mode only what the
// patterns match is deleted.
func celeryLossOf(ctx context.Context, t *target.Target, mode string, patterns []string, share sharing) (celeryLoss, error) {
	queue := t.Config().Profile.Celery.QueueOf()
	queued, unacked, results := flushedStores(mode, patterns, share, queue)
	var l celeryLoss
	l.exposed = queued || unacked || results
	if queued || unacked {
		c, err := t.Broker(ctx)
		if err != nil {
			return l, err
		}
		if queued {
			if l.queued, err = celery.QueueLength(ctx, c, queue); err != nil {
				return l, err
			}
		}
		if unacked {
			if l.unacked, err = c.HLen(ctx, celery.UnackedKey).Result(); err != nil {
				return l, fmt.Errorf("HLEN %s: %w", celery.UnackedKey, err)
			}
		}
	}
	if results {
		c, err := t.Results(ctx)
		if err != nil {
			return l, err
		}
		if l.results, err = celery.ResultCount(ctx, c); err != nil {
			return l, err
		}
	}
	return l, nil
}

// flushedStores says which of Celery's stores a flush in mode deletes:
// the queue and the unacked tasks go with the broker, the results with the
// result backend; in unlink mode only what the patterns match goes.
func flushedStores(mode string, patterns []string, share sharing, queue string) (queued, unacked, results bool) {
	matches := func(keys ...string) bool {
		for _, p := range patterns {
			for _, k := range keys {
				if target.MatchGlob(p, k) {
					return true
				}
			}
		}
		return false
	}
	switch mode {
	case flushAll:
		return share.brokerInstance, share.brokerInstance, share.resultsInstance
	case flushDB:
		return share.brokerDB, share.brokerDB, share.resultsDB
	case flushUnlink:
		// A pattern as wide as "*" in a shared db takes Celery's keys too.
		queued = share.brokerDB && matches(queue, queue+"\x06\x163")
		unacked = share.brokerDB && matches(celery.UnackedKey, celery.UnackedIndexKey)
		results = share.resultsDB && matches(celery.ResultKeyPrefix+"00000000-0000-0000-0000-000000000000")
	}
	return queued, unacked, results
}

// celeryLoss is what of Celery's a flush would delete.
type celeryLoss struct {
	queued, unacked, results int64
	// exposed: some Celery store is in what is flushed, even if empty now.
	exposed bool
}

func (l celeryLoss) total() int64 { return l.queued + l.unacked + l.results }

func (l celeryLoss) parts() []string {
	var parts []string
	if l.queued > 0 {
		parts = append(parts, plural.Count(l.queued, "queued task", "queued tasks"))
	}
	if l.unacked > 0 {
		parts = append(parts, plural.Count(l.unacked, "unacked task", "unacked tasks"))
	}
	if l.results > 0 {
		parts = append(parts, plural.Count(l.results, "task result", "task results"))
	}
	return parts
}

func (l celeryLoss) describe() string { return plural.List(l.parts()) }

// acceptance is the sentence an operator types to accept the loss.
func (l celeryLoss) acceptance() string { return "drop " + l.describe() }

func (l celeryLoss) warnings(queue string) []string {
	var out []string
	if l.queued > 0 {
		out = append(out, fmt.Sprintf("%s waiting in the Celery queue %s would be lost: they would never run", plural.Count(l.queued, "queued task", "queued tasks"), queue))
	}
	if l.unacked > 0 {
		out = append(out, fmt.Sprintf("%s held by workers (unacked) would be lost: if a worker dies they could not be restored", plural.Count(l.unacked, "unacked task", "unacked tasks")))
	}
	if l.results > 0 {
		out = append(out, fmt.Sprintf("%s would be lost: callers waiting on them would see PENDING forever", plural.Count(l.results, "task result", "task results")))
	}
	return out
}

// factInt reads a fact that is a number; 0 when it is not.
func factInt(facts map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(facts[key], 10, 64)
	return n
}

// scanCount is the COUNT hint of SCAN calls.
func scanCount(n int) int64 {
	if n <= 0 {
		return int64(config.Default().Probes.ScanCount)
	}
	return int64(n)
}

// dataNodes returns the clients holding data: the client itself for a
// countKeys counts the keys matching pattern with a full SCAN of each node.
func countKeys(ctx context.Context, nodes []redis.UniversalClient, pattern string, count int64) (int64, error) {
	var n int64
	for _, node := range nodes {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				return 0, err
			}
			n += int64(len(keys))
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return n, nil
}

func dbSize(ctx context.Context, nodes []redis.UniversalClient) (int64, error) {
	var n int64
	for _, node := range nodes {
		m, err := node.DBSize(ctx).Result()
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

// keyspace returns the keys per db number from INFO keyspace.
func keyspace(ctx context.Context, nodes []redis.UniversalClient) (map[int]int64, error) {
	out := map[int]int64{}
	for _, node := range nodes {
		info, err := node.Info(ctx, "keyspace").Result()
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(info, "\n") {
			line = strings.TrimSpace(line)
			name, rest, ok := strings.Cut(line, ":")
			if !ok || !strings.HasPrefix(name, "db") {
				continue
			}
			db, err := strconv.Atoi(strings.TrimPrefix(name, "db"))
			if err != nil {
				continue
			}
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "keys="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					out[db] += n
				}
			}
		}
	}
	return out, nil
}

func sortedKeys(m map[int]int64) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// instanceName is a Redis URL's address without password or db.
func instanceName(raw string) string {
	o, err := target.RedisOptions(raw)
	if err != nil || len(o.Addrs) == 0 {
		return "the Redis"
	}
	if o.IsClusterMode {
		return "the cluster at " + strings.Join(o.Addrs, ",")
	}
	return o.Addrs[0]
}

// dbWhere names the cache's db for previews: "db 1 of 127.0.0.1:6379".
func dbWhere(raw string) string {
	if target.IsCluster(raw) {
		return "every master of " + instanceName(raw)
	}
	return fmt.Sprintf("db %d of %s", target.RedisDB(raw), instanceName(raw))
}
