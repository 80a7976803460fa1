package celery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ResultKeyPrefix prefixes the result key of every task in the result backend.
const ResultKeyPrefix = "celery-task-meta-"

// ResultTTL is how long the result backend keeps a result (Celery's
// default result_expires).
const ResultTTL = 24 * time.Hour

// mgetBatch bounds the keys of one MGET.
const mgetBatch = 500

// State is a task state as Celery records it.
type State string

// Task states. A task with no stored result is Pending.
const (
	Pending State = "PENDING"
	Started State = "STARTED"
	Retry   State = "RETRY"
	Success State = "SUCCESS"
	Failure State = "FAILURE"
	Revoked State = "REVOKED"
)

// Ready reports whether the state is final.
func (s State) Ready() bool { return s == Success || s == Failure || s == Revoked }

// Result is a task's entry in the result backend. Field order follows
// Celery's, so a result stored by Consume reads like the worker's own.
type Result struct {
	Status State `json:"status"`
	// Result is the return value on success, the exception on failure.
	Result    json.RawMessage `json:"result"`
	Traceback *string         `json:"traceback"`
	Children  []any           `json:"children"`
	// DateDone is Python's isoformat of the UTC time, without a zone.
	DateDone *string `json:"date_done"`
	TaskID   string  `json:"task_id"`
}

// Err returns the task's exception when it failed, nil otherwise.
func (r Result) Err() *TaskError {
	if r.Status != Failure && r.Status != Revoked {
		return nil
	}
	var raw struct {
		Type    string          `json:"exc_type"`
		Module  string          `json:"exc_module"`
		Message json.RawMessage `json:"exc_message"`
	}
	if err := json.Unmarshal(r.Result, &raw); err != nil || raw.Type == "" {
		return &TaskError{Type: string(r.Status), Args: []any{string(r.Result)}}
	}
	e := &TaskError{Type: raw.Type, Module: raw.Module}
	// exc_message is the exception's args: a list, or a bare value from old clients.
	if err := json.Unmarshal(raw.Message, &e.Args); err != nil {
		var one any
		_ = json.Unmarshal(raw.Message, &one)
		e.Args = []any{one}
	}
	return e
}

// TaskError is a task failure as Celery records it: the exception's type,
// module and arguments. A Handler may return one to choose them.
type TaskError struct {
	Type   string
	Module string
	Args   []any
}

// Error formats the exception as Python prints it: "Type: message".
func (e *TaskError) Error() string {
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		if s, ok := a.(string); ok {
			parts[i] = s
		} else {
			parts[i] = fmt.Sprint(a)
		}
	}
	return e.Type + ": " + strings.Join(parts, ", ")
}

// Results reads the stored results of ids with MGET in batches; a task with
// no result yet is returned as Pending. The order follows ids.
func Results(ctx context.Context, client redis.UniversalClient, ids []string) ([]Result, error) {
	out := make([]Result, len(ids))
	for start := 0; start < len(ids); start += mgetBatch {
		batch := ids[start:min(start+mgetBatch, len(ids))]
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = ResultKeyPrefix + id
		}
		vals, err := client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("read %d task results from the result backend: %w", len(ids), err)
		}
		for i, v := range vals {
			r := Result{Status: Pending, TaskID: batch[i]}
			if s, ok := v.(string); ok {
				if err := json.Unmarshal([]byte(s), &r); err != nil {
					return nil, fmt.Errorf("result of task %s is not Celery's JSON (%.80q): %w; is the result backend configured with the json serializer?", batch[i], s, err)
				}
			}
			out[start+i] = r
		}
	}
	return out, nil
}

// Follow polls the results of ids every pollEvery until each is final
// (SUCCESS, FAILURE or REVOKED). onUpdate, if not nil, is called with the
// counts of succeeded, failed and unfinished tasks at the start and
// whenever they change. The results follow the order of ids.
//
// When ctx ends first, Follow returns what it has seen (unfinished tasks
// as last read, usually Pending) together with an error wrapping ctx's.
func Follow(ctx context.Context, client redis.UniversalClient, ids []string, pollEvery time.Duration, onUpdate func(done, failed, pending int)) ([]Result, error) {
	results := make([]Result, len(ids))
	open := make([]int, len(ids)) // indexes of unfinished tasks
	for i, id := range ids {
		results[i] = Result{Status: Pending, TaskID: id}
		open[i] = i
	}
	lastDone, lastFailed := -1, -1
	done, failed := 0, 0
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		pendingIDs := make([]string, len(open))
		for j, i := range open {
			pendingIDs[j] = ids[i]
		}
		fresh, err := Results(ctx, client, pendingIDs)
		if err != nil && ctx.Err() == nil {
			return results, err
		}
		still := open[:0]
		for j, i := range open {
			if fresh == nil { // ctx ended mid-read
				still = append(still, i)
				continue
			}
			results[i] = fresh[j]
			switch {
			case fresh[j].Status == Success:
				done++
			case fresh[j].Status.Ready():
				failed++
			default:
				still = append(still, i)
			}
		}
		open = still
		if onUpdate != nil && (done != lastDone || failed != lastFailed) {
			onUpdate(done, failed, len(open))
			lastDone, lastFailed = done, failed
		}
		if len(open) == 0 {
			return results, nil
		}
		select {
		case <-ctx.Done():
			return results, fmt.Errorf("%d of %d tasks still unfinished: %w", len(open), len(ids), ctx.Err())
		case <-ticker.C:
		}
	}
}
