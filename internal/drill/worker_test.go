package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/celery"
	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
)

// syncBuffer is a bytes.Buffer safe for the worker's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWorkerRunsRealCeleryMessages(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := sandboxDB(t)
	conn := connect(t, db)
	rs := sandboxtest.RedisServer(t, sandbox.RedisOptions{})
	cacheURL, brokerURL := rs.URL(1), rs.URL(0)
	cache := redis.NewClient(mustRedisOptions(cacheURL))
	defer cache.Close()
	broker := redis.NewClient(mustRedisOptions(brokerURL))
	defer broker.Close()
	cfg := config.Default()

	if err := clinic.Install(ctx, conn, clinic.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := clinic.Seed(ctx, conn, clinic.SeedOptions{Clinicians: 8, Months: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := clinic.BusinessRule(ctx, conn, clinic.BusinessRuleOptions{Clinicians: 2})
	if err != nil {
		t.Fatal(err)
	}

	var out syncBuffer
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(runCtx, WorkerOptions{DatabaseURL: db, CacheURL: cacheURL, BrokerURL: brokerURL, Out: &out})
	}()

	// The application's task as steady's recalculate action enqueues it
	// (positional), as a shell call would (keywords), for a clinician that
	// does not exist, and a task the worker does not know.
	first, last := data.Months[0], data.Months[len(data.Months)-1]
	task := cfg.Profile.Celery.Recalculate.Name
	w := wrong[0]
	ids, err := celery.Enqueue(ctx, broker, cfg.Profile.Celery.Queue,
		celery.Task{Name: task, Args: []any{w.Clinician, first.FromDate(), last.ToDate()}},
		celery.Task{Name: task, Kwargs: map[string]any{"clinician_id": wrong[len(wrong)-1].Clinician, "start_date": first.FromDate(), "end_date": last.ToDate()}},
		celery.Task{Name: task, Args: []any{9999, first.FromDate(), first.ToDate()}},
		celery.Task{Name: "reports.tasks.nightly_export"},
	)
	if err != nil {
		t.Fatal(err)
	}
	results, err := celery.Follow(ctx, broker, ids, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("%v\nworker output:\n%s", err, out.String())
	}
	want := []struct {
		status celery.State
		exc    string
	}{{celery.Success, ""}, {celery.Success, ""}, {celery.Failure, "DoesNotExist"}, {celery.Failure, "NotRegistered"}}
	for i, r := range results {
		if r.Status != want[i].status || (want[i].exc != "" && (r.Err() == nil || r.Err().Type != want[i].exc)) {
			t.Errorf("task %d: %s %s, want %s %s", i, r.Status, r.Result, want[i].status, want[i].exc)
		}
	}
	var res struct {
		Clinician int64 `json:"clinician_id"`
		Worked    int   `json:"worked_shifts"`
		Months    []any `json:"months"`
	}
	if err := json.Unmarshal(results[0].Result, &res); err != nil {
		t.Fatalf("result %s: %v", results[0].Result, err)
	}
	total := count(t, conn, fmt.Sprintf(clinic.WorkedShiftsSQL, "config_shift"), w.Clinician, first.From, last.To)
	if res.Clinician != w.Clinician || res.Worked != total || len(res.Months) != len(data.Months) {
		t.Errorf("result %+v, want clinician %d with %d worked shifts over %d months", res, w.Clinician, total, len(data.Months))
	}

	// The summaries follow the rule again, and the cache holds plain ints.
	if n := count(t, conn, `SELECT count(*) FROM calculations_shiftsummary m JOIN config_clinician c ON c.id = m.clinician_id
		WHERE m.worked_shifts <> (SELECT count(*) FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND `+clinic.WorkedCondition+`)
		   OR m.deficiency <> greatest(c.contracted_shifts - m.worked_shifts, 0)`); n != 0 {
		t.Errorf("%d summaries still break the rule after the recalculation", n)
	}
	key := cfg.Profile.Cache.WorkedKeyOf(w.Clinician, w.Period.FromDate(), w.Period.ToDate())
	if got, err := cache.Get(ctx, key).Result(); err != nil || got != strconv.Itoa(w.Actual) {
		t.Errorf("cache %s = %q (%v), want %d", key, got, err, w.Actual)
	}
	rangeKey := cfg.Profile.Cache.WorkedKeyOf(w.Clinician, first.FromDate(), last.ToDate())
	if got, _ := cache.Get(ctx, rangeKey).Result(); got != strconv.Itoa(total) {
		t.Errorf("cache %s = %q, want %d", rangeKey, got, total)
	}
	if ttl := cache.TTL(ctx, key).Val(); ttl != -1 {
		t.Errorf("%s has a TTL of %s; the application caches counts without expiry", key, ttl)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunWorker = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the worker did not stop when told to")
	}
	for _, s := range []string{ReadyLine, "task succeeded", "warm shutdown"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the worker's output lacks %q:\n%s", s, out.String())
		}
	}
	if n := broker.Exists(ctx, "_kombu.binding."+cfg.Profile.Celery.Queue).Val(); n != 1 {
		t.Error("the worker did not declare its queue")
	}
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
