package clinic

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"steady/internal/config"
)

// CacheOptions tunes WarmCache.
type CacheOptions struct {
	// TTL of every key written (default 24h, long enough that no test
	// sees a key expire).
	TTL time.Duration
}

// pickles are values as django-redis stores anything but an int: pickle
// protocol 4, starting with \x80\x04. They are here so that a cache holds
// more than the probe's keys, as a real one does.
var pickles = map[string]string{
	"clinician_directory":                      "\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02K\x03e.",
	"feature_flags":                            "\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x06new_ui\x94\x88s.",
	"views.decorators.cache.cache_header.rota": "\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00\x8c\x02ok\x94.",
}

// WarmCache writes what the application's cache holds after a busy day:
// for every clinician and month with shifts, the django-redis key of the
// worked-shift count (cfg.ShiftCountKey) holding the count under the rule
// as plain decimal text, with a TTL; and a few unrelated pickled keys. It
// returns the number of shift-count keys written. Works against a single
// Redis and a cluster alike.
func WarmCache(ctx context.Context, db DB, rdb redis.UniversalClient, cfg *config.Config, opts CacheOptions) (int, error) {
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`
SELECT clinician_id, date_trunc('month', date)::date, count(*) FILTER (WHERE %s)
FROM config_shift GROUP BY 1, 2 ORDER BY 1, 2`, WorkedCondition))
	if err != nil {
		return 0, fmt.Errorf("warm cache: count worked shifts: %w", err)
	}
	type entry struct {
		key   string
		value int64
	}
	var entries []entry
	for rows.Next() {
		var clinician, worked int64
		var month time.Time
		if err := rows.Scan(&clinician, &month, &worked); err != nil {
			return 0, fmt.Errorf("warm cache: %w", err)
		}
		p := MonthOf(month)
		entries = append(entries, entry{cfg.Profile.Cache.WorkedKeyOf(clinician, p.FromDate(), p.ToDate()), worked})
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("warm cache: %w", err)
	}
	pipe := rdb.Pipeline()
	for _, e := range entries {
		pipe.Set(ctx, e.key, strconv.FormatInt(e.value, 10), opts.TTL)
	}
	for k, v := range pickles {
		pipe.Set(ctx, cfg.Profile.Cache.StoredKey(k), v, opts.TTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("warm cache: write keys: %w", err)
	}
	return len(entries), nil
}

// NoiseOptions tunes EnqueueNoise.
type NoiseOptions struct {
	// Tasks is how many recalculation tasks wait in the queue (default 3).
	Tasks int
	// Results is how many finished tasks left a result (default 2).
	Results int
	// Seed makes the task ids reproducible (default 1).
	Seed int64
}

// EnqueueNoise makes the broker look like one a Celery app uses: Tasks
// protocol-2 messages of the recalculation task waiting in the queue list
// (as kombu LPUSHes them: a JSON envelope of body, headers and
// properties), the queue's kombu
// binding set, and Results celery-task-meta-<id> keys with Celery's TTL of
// a day. It returns the queued task ids.
func EnqueueNoise(ctx context.Context, broker redis.UniversalClient, cfg *config.Config, opts NoiseOptions) ([]string, error) {
	if opts.Tasks <= 0 {
		opts.Tasks = 3
	}
	if opts.Results <= 0 {
		opts.Results = 2
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0xce1e7))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
	}
	queue, task := cfg.Profile.Celery.QueueOf(), cfg.Profile.Celery.Recalculate.Name
	var ids []string
	pipe := broker.Pipeline()
	for i := 0; i < opts.Tasks; i++ {
		id := uuid()
		ids = append(ids, id)
		kwargs := map[string]any{"clinician_id": i + 1, "start_date": "2026-01-01", "end_date": "2026-01-31"}
		body, err := json.Marshal([]any{[]any{}, kwargs, map[string]any{"callbacks": nil, "errbacks": nil, "chain": nil, "chord": nil}})
		if err != nil {
			return nil, err
		}
		kwargsRepr, _ := json.Marshal(kwargs)
		msg, err := json.Marshal(map[string]any{
			"body":             base64.StdEncoding.EncodeToString(body),
			"content-encoding": "utf-8",
			"content-type":     "application/json",
			"headers": map[string]any{
				"lang": "py", "task": task, "id": id, "shadow": nil, "eta": nil, "expires": nil,
				"group": nil, "group_index": nil, "retries": 0, "timelimit": []any{nil, nil},
				"root_id": id, "parent_id": nil, "argsrepr": "()", "kwargsrepr": string(kwargsRepr),
				"origin": "gen1@web-1", "ignore_result": false,
			},
			"properties": map[string]any{
				"correlation_id": id, "reply_to": uuid(), "delivery_mode": 2,
				"delivery_info": map[string]any{"exchange": "", "routing_key": queue},
				"priority":      0, "body_encoding": "base64", "delivery_tag": uuid(),
			},
		})
		if err != nil {
			return nil, err
		}
		pipe.LPush(ctx, queue, msg)
	}
	// kombu's binding entry: routing key, pattern and queue joined by \x06\x16.
	pipe.SAdd(ctx, "_kombu.binding."+queue, queue+"\x06\x16\x06\x16"+queue)
	for i := 0; i < opts.Results; i++ {
		id := uuid()
		meta, _ := json.Marshal(map[string]any{"status": "SUCCESS", "result": 14, "traceback": nil, "children": []any{}, "date_done": "2026-02-21T03:00:00.000000", "task_id": id})
		pipe.Set(ctx, "celery-task-meta-"+id, meta, 24*time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("enqueue noise on the broker: %w", err)
	}
	return ids, nil
}
