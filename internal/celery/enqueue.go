package celery

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

const (
	// pushBatch is how many messages go into one LPUSH.
	pushBatch = 500
	// pipelineBatch is how many LPUSH commands go into one round trip.
	pipelineBatch = 20
)

// Enqueue builds, checks and pushes one message per task onto queue in
// the broker, and returns the task ids in the order of tasks. Messages are
// LPUSHed in pipelined batches, in order, so a worker's BRPOP takes them
// first to last. Nothing is pushed when any task cannot be encoded; a Redis
// error part-way leaves the earlier batches queued.
func Enqueue(ctx context.Context, client redis.UniversalClient, queue string, tasks ...Task) ([]string, error) {
	ids := make([]string, len(tasks))
	encoded := make([]any, len(tasks))
	for i, t := range tasks {
		m, err := NewMessage(t, queue)
		if err != nil {
			return nil, fmt.Errorf("enqueue task %d of %d: %w", i+1, len(tasks), err)
		}
		raw, err := m.Encode()
		if err != nil {
			return nil, fmt.Errorf("enqueue task %d of %d: %w", i+1, len(tasks), err)
		}
		// A message that kills the worker must never be pushed. Every
		// message comes from NewMessage, whose structure does not depend on
		// the arguments, so checking the first proves the builder at run
		// time at a fraction of the cost; the unit tests cover the shapes.
		if i == 0 {
			if err := Validate(raw); err != nil {
				return nil, fmt.Errorf("enqueue task %s: refusing to push a message the worker would die on: %w", t.Name, err)
			}
		}
		ids[i], encoded[i] = m.Headers.ID, raw
	}
	pushed := 0
	for pushed < len(encoded) {
		pipe := client.Pipeline()
		for n := 0; n < pipelineBatch && pushed < len(encoded); n++ {
			end := min(pushed+pushBatch, len(encoded))
			pipe.LPush(ctx, queue, encoded[pushed:end]...)
			pushed = end
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("enqueue %d tasks on queue %q: LPUSH failed after at most %d were queued: %w; check the broker with the connectivity probe, then look at the queue length before retrying", len(tasks), queue, pushed, err)
		}
	}
	return ids, nil
}
