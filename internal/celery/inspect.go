package celery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys kombu's Redis transport keeps beside the queues.
const (
	UnackedKey      = "unacked"
	UnackedIndexKey = "unacked_index"
)

// prioritySep and prioritySteps are kombu's: a message with priority p
// waits in "<queue>\x06\x16<p>" (p = 3, 6, 9), priority 0 in "<queue>".
const prioritySep = "\x06\x16"

var prioritySteps = []int{0, 3, 6, 9}

// queueKeys returns the lists of queue, in the order kombu's BRPOP serves them.
func queueKeys(queue string) []string {
	keys := make([]string, len(prioritySteps))
	for i, p := range prioritySteps {
		keys[i] = queue
		if p != 0 {
			keys[i] += prioritySep + strconv.Itoa(p)
		}
	}
	return keys
}

// QueueLength returns how many messages wait in queue, across kombu's
// priority lists.
func QueueLength(ctx context.Context, client redis.UniversalClient, queue string) (int64, error) {
	pipe := client.Pipeline()
	var cmds []*redis.IntCmd
	for _, k := range queueKeys(queue) {
		cmds = append(cmds, pipe.LLen(ctx, k))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("length of Celery queue %q: %w", queue, err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// UnackedTask is a message a worker has taken but not acknowledged: it is
// running, or prefetched, or its worker died and it awaits restoring.
type UnackedTask struct {
	DeliveryTag string
	TaskID      string
	Task        string
	// Queue is the routing key the message was delivered with.
	Queue string
	// Since is when the worker took it (zero if the index lacks it).
	Since time.Time
}

// Unacked lists the messages held by workers (hash "unacked", zset
// "unacked_index"), read with HSCAN so a large hash never blocks Redis.
func Unacked(ctx context.Context, client redis.UniversalClient) ([]UnackedTask, error) {
	var out []UnackedTask
	var cursor uint64
	for {
		kv, next, err := client.HScan(ctx, UnackedKey, cursor, "*", 500).Result()
		if err != nil {
			return nil, fmt.Errorf("read unacked Celery messages (HSCAN %s): %w", UnackedKey, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, parseUnacked(kv[i], kv[i+1]))
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	pipe := client.Pipeline()
	scores := make([]*redis.FloatCmd, len(out))
	for i, u := range out {
		scores[i] = pipe.ZScore(ctx, UnackedIndexKey, u.DeliveryTag)
	}
	// A tag missing from the index answers redis.Nil; the others still count.
	_, _ = pipe.Exec(ctx)
	for i, s := range scores {
		if secs, err := s.Result(); err == nil {
			out[i].Since = time.Unix(0, int64(secs*float64(time.Second)))
		}
	}
	return out, nil
}

// parseUnacked reads kombu's entry: JSON [message, exchange, routing_key].
func parseUnacked(tag, value string) UnackedTask {
	u := UnackedTask{DeliveryTag: tag}
	var entry []json.RawMessage
	if json.Unmarshal([]byte(value), &entry) != nil || len(entry) < 3 {
		return u
	}
	var m Message
	if json.Unmarshal(entry[0], &m) == nil {
		u.TaskID, u.Task = m.Headers.ID, m.Headers.Task
	}
	_ = json.Unmarshal(entry[2], &u.Queue)
	return u
}

// ResultCount counts the stored task results with SCAN (never KEYS), on
// every master of a cluster.
func ResultCount(ctx context.Context, client redis.UniversalClient) (int64, error) {
	count := func(ctx context.Context, c redis.Cmdable) (int64, error) {
		var n int64
		iter := c.Scan(ctx, 0, ResultKeyPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		return n, iter.Err()
	}
	cluster, ok := client.(*redis.ClusterClient)
	if !ok {
		n, err := count(ctx, client)
		if err != nil {
			return 0, fmt.Errorf("count Celery results (SCAN %s*): %w", ResultKeyPrefix, err)
		}
		return n, nil
	}
	var total atomic.Int64
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := count(ctx, node)
		total.Add(n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count Celery results (SCAN %s* on each master): %w", ResultKeyPrefix, err)
	}
	return total.Load(), nil
}
