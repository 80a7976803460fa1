package actions

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"steady/internal/celery"
	"steady/internal/clinic"
)

// shiftCountKeys counts the cache's shift-count keys the way a test may:
// with SCAN.
func shiftCountKeys(t *testing.T, f *fixture) int {
	t.Helper()
	n := 0
	iter := f.cache.Scan(context.Background(), 0, f.cfg.Profile.Cache.KeyPatterns()[0], 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func noise(t *testing.T, f *fixture, tasks, results int) []string {
	t.Helper()
	ids, err := clinic.EnqueueNoise(context.Background(), f.broker, f.cfg, clinic.NoiseOptions{Tasks: tasks, Results: results})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func queued(t *testing.T, f *fixture) int64 {
	t.Helper()
	n, err := celery.QueueLength(context.Background(), f.broker, f.cfg.Profile.Celery.Queue)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFlushCacheSeparateDBsFlushesTheCacheDBOnly(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	noise(t, f, 3, 2)
	env := f.env(nil)
	keys := shiftCountKeys(t, f)
	size, _ := f.cache.DBSize(context.Background()).Result()

	p := plan(t, "flush-cache", env, nil)
	if p.Facts[factFlushMode] != flushDB || p.Steps[0].Text != "FLUSHDB ASYNC" {
		t.Fatalf("broker in another db: want FLUSHDB, got %s %+v", p.Facts[factFlushMode], p.Steps)
	}
	if p.Facts[factKeys] != strconv.FormatInt(size, 10) || p.Facts["keys :1:shiftcount:*:*:*"] != strconv.Itoa(keys) {
		t.Errorf("counts %v, want %d keys of which %d shift counts", p.Facts, size, keys)
	}
	if !p.Destructive || p.ConfirmPhrase != f.tg.RedisName() || len(p.Warnings) != 0 {
		t.Errorf("phrase %q (want %q), warnings %v", p.ConfirmPhrase, f.tg.RedisName(), p.Warnings)
	}
	if err := Confirm(p, "yes"); err == nil {
		t.Error("a wrong phrase was accepted")
	}
	o := execute(t, env, p, nil)
	if o.Status != Succeeded {
		t.Fatalf("outcome %+v", o)
	}
	if n := shiftCountKeys(t, f); n != 0 {
		t.Errorf("%d shift-count keys left", n)
	}
	if n := queued(t, f); n != 3 {
		t.Errorf("the broker's queue has %d tasks after the flush, want 3 untouched", n)
	}
}

func TestFlushCacheSharedDBUnlinksOnlyThePatterns(t *testing.T) {
	f := newFixture(t, fixtureOptions{sharedDB: true})
	noise(t, f, 3, 2)
	env := f.env(nil)
	keys := shiftCountKeys(t, f)
	p := plan(t, "flush-cache", env, nil)
	if p.Facts[factFlushMode] != flushUnlink {
		t.Fatalf("broker in the cache's db: want unlink, got %s", p.Facts[factFlushMode])
	}
	if !strings.HasPrefix(p.Steps[0].Text, "SCAN <cursor> MATCH :1:shiftcount:*:*:* COUNT 250, then UNLINK") ||
		!strings.Contains(p.Steps[0].Note, strconv.Itoa(keys)+" keys match") {
		t.Errorf("step %+v, want the exact count %d", p.Steps[0], keys)
	}
	if p.ConfirmPhrase != f.tg.RedisName() {
		t.Errorf("nothing of Celery's matches the patterns, yet the phrase is %q", p.ConfirmPhrase)
	}
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded || o.Artefacts["deleted"] != strconv.Itoa(keys) {
		t.Fatalf("outcome %+v", o)
	}
	if n := shiftCountKeys(t, f); n != 0 {
		t.Errorf("%d shift-count keys left", n)
	}
	if n := queued(t, f); n != 3 {
		t.Errorf("queue has %d tasks, want 3", n)
	}
	if other, _ := f.cache.Exists(context.Background(), ":1:feature_flags").Result(); other != 1 {
		t.Error("a key outside the patterns was deleted")
	}
	if len(out.progress) == 0 || out.progress[len(out.progress)-1][0] != keys {
		t.Errorf("progress %v, want to end at %d", out.progress, keys)
	}
}

func TestFlushAllWithQueuedTasksNeedsTheTypedAcceptance(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	noise(t, f, 3, 2)
	env := f.env(nil)
	p := plan(t, "flush-cache", env, map[string]string{"mode": "flushall"})
	if p.Steps[0].Text != "FLUSHALL ASYNC" {
		t.Fatalf("steps %+v", p.Steps)
	}
	want := "drop 3 queued tasks and 2 task results"
	if p.ConfirmPhrase != want {
		t.Errorf("confirm phrase %q, want %q", p.ConfirmPhrase, want)
	}
	warned := strings.Join(p.Warnings, "\n")
	for _, s := range []string{"3 queued tasks waiting in the Celery queue celery would be lost", "2 task results would be lost", "FLUSHALL empties every database"} {
		if !strings.Contains(warned, s) {
			t.Errorf("warnings lack %q:\n%s", s, warned)
		}
	}
	var ce *ErrConfirmation
	if err := Confirm(p, f.tg.RedisName()); !errors.As(err, &ce) || ce.Want != want {
		t.Errorf("the Redis name confirmed a FLUSHALL that drops tasks: %v", err)
	}
	if n := queued(t, f); n != 3 {
		t.Fatalf("queue has %d tasks, want 3 still queued", n)
	}

	// Accepted, but more arrived since the plan: refused, nothing deleted.
	noise(t, f, 5, 1)
	if err := Confirm(p, want); err != nil {
		t.Fatal(err)
	}
	o := execute(t, env, p, nil)
	if o.Status != Refused || !strings.Contains(o.Summary, "more than the plan accepted") {
		t.Errorf("outcome %+v", o)
	}
	if n := queued(t, f); n != 8 {
		t.Errorf("queue has %d tasks after a refused FLUSHALL, want 8", n)
	}

	// Planned again and accepted: everything goes.
	p = plan(t, "flush-cache", env, map[string]string{"mode": "flushall"})
	if p.ConfirmPhrase != "drop 8 queued tasks and 3 task results" {
		t.Errorf("phrase %q", p.ConfirmPhrase)
	}
	if o := execute(t, env, p, nil); o.Status != Succeeded {
		t.Fatalf("outcome %+v", o)
	}
	if n := queued(t, f); n != 0 {
		t.Errorf("FLUSHALL left %d tasks", n)
	}
}

func TestFlushCacheUnlinkOfEverythingInASharedDBCountsCelery(t *testing.T) {
	f := newFixture(t, fixtureOptions{sharedDB: true})
	noise(t, f, 2, 1)
	f.cfg.Profile.Cache.Patterns = []string{"*"}
	p := plan(t, "flush-cache", f.env(nil), map[string]string{"mode": "unlink"})
	if p.ConfirmPhrase != "drop 2 queued tasks and 1 task result" {
		t.Errorf("a pattern matching the queue in a shared db: phrase %q", p.ConfirmPhrase)
	}
}

func TestFlushCacheWithoutABrokerIsCareful(t *testing.T) {
	f := newFixture(t, fixtureOptions{noBroker: true})
	p := plan(t, "flush-cache", f.env(nil), nil)
	if p.Facts[factFlushMode] != flushUnlink || !strings.Contains(strings.Join(p.Warnings, " "), "cannot tell") {
		t.Errorf("unknown broker: mode %s, warnings %v", p.Facts[factFlushMode], p.Warnings)
	}
}
