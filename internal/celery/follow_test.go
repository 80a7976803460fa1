package celery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func storeResult(t *testing.T, client *redis.Client, id, status, result string) {
	t.Helper()
	v := fmt.Sprintf(`{"status": %q, "result": %s, "traceback": null, "children": [], "date_done": "2026-01-01T00:00:00.000000", "task_id": %q}`, status, result, id)
	if err := client.Set(context.Background(), ResultKeyPrefix+id, v, ResultTTL).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestFollowUntilEveryTaskIsFinal(t *testing.T) {
	client, _ := newRedis(t)
	storeResult(t, client, "a", "SUCCESS", `{"worked_shifts": 5}`)
	storeResult(t, client, "b", "FAILURE", `{"exc_type": "DoesNotExist", "exc_message": ["Clinician matching query does not exist."], "exc_module": "config.models"}`)
	storeResult(t, client, "c", "STARTED", `null`)

	var updates [][3]int
	onUpdate := func(done, failed, pending int) {
		updates = append(updates, [3]int{done, failed, pending})
		if pending == 1 {
			// The last task finishes once the first round has been reported.
			storeResult(t, client, "c", "SUCCESS", `3`)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	results, err := Follow(ctx, client, []string{"a", "b", "c"}, 10*time.Millisecond, onUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][3]int{{1, 1, 1}, {2, 1, 0}}; !slices.Equal(updates, want) {
		t.Errorf("updates = %v, want %v", updates, want)
	}
	if results[0].Status != Success || string(results[0].Result) != `{"worked_shifts": 5}` {
		t.Errorf("a = %+v", results[0])
	}
	e := results[1].Err()
	if results[1].Status != Failure || e == nil || e.Type != "DoesNotExist" || e.Error() != "DoesNotExist: Clinician matching query does not exist." {
		t.Errorf("b = %+v, exception %v", results[1], e)
	}
	if results[2].Status != Success || results[2].TaskID != "c" {
		t.Errorf("c = %+v", results[2])
	}
}

func TestFollowReturnsPendingTasksAtTheDeadline(t *testing.T) {
	client, _ := newRedis(t)
	storeResult(t, client, "done", "SUCCESS", `1`)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	results, err := Follow(ctx, client, []string{"done", "never"}, 20*time.Millisecond, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow error = %v, want a deadline", err)
	}
	if results[0].Status != Success || results[1].Status != Pending || results[1].TaskID != "never" {
		t.Errorf("results = %+v", results)
	}
}

func TestResultsReadsManyInBatches(t *testing.T) {
	client, _ := newRedis(t)
	ids := make([]string, 1200)
	for i := range ids {
		ids[i] = fmt.Sprint("t", i)
		if i%2 == 0 {
			storeResult(t, client, ids[i], "SUCCESS", fmt.Sprint(i))
		}
	}
	results, err := Results(t.Context(), client, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		want := Pending
		if i%2 == 0 {
			want = Success
		}
		if r.Status != want || r.TaskID != ids[i] {
			t.Fatalf("result %d = %+v, want %s", i, r, want)
		}
	}
}
