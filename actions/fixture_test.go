package actions

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/clinic/clinictest"
	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
	"steady/probes"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// fixture is the clinic application (clinictest) with a Target on it:
// by default one private Redis with the cache in db 1 and the Celery
// broker in db 0, backups written to a directory of the test's own.
type fixture struct {
	cfg *config.Config
	tg  *target.Target
	db  *pgxpool.Pool
	// cache and broker are direct clients for the test's own checks.
	cache, broker *redis.Client
	ds            *clinic.Dataset
	dir           string
}

type fixtureOptions struct {
	install clinic.InstallOptions
	// sharedDB puts the broker in the cache's db, as a careless deployment does.
	sharedDB bool
	// noBroker leaves the broker unconfigured.
	noBroker bool
}

func newFixture(t *testing.T, opts fixtureOptions) *fixture {
	t.Helper()
	broker := clinictest.SameRedis
	switch {
	case opts.sharedDB:
		broker = clinictest.SharedDB
	case opts.noBroker:
		broker = clinictest.NoBroker
	}
	app := clinictest.New(t, clinictest.Options{Install: opts.install, Broker: broker})
	app.Config.BackupDir = filepath.Join(t.TempDir(), "backups")
	app.Config.Actions.KillGrace = config.Duration(2 * time.Second)
	f := &fixture{cfg: app.Config, db: app.DB, cache: app.Cache, broker: app.Broker, ds: app.Data, dir: app.Dir}
	f.tg = target.New(f.cfg)
	t.Cleanup(f.tg.Close)
	return f
}

// env returns an Env on the fixture's target with h as history.
func (f *fixture) env(h History) *Env {
	return &Env{Target: f.tg, History: h, Probes: direct{f.tg}, Operator: "alice"}
}

// direct is a ProbeRunner that runs probes on a target and records
// nothing, standing in for the session's.
type direct struct{ t *target.Target }

func (d direct) RunProbe(ctx context.Context, id string, params map[string]string) probes.Result {
	p, ok := probes.Get(id)
	if !ok {
		return probes.Result{Probe: id, Status: probes.Error, Summary: "no probe " + id}
	}
	resolved, err := probes.Resolve(p, params)
	if err != nil {
		return probes.Result{Probe: id, Status: probes.Error, Summary: err.Error()}
	}
	return p.Run(ctx, d.t, resolved)
}

// script writes an executable shell script into the fixture's directory
// and returns its path.
func (f *fixture) script(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// history is a History for tests: backups and probe results as given.
type history struct {
	backups []Backup
	results map[string][]*probes.Result
	orphans []Orphan
}

func (h *history) Orphans() []Orphan { return h.orphans }

func (h *history) VerifiedBackups(db string) []Backup {
	var out []Backup
	for _, b := range h.backups {
		if b.Database == db {
			out = append(out, b)
		}
	}
	return out
}

func (h *history) LastResult(p string) *probes.Result {
	if rs := h.results[p]; len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return nil
}

func (h *history) Results(p string) []*probes.Result { return h.results[p] }

// recorder is an Output that keeps everything and lets a test wait for a
// line.
type recorder struct {
	mu       sync.Mutex
	lines    []string
	progress [][2]int
	changed  chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Line(stream, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, stream+": "+text)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) Progress(done, total int, label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, [2]int{done, total})
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// waitFor waits until a line containing s was written.
func (r *recorder) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		ch := r.changed
		found := strings.Contains(strings.Join(r.lines, "\n"), s)
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no output line containing %q within %s; output:\n%s", s, timeout, r.text())
		}
	}
}

// plan plans an action, failing the test on error.
func plan(t *testing.T, id string, env *Env, params map[string]string) *Plan {
	t.Helper()
	a, ok := Get(id)
	if !ok {
		t.Fatalf("no action %q", id)
	}
	p, err := a.Plan(context.Background(), env, params)
	if err != nil {
		t.Fatalf("plan %s: %v", id, err)
	}
	return p
}

// execute runs a plan the way the session does: the guard first, then Execute.
func execute(t *testing.T, env *Env, p *Plan, out Output) Outcome {
	t.Helper()
	return executeCtx(context.Background(), t, env, p, out)
}

func executeCtx(ctx context.Context, t *testing.T, env *Env, p *Plan, out Output) Outcome {
	t.Helper()
	if o := RefusedBy(p, env); o != nil {
		return *o
	}
	a, _ := Get(p.Action)
	if out == nil {
		out = newRecorder()
	}
	return a.Execute(ctx, env, p, out)
}

// precondition returns the plan's precondition whose name starts with name.
func precondition(t *testing.T, p *Plan, name string) Precondition {
	t.Helper()
	for _, c := range p.Preconditions {
		if strings.HasPrefix(c.Name, name) {
			return c
		}
	}
	t.Fatalf("plan %s has no precondition %q: %+v", p.Action, name, p.Preconditions)
	return Precondition{}
}

// gone waits until a process no longer exists (or is a zombie of an
// exited parent, which init reaps).
func gone(pid int, timeout time.Duration) bool {
	return poll.Within(timeout, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		i := strings.LastIndexByte(string(b), ')')
		return i > 0 && strings.HasPrefix(string(b[i+1:]), " Z")
	})
}

// readPIDs waits for a file of whitespace-separated pids and returns them.
func readPIDs(t *testing.T, path string, n int, timeout time.Duration) []int {
	t.Helper()
	var pids []int
	poll.Until(t, timeout, fmt.Sprintf("%s to name %d pids", path, n), func() bool {
		b, _ := os.ReadFile(path)
		pids = nil
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil {
				pids = append(pids, pid)
			}
		}
		return len(pids) >= n
	}, nil)
	return pids
}
