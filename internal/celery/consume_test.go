package celery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination the consumer goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConsumerRunsTasksAndStoresResultsLikeCelery(t *testing.T) {
	client, _ := newRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	handlers := map[string]Handler{
		"math.add": func(_ context.Context, args []any, kwargs map[string]any) (any, error) {
			return args[0].(float64) + args[1].(float64) + kwargs["extra"].(float64), nil
		},
		"math.fail": func(context.Context, []any, map[string]any) (any, error) {
			return nil, &TaskError{Type: "ValueError", Module: "builtins", Args: []any{"bad input"}}
		},
		"math.error": func(context.Context, []any, map[string]any) (any, error) {
			return nil, errors.New("database is down")
		},
		"math.panic": func(context.Context, []any, map[string]any) (any, error) {
			panic("index out of range")
		},
	}
	// A malformed message sits between valid ones: it must be dropped, and
	// the ones after it still run.
	first, err := Enqueue(ctx, client, "celery",
		Task{Name: "math.add", Args: []any{2, 3}, Kwargs: map[string]any{"extra": 1}},
		Task{Name: "math.fail"})
	if err != nil {
		t.Fatal(err)
	}
	client.LPush(ctx, "celery", `{"body": "W1tdLCB7fV0=", "headers": {"task": "math.add", "id": "x"}}`, "not json")
	rest, err := Enqueue(ctx, client, "celery",
		Task{Name: "math.error"}, Task{Name: "math.panic"}, Task{Name: "no.such.task", Args: []any{1}})
	if err != nil {
		t.Fatal(err)
	}
	ids := append(first, rest...)

	sub := client.Subscribe(ctx, ResultKeyPrefix+ids[0])
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}

	var logs syncBuffer
	consumer := &Consumer{Broker: client, Queue: "celery", Handlers: handlers, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	stopped := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { stopped <- consumer.Run(runCtx) }()

	results, err := Follow(ctx, client, ids, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Status != Success || string(r.Result) != "6" {
		t.Errorf("math.add = %s %s, want SUCCESS 6", r.Status, r.Result)
	}
	for i, want := range []struct{ excType, message, module string }{
		1: {"ValueError", "bad input", "builtins"},
		2: {"Exception", "database is down", "builtins"},
		3: {"RuntimeError", "panic: index out of range", "builtins"},
		4: {"NotRegistered", "no.such.task", "celery.exceptions"},
	} {
		if i == 0 {
			continue
		}
		r := results[i]
		e := r.Err()
		if r.Status != Failure || e == nil || e.Type != want.excType || e.Module != want.module || e.Error() != want.excType+": "+want.message {
			t.Errorf("task %d = %s %s, want FAILURE %s(%q)", i, r.Status, r.Result, want.excType, want.message)
		}
		if hasTraceback := r.Traceback != nil; hasTraceback != (want.excType != "NotRegistered") {
			t.Errorf("task %d traceback = %v; Celery stores one for task errors and none for NotRegistered", i, r.Traceback)
		}
	}

	// Stored like Celery's Redis backend: its JSON layout, a day's TTL, and
	// PUBLISHed on a channel named like the key.
	raw, err := client.Get(ctx, ResultKeyPrefix+ids[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, `{"status": "SUCCESS", "result": 6, "traceback": null, "children": [], "date_done": "`) ||
		!strings.HasSuffix(raw, `", "task_id": "`+ids[0]+`"}`) {
		t.Errorf("stored result = %s", raw)
	}
	if ttl := client.TTL(ctx, ResultKeyPrefix+ids[0]).Val(); ttl < ResultTTL-time.Minute || ttl > ResultTTL {
		t.Errorf("result TTL = %v, want %v", ttl, ResultTTL)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != raw {
		t.Errorf("published %q (%v), want the stored result", msg.Payload, err)
	}
	if n := strings.Count(logs.String(), "dropped a malformed task message"); n != 2 {
		t.Errorf("logged %d dropped messages, want 2:\n%s", n, logs.String())
	}

	stop()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation")
	}
}

func TestConsumerSkipsStoringIgnoredResults(t *testing.T) {
	client, _ := newRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	m, _ := NewMessage(Task{Name: "noop"}, "celery")
	m.Headers.IgnoreResult = true
	raw, _ := m.Encode()
	ran := make(chan struct{})
	c := &Consumer{Broker: client, Queue: "celery", Handlers: map[string]Handler{
		"noop": func(context.Context, []any, map[string]any) (any, error) { close(ran); return nil, nil },
	}}
	client.LPush(ctx, "celery", raw)
	// A second, normal task marks the point by which the first was handled.
	ids, _ := Enqueue(ctx, client, "celery", Task{Name: "unknown"})
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if _, err := Follow(ctx, client, ids, 20*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	<-ran
	if n := client.Exists(ctx, ResultKeyPrefix+m.Headers.ID).Val(); n != 0 {
		t.Error("the result of a task with ignore_result was stored")
	}
}
