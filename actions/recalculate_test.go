package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"steady/internal/celery"
	"steady/probes"
)

func TestRecalculateScopes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	found := &history{results: map[string][]*probes.Result{
		// The cache probe named a stale scope before a flush, and nothing
		// after it: the scope must not be forgotten.
		"cache": {
			{Probe: "cache", Status: probes.Fail, Affected: []probes.Scope{{Clinician: 3, From: "2025-03-01", To: "2025-03-31"}}},
			{Probe: "cache", Status: probes.OK},
		},
		"summaries": {{Probe: "summaries", Status: probes.Fail, Affected: []probes.Scope{
			{Clinician: 3, From: "2025-03-01", To: "2025-03-31"}, {Clinician: 1, From: "2025-02-01", To: "2025-02-28"}}}},
	}}
	for _, tc := range []struct {
		name   string
		h      History
		params map[string]string
		want   string
		source string
	}{
		{"probe findings, all results, deduplicated", found, nil, "1:2025-02-01:2025-02-28 3:2025-03-01:2025-03-31", "findings of summaries 2, cache 1"},
		{"the operator's clinician and period win", found, map[string]string{"clinician": "9", "from": "2025-01-01", "to": "2025-01-31"}, "9:2025-01-01:2025-01-31", "given by the operator"},
		{"a list of scopes", found, map[string]string{"scopes": "5:2025-01-01:2025-01-31, 4:2025-01-01:2025-01-31"}, "4:2025-01-01:2025-01-31 5:2025-01-01:2025-01-31", "given by the operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, "recalculate", f.env(tc.h), tc.params)
			var got []string
			for _, s := range p.Scopes {
				got = append(got, fmt.Sprintf("%d:%s:%s", s.Clinician, s.From, s.To))
			}
			if strings.Join(got, " ") != tc.want || p.Facts["scopes_from"] != tc.source {
				t.Errorf("scopes %v from %q, want %s from %q", got, p.Facts["scopes_from"], tc.want, tc.source)
			}
			if len(p.Steps) != len(p.Scopes)+2 || p.Steps[0].Kind != StepTask {
				t.Errorf("steps %+v", p.Steps)
			}
		})
	}

	for _, bad := range []map[string]string{
		{"clinician": "3"},
		{"clinician": "3", "from": "2025-03-31", "to": "2025-03-01"},
		{"scopes": "3:2025-03"},
		{"scopes": "x:2025-03-01:2025-03-31"},
	} {
		a, _ := Get("recalculate")
		if _, err := a.Plan(context.Background(), f.env(found), bad); err == nil {
			t.Errorf("params %v accepted", bad)
		}
	}

	// Probes ran and named nobody: say how to give a scope.
	a, _ := Get("recalculate")
	_, err := a.Plan(context.Background(), f.env(&history{results: map[string][]*probes.Result{"cache": {{Status: probes.OK}}}}), nil)
	if err == nil || !strings.Contains(err.Error(), "--clinician") {
		t.Errorf("no scope known: %v", err)
	}
}

func TestRecalculateRunsTheProbesWhenNoneRanYet(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	// A healthy clinic: the probes run now and find nothing to do.
	a, _ := Get("recalculate")
	_, err := a.Plan(context.Background(), f.env(&history{}), nil)
	if err == nil || !strings.Contains(err.Error(), "name none") {
		t.Errorf("err %v", err)
	}
}

func TestRecalculateEnqueuesAndFollows(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	scopes := "1:2025-01-01:2025-01-31,2:2025-01-01:2025-01-31,3:2025-01-01:2025-01-31"
	p := plan(t, "recalculate", env, map[string]string{"scopes": scopes, "timeout": "20s"})
	if p.Steps[0].Text != "calculations.tasks.recalculate_clinician(clinician_id=1, start_date='2025-01-01', end_date='2025-01-31')" {
		t.Errorf("task step %q", p.Steps[0].Text)
	}
	if w := strings.Join(p.Warnings, " "); !strings.Contains(w, "no Celery worker has declared queue celery") {
		t.Errorf("warnings %v", p.Warnings)
	}

	// steady's own protocol-2 consumer stands in for the worker here (the
	// real one is in the end-to-end test); clinician 2 fails.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen [][]any
	c := &celery.Consumer{Broker: f.broker, Queue: "celery", Handlers: map[string]celery.Handler{
		"calculations.tasks.recalculate_clinician": func(ctx context.Context, _ []any, kw map[string]any) (any, error) {
			// The task's parameters are passed by name, as the profile names them.
			args := []any{kw["clinician_id"], kw["start_date"], kw["end_date"]}
			mu.Lock()
			seen = append(seen, args)
			mu.Unlock()
			if fmt.Sprint(args[0]) == "2" {
				return nil, &celery.TaskError{Type: "Clinician.DoesNotExist", Args: []any{"Clinician matching query does not exist."}}
			}
			return map[string]any{"clinician_id": args[0]}, nil
		},
	}}
	go c.Run(ctx)
	out := newRecorder()
	o := execute(t, env, p, out)
	cancel()
	if o.Status != Failed || o.Artefacts["succeeded"] != "2" || o.Artefacts["failed"] != "1" ||
		!strings.Contains(o.Summary, "clinician 2 2025-01-01..2025-01-31: Clinician.DoesNotExist: Clinician matching query does not exist.") {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	if len(out.progress) == 0 || out.progress[len(out.progress)-1] != [2]int{3, 3} {
		t.Errorf("progress %v", out.progress)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || fmt.Sprint(seen[0]) != "[1 2025-01-01 2025-01-31]" {
		t.Errorf("the worker saw %v", seen)
	}
}

func TestRecalculateWithoutAWorkerTimesOut(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	p := plan(t, "recalculate", env, map[string]string{"clinician": "1", "from": "2025-01-01", "to": "2025-01-31", "timeout": "1s"})
	o := execute(t, env, p, nil)
	if o.Status != Failed || o.Artefacts["pending"] != "1" || !strings.Contains(o.Summary, "is a worker consuming queue celery") {
		t.Errorf("outcome %+v", o)
	}
	// What was pushed is a message the real worker accepts.
	raw, err := f.broker.LIndex(context.Background(), "celery", 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := celery.Validate([]byte(raw)); err != nil {
		t.Errorf("enqueued message: %v", err)
	}
}

func TestRecalculateCommandMode(t *testing.T) {
	f := newFixture(t, fixtureOptions{noBroker: true})
	env := f.env(nil)
	a, _ := Get("recalculate")
	_, err := a.Plan(context.Background(), env, map[string]string{"clinician": "1", "from": "2025-01-01", "to": "2025-01-31"})
	var nc *NotConfiguredError
	if !errors.As(err, &nc) || nc.Key != "broker" {
		t.Errorf("no broker and no command: %v", err)
	}
	f.cfg.Django.Recalculate = "echo recalc {clinician} {from} {to}"
	p := plan(t, "recalculate", env, map[string]string{"scopes": "1:2025-01-01:2025-01-31,2:2025-02-01:2025-02-28"})
	if p.Facts["mode"] != "command" || p.Steps[1].Text != "echo recalc 2 2025-02-01 2025-02-28" {
		t.Fatalf("plan %+v", p)
	}
	out := newRecorder()
	if o := execute(t, env, p, out); o.Status != Succeeded || !strings.Contains(out.text(), "stdout: recalc 1 2025-01-01 2025-01-31") {
		t.Errorf("outcome %+v\n%s", o, out.text())
	}
}

func TestRecalculateScopesFromAFile(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	path := filepath.Join(t.TempDir(), "scopes.txt")
	if err := os.WriteFile(path, []byte("2:2025-01-01:2025-01-31\n1:2025-01-01:2025-01-31\r\n\n2:2025-01-01:2025-01-31\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := plan(t, "recalculate", f.env(nil), map[string]string{"scopes": "@" + path})
	if len(p.Scopes) != 2 || p.Scopes[0].Clinician != 1 || p.Facts["scopes_from"] != "given by the operator in "+path {
		t.Errorf("scopes %+v from %q", p.Scopes, p.Facts["scopes_from"])
	}

	a, _ := Get("recalculate")
	if err := os.WriteFile(path, []byte("1:2025-01-01:2025-01-31\n1:2025-01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{path: "scopes in " + path + `: "1:2025-01"`, path + ".missing": "no such file"} {
		if _, err := a.Plan(context.Background(), f.env(nil), map[string]string{"scopes": "@" + file}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scopes=@%s: %v, want %q", file, err, want)
		}
	}
}

func TestRecalculateFollowFalseOnlyEnqueues(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	p := plan(t, "recalculate", env, map[string]string{"scopes": "1:2025-01-01:2025-01-31,2:2025-01-01:2025-01-31", "follow": "false"})
	// Re-checking before a worker ran the tasks would show the old figures.
	if len(p.Recheck) != 0 || !p.Deferred || len(p.Steps) != 2 || !strings.Contains(p.Summary, "results not followed") {
		t.Errorf("plan: recheck %v, deferred %v, steps %+v, summary %q", p.Recheck, p.Deferred, p.Steps, p.Summary)
	}
	// No worker consumes the queue: following would wait for the timeout.
	o := execute(t, env, p, nil)
	if o.Status != Succeeded || o.Artefacts["enqueued"] != "2" || len(strings.Split(o.Artefacts["tasks"], ",")) != 2 {
		t.Errorf("outcome %+v", o)
	}
	if n, err := f.broker.LLen(context.Background(), "celery").Result(); err != nil || n != 2 {
		t.Errorf("queue length %d, %v", n, err)
	}

	a, _ := Get("recalculate")
	for _, bad := range []map[string]string{
		{"clinician": "1", "from": "2025-01-01", "to": "2025-01-31", "follow": "maybe"},
		{"clinician": "1", "from": "2025-01-01", "to": "2025-01-31", "follow": "false", "mode": "command"},
	} {
		if _, err := a.Plan(context.Background(), env, bad); err == nil {
			t.Errorf("params %v accepted", bad)
		}
	}
}
