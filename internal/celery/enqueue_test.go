package celery

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestEnqueueIsFastAndFIFO(t *testing.T) {
	client, _ := newRedis(t)
	ctx := t.Context()
	tasks := make([]Task, 10_000)
	for i := range tasks {
		tasks[i] = Task{Name: "calculations.tasks.recalculate_clinician", Args: []any{i, "2025-03-01", "2025-03-31"}}
	}
	started := time.Now()
	ids, err := Enqueue(ctx, client, "celery", tasks...)
	elapsed := time.Since(started)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("enqueued %d tasks in %v", len(tasks), elapsed)
	// The budget is one second; the race detector slows encoding several times.
	if elapsed > 5*time.Second {
		t.Errorf("enqueueing %d tasks took %v", len(tasks), elapsed)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("task id %q is empty or repeated", id)
		}
		seen[id] = true
	}
	if n, err := QueueLength(ctx, client, "celery"); err != nil || n != int64(len(tasks)) {
		t.Fatalf("QueueLength = %d, %v; want %d", n, err, len(tasks))
	}
	// A worker BRPOPs: the first task enqueued must come out first.
	for _, want := range []string{ids[0], ids[1]} {
		raw, err := client.RPop(ctx, "celery").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := DecodeMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.Headers.ID != want {
			t.Fatalf("popped task %s, want %s (FIFO order)", m.Headers.ID, want)
		}
	}
}

func TestEnqueuePushesNothingWhenATaskIsBad(t *testing.T) {
	client, _ := newRedis(t)
	_, err := Enqueue(t.Context(), client, "celery", Task{Name: "a.b"}, Task{Name: ""})
	if err == nil {
		t.Fatal("Enqueue accepted a task without a name")
	}
	if n, _ := QueueLength(t.Context(), client, "celery"); n != 0 {
		t.Errorf("%d messages were pushed", n)
	}
}

func TestQueueLengthCountsKombuPriorityLists(t *testing.T) {
	client, _ := newRedis(t)
	ctx := t.Context()
	client.LPush(ctx, "celery", "a", "b")
	client.LPush(ctx, "celery\x06\x163", "c")
	client.LPush(ctx, "celery\x06\x169", "d")
	client.LPush(ctx, "other", "e")
	if n, err := QueueLength(ctx, client, "celery"); err != nil || n != 4 {
		t.Errorf("QueueLength = %d, %v; want 4", n, err)
	}
}

func TestUnackedReadsKombuEntries(t *testing.T) {
	client, _ := newRedis(t)
	ctx := t.Context()
	if got, err := Unacked(ctx, client); err != nil || len(got) != 0 {
		t.Fatalf("Unacked on an empty broker = %v, %v", got, err)
	}
	m, _ := NewMessage(recalculateTask(""), "celery")
	raw, _ := m.Encode()
	// kombu's QoS.append: hash entry [message, exchange, routing_key], index score = time().
	entry, _ := pyJSON([]any{json.RawMessage(raw), "", "celery"})
	client.HSet(ctx, UnackedKey, m.Properties.DeliveryTag, entry)
	client.ZAdd(ctx, UnackedIndexKey, redis.Z{Score: 1767225600.5, Member: m.Properties.DeliveryTag})
	got, err := Unacked(ctx, client)
	if err != nil || len(got) != 1 {
		t.Fatalf("Unacked = %v, %v", got, err)
	}
	u := got[0]
	if u.TaskID != m.Headers.ID || u.Task != m.Headers.Task || u.Queue != "celery" || u.DeliveryTag != m.Properties.DeliveryTag {
		t.Errorf("Unacked = %+v", u)
	}
	if want := time.Unix(1767225600, 5e8); !u.Since.Equal(want) {
		t.Errorf("Since = %v, want %v", u.Since, want)
	}
}

func TestResultCountScans(t *testing.T) {
	client, _ := newRedis(t)
	ctx := context.Background()
	for _, k := range []string{ResultKeyPrefix + "a", ResultKeyPrefix + "b", ResultKeyPrefix + "c", "celery", ":1:shiftcount:1:2025-03-01:2025-03-31"} {
		client.Set(ctx, k, "{}", 0)
	}
	if n, err := ResultCount(ctx, client); err != nil || n != 3 {
		t.Errorf("ResultCount = %d, %v; want 3", n, err)
	}
}
