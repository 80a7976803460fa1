package celery

// The proof that matters: messages built here are run by the real Celery
// worker of the example Django app, and messages built by Celery are run by
// Consume, with results each side can read.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/clinic/clinictest"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
)

func TestRealCeleryWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dbURL := sandboxtest.Database(t)
	broker, redisURL := newRedis(t)
	app := examples.NewClinic(t, dbURL, redisURL)
	cache := clinictest.Client(t, app.CacheURL)
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())

	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "6", "--months", "3")
	// Forget what the seed computed, so only the tasks can put it back.
	if _, err := db.Exec(ctx, "DELETE FROM calculations_shiftsummary"); err != nil {
		t.Fatal(err)
	}
	if err := cache.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	worker := app.StartWorker(t)
	profile := config.Default()
	queue, task := profile.Profile.Celery.Queue, profile.Profile.Celery.Recalculate.Name

	t.Run("recalculate_clinician tasks from Go succeed and fix summaries and cache", func(t *testing.T) {
		clinicians := queryInts(t, db, "SELECT id FROM config_clinician ORDER BY id")
		tasks := make([]Task, len(clinicians))
		for i, id := range clinicians {
			tasks[i] = Task{Name: task, Args: []any{id, "2025-01-01", "2025-03-31"}}
		}
		ids, err := Enqueue(ctx, broker, queue, tasks...)
		if err != nil {
			t.Fatal(err)
		}
		var last [3]int
		results, err := Follow(ctx, broker, ids, 50*time.Millisecond, func(done, failed, pending int) {
			last = [3]int{done, failed, pending}
		})
		if err != nil {
			t.Fatalf("%v\nworker log:\n%s", err, worker.Log())
		}
		if last != [3]int{len(ids), 0, 0} {
			t.Errorf("last progress = %v, want all %d done", last, len(ids))
		}
		for i, r := range results {
			if r.Status != Success {
				t.Fatalf("task for clinician %d: %s %v\n%s", clinicians[i], r.Status, r.Err(), worker.Log())
			}
			var got struct {
				WorkedShifts int `json:"worked_shifts"`
			}
			if err := json.Unmarshal(r.Result, &got); err != nil {
				t.Fatalf("result %s: %v", r.Result, err)
			}
			if want := workedShifts(t, db, clinicians[i], "2025-01-01", "2025-03-31"); got.WorkedShifts != want {
				t.Errorf("clinician %d: task says %d worked shifts, the source %d", clinicians[i], got.WorkedShifts, want)
			}
		}
		months := [][2]string{{"2025-01-01", "2025-01-31"}, {"2025-02-01", "2025-02-28"}, {"2025-03-01", "2025-03-31"}}
		for _, id := range clinicians {
			contracted := queryInts(t, db, "SELECT contracted_shifts FROM config_clinician WHERE id = $1", id)[0]
			for _, m := range months {
				want := workedShifts(t, db, id, m[0], m[1])
				var worked, deficiency int
				err := db.QueryRow(ctx, `SELECT worked_shifts, deficiency FROM calculations_shiftsummary
WHERE clinician_id = $1 AND period_start = $2 AND period_end = $3`, id, m[0], m[1]).Scan(&worked, &deficiency)
				if err != nil {
					t.Fatalf("summary of clinician %d for %s: %v", id, m[0], err)
				}
				if worked != want || deficiency != clinic.DeficiencyOf(contracted, want) {
					t.Errorf("summary of clinician %d for %s = %d worked, %d deficiency; source says %d, %d",
						id, m[0], worked, deficiency, want, clinic.DeficiencyOf(contracted, want))
				}
				assertCached(t, cache, profile.Profile.Cache.WorkedKeyOf(int64(id), m[0], m[1]), want)
			}
			assertCached(t, cache, profile.Profile.Cache.WorkedKeyOf(int64(id), "2025-01-01", "2025-03-31"),
				workedShifts(t, db, id, "2025-01-01", "2025-03-31"))
		}
	})

	t.Run("an unknown task name fails with NotRegistered", func(t *testing.T) {
		ids, err := Enqueue(ctx, broker, queue, Task{Name: "calculations.tasks.no_such_task", Args: []any{1}})
		if err != nil {
			t.Fatal(err)
		}
		results, err := Follow(ctx, broker, ids, 50*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := results[0].Err(); results[0].Status != Failure || e == nil || e.Type != "NotRegistered" ||
			!slices.Equal(e.Args, []any{"calculations.tasks.no_such_task"}) {
			t.Errorf("result = %s %s, want FAILURE NotRegistered", results[0].Status, results[0].Result)
		}
	})

	t.Run("a failing task reports the exception", func(t *testing.T) {
		ids, err := Enqueue(ctx, broker, queue, Task{Name: task, Args: []any{999999, "2025-01-01", "2025-01-31"}})
		if err != nil {
			t.Fatal(err)
		}
		results, err := Follow(ctx, broker, ids, 50*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := results[0].Err(); e == nil || e.Type != "Clinician.DoesNotExist" || results[0].Traceback == nil {
			t.Errorf("result = %s %s, want FAILURE Clinician.DoesNotExist with a traceback", results[0].Status, results[0].Result)
		}
	})

	t.Run("the worker survived every message", func(t *testing.T) {
		if !worker.Alive() || strings.Contains(worker.Log(), "Unrecoverable error") {
			t.Fatalf("the worker died:\n%s", worker.Log())
		}
		if n, err := QueueLength(ctx, broker, queue); err != nil || n != 0 {
			t.Errorf("queue length = %d, %v; want 0", n, err)
		}
		if u, err := Unacked(ctx, broker); err != nil || len(u) != 0 {
			t.Errorf("unacked = %v, %v; want none", u, err)
		}
		if n, err := ResultCount(ctx, broker); err != nil || n < 8 {
			t.Errorf("ResultCount = %d, %v; want the 8 results of the tests above", n, err)
		}
	})

	// Last, because it ends the worker: shows the checks above would catch a
	// killed worker, and why Enqueue refuses such a message.
	t.Run("a message without delivery_tag kills the worker", func(t *testing.T) {
		m, err := NewMessage(Task{Name: task, Args: []any{1, "2025-01-01", "2025-01-31"}}, queue)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := m.Encode()
		var tree map[string]any
		_ = json.Unmarshal(raw, &tree)
		delete(tree["properties"].(map[string]any), "delivery_tag")
		bad, _ := json.Marshal(tree)
		if Validate(bad) == nil {
			t.Fatal("Validate accepts the message")
		}
		broker.LPush(ctx, queue, bad)
		select {
		case <-worker.Exited():
		case <-time.After(30 * time.Second):
			t.Fatalf("the worker survived a message without delivery_tag; the package doc and Validate are out of date:\n%s", worker.Log())
		}
		if !strings.Contains(worker.Log(), "KeyError: 'delivery_tag'") {
			t.Errorf("the worker died of something else:\n%s", worker.Log())
		}
	})
}

// celeryClient is the Python side of TestCeleryAndConsumeInteroperate.
const celeryClient = `
import json, sys
import django
django.setup()
from celery.result import AsyncResult
from calculations.tasks import recalculate_clinician
from clinicsite.celery import app

if sys.argv[1] == 'send':
    a = recalculate_clinician.delay(7, '2025-03-01', '2025-03-31')
    b = app.send_task('reports.nightly', kwargs={'day': '2025-03-31'})
    print(json.dumps([a.id, b.id]))
else:
    ok = AsyncResult(sys.argv[2], app=app)
    missing = AsyncResult(sys.argv[3], app=app)
    try:
        missing.get(timeout=10)
        error = None
    except Exception as e:
        error = type(e).__name__ + ': ' + str(e)
    print(json.dumps({'state': ok.state, 'result': ok.get(timeout=10), 'error': error}))
`

func TestCeleryAndConsumeInteroperate(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	broker, redisURL := newRedis(t)
	// delay() never touches the database, but the settings require a URL.
	app := examples.NewClinic(t, "postgres://unused@127.0.0.1:1/unused", redisURL)

	out, err := app.RunPython(ctx, celeryClient, "send")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := json.Unmarshal([]byte(out), &ids); err != nil {
		t.Fatalf("python printed %q: %v", out, err)
	}

	t.Run("our message is byte for byte what delay() writes", func(t *testing.T) {
		queued, err := broker.LRange(ctx, "celery", 0, -1).Result()
		if err != nil || len(queued) != 2 {
			t.Fatalf("queue holds %d messages (%v), want 2", len(queued), err)
		}
		theirs := queued[1] // LPUSH: the first sent is last in the list
		var tm Message
		if err := json.Unmarshal([]byte(theirs), &tm); err != nil {
			t.Fatal(err)
		}
		ours, err := NewMessage(Task{Name: "calculations.tasks.recalculate_clinician", Args: []any{7, "2025-03-01", "2025-03-31"}, ID: ids[0]}, "celery")
		if err != nil {
			t.Fatal(err)
		}
		// Per-process and per-message values.
		ours.Headers.Origin, ours.Properties.ReplyTo, ours.Properties.DeliveryTag =
			tm.Headers.Origin, tm.Properties.ReplyTo, tm.Properties.DeliveryTag
		raw, _ := ours.Encode()
		if string(raw) != theirs {
			t.Errorf("messages differ\n ours: %s\nthem: %s", raw, theirs)
		}
	})

	t.Run("Consume runs Celery's messages and Celery reads the results", func(t *testing.T) {
		var gotArgs []any
		handlers := map[string]Handler{
			"calculations.tasks.recalculate_clinician": func(_ context.Context, args []any, _ map[string]any) (any, error) {
				gotArgs = args
				return map[string]any{"clinician_id": args[0], "worked_shifts": 5}, nil
			},
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- Consume(runCtx, broker, "celery", handlers, nil) }()
		results, err := Follow(ctx, broker, ids, 20*time.Millisecond, nil)
		stop()
		if runErr := <-done; runErr != nil {
			t.Errorf("Consume = %v", runErr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gotArgs, []any{7.0, "2025-03-01", "2025-03-31"}) {
			t.Errorf("handler got args %v", gotArgs)
		}
		if results[0].Status != Success || results[1].Err() == nil || results[1].Err().Type != "NotRegistered" {
			t.Errorf("results = %s %s / %s %s", results[0].Status, results[0].Result, results[1].Status, results[1].Result)
		}

		out, err := app.RunPython(ctx, celeryClient, "read", ids[0], ids[1])
		if err != nil {
			t.Fatal(err)
		}
		var read struct {
			State  string         `json:"state"`
			Result map[string]any `json:"result"`
			Error  string         `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &read); err != nil {
			t.Fatalf("python printed %q: %v", out, err)
		}
		if read.State != "SUCCESS" || fmt.Sprint(read.Result) != "map[clinician_id:7 worked_shifts:5]" {
			t.Errorf("Celery read %+v", read)
		}
		if read.Error != "NotRegistered: 'reports.nightly'" {
			t.Errorf("Celery raised %q, want NotRegistered: 'reports.nightly'", read.Error)
		}
	})
}

func queryInts(t *testing.T, db *pgx.Conn, sql string, args ...any) []int {
	t.Helper()
	rows, _ := db.Query(context.Background(), sql, args...)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// workedShifts counts by the application's rule, straight from the source.
func workedShifts(t *testing.T, db *pgx.Conn, clinician int, from, to string) int {
	t.Helper()
	return queryInts(t, db, fmt.Sprintf(clinic.WorkedShiftsSQL, "config_shift"), clinician, from, to)[0]
}

func assertCached(t *testing.T, cache *redis.Client, key string, want int) {
	t.Helper()
	got, err := cache.Get(context.Background(), key).Result()
	if err != nil {
		t.Errorf("cache key %s: %v", key, err)
		return
	}
	// django-redis stores ints as plain digits, which is what lets steady read them.
	if got != strconv.Itoa(want) {
		t.Errorf("cache key %s = %q, want %d", key, got, want)
	}
}
