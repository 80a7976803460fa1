package celery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/redis/go-redis/v9"
)

// Handler runs one task with the arguments from the message. It returns a
// JSON-encodable result, or an error that is stored as the task's failure;
// a *TaskError chooses the exception's type and module.
type Handler func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

// Consumer is a minimal Celery worker: it takes protocol 2 messages from a
// queue, runs the handler registered for each task name and stores results
// exactly as Celery's Redis result backend does, so Celery clients and
// Follow read them alike. It is steady's sandbox worker, for drills where
// Python is not installed.
//
// Unlike Celery it acknowledges on receipt (plain BRPOP, no "unacked"
// bookkeeping): a task running when the consumer stops is lost, which is
// acceptable for a throwaway sandbox.
type Consumer struct {
	// Broker holds the queue.
	Broker redis.UniversalClient
	// Results is the result backend; nil means Broker.
	Results redis.UniversalClient
	// Queue is the queue name, usually "celery".
	Queue string
	// Handlers maps task names to their code.
	Handlers map[string]Handler
	// Logger receives one line per task and per dropped message; nil
	// discards them (a TUI owns the terminal).
	Logger *slog.Logger
}

// pollTimeout is BRPOP's timeout: how quickly Run notices cancellation.
const pollTimeout = time.Second

// Consume runs a Consumer on queue, logging to slog's default logger,
// until ctx ends. results may be nil to store results in the broker.
func Consume(ctx context.Context, client redis.UniversalClient, queue string, handlers map[string]Handler, results redis.UniversalClient) error {
	c := &Consumer{Broker: client, Results: results, Queue: queue, Handlers: handlers, Logger: slog.Default()}
	return c.Run(ctx)
}

// Run consumes until ctx ends, then returns nil. A malformed message is
// logged and dropped; an unknown task name fails like Celery's
// NotRegistered; a panicking handler fails its task, never the consumer.
// Run returns an error only when the broker cannot be read.
func (c *Consumer) Run(ctx context.Context) error {
	if c.Broker == nil || c.Queue == "" {
		return errors.New("celery consumer: Broker and Queue are required")
	}
	keys := queueKeys(c.Queue)
	for ctx.Err() == nil {
		kv, err := c.Broker.BRPop(ctx, pollTimeout, keys...).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("celery consumer: BRPOP on queue %q: %w; is the broker up?", c.Queue, err)
		}
		c.handle(ctx, []byte(kv[1]))
	}
	return nil
}

func (c *Consumer) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Consumer) handle(ctx context.Context, raw []byte) {
	m, body, err := DecodeMessage(raw)
	if err != nil {
		c.logger().Warn("dropped a malformed task message", "queue", c.Queue, "error", err, "message", truncate(string(raw), 300))
		return
	}
	log := c.logger().With("task", m.Headers.Task, "id", m.Headers.ID)
	started := time.Now()
	res := c.run(ctx, m, body)
	if res.Status == Success {
		log.Info("task succeeded", "duration", time.Since(started))
	} else {
		log.Warn("task failed", "duration", time.Since(started), "error", res.Err())
	}
	if m.Headers.IgnoreResult {
		return
	}
	if err := c.store(ctx, res); err != nil {
		log.Error("could not store the task result", "error", err)
	}
}

// excInfo is how Celery's JSON serializer stores an exception.
type excInfo struct {
	Type    string `json:"exc_type"`
	Message []any  `json:"exc_message"`
	Module  string `json:"exc_module"`
}

func (c *Consumer) run(ctx context.Context, m Message, body Body) (res Result) {
	res = Result{Status: Success, Children: []any{}, TaskID: m.Headers.ID}
	fail := func(e *TaskError, traceback *string) Result {
		args := e.Args
		if args == nil {
			args = []any{}
		}
		res.Status, res.Traceback = Failure, traceback
		res.Result, _ = pyJSON(excInfo{Type: e.Type, Message: args, Module: e.Module})
		return res
	}
	h, ok := c.Handlers[m.Headers.Task]
	if !ok {
		// Celery stores no traceback for an unregistered task.
		return fail(&TaskError{Type: "NotRegistered", Module: "celery.exceptions", Args: []any{m.Headers.Task}}, nil)
	}
	defer func() {
		if p := recover(); p != nil {
			tb := fmt.Sprintf("Traceback (most recent call last):\n%s\nRuntimeError: panic: %v\n", debug.Stack(), p)
			res = fail(&TaskError{Type: "RuntimeError", Module: "builtins", Args: []any{fmt.Sprintf("panic: %v", p)}}, &tb)
		}
	}()
	value, err := h(ctx, body.Args, body.Kwargs)
	if err != nil {
		var te *TaskError
		if !errors.As(err, &te) {
			te = &TaskError{Type: "Exception", Module: "builtins", Args: []any{err.Error()}}
		}
		tb := fmt.Sprintf("Traceback (most recent call last):\n  steady worker, task %s\n%s\n", m.Headers.Task, te.Error())
		return fail(te, &tb)
	}
	encoded, err := pyJSON(value)
	if err != nil {
		tb := fmt.Sprintf("Traceback (most recent call last):\n  steady worker, task %s\nEncodeError: %v\n", m.Headers.Task, err)
		return fail(&TaskError{Type: "EncodeError", Module: "kombu.exceptions", Args: []any{err.Error()}}, &tb)
	}
	res.Result = encoded
	return res
}

// store writes the result as Celery's Redis backend does: SET with the
// default expiry, and PUBLISH on a channel named like the key for clients
// waiting on it.
func (c *Consumer) store(ctx context.Context, res Result) error {
	// Python's datetime.utcnow().isoformat(), as Celery writes it.
	done := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
	res.DateDone = &done
	value, err := pyJSON(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	client := c.Results
	if client == nil {
		client = c.Broker
	}
	key := ResultKeyPrefix + res.TaskID
	pipe := client.TxPipeline()
	pipe.Set(ctx, key, value, ResultTTL)
	pipe.Publish(ctx, key, value)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store result %s: %w", key, err)
	}
	return nil
}
