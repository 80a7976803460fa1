package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/clinic/clinictest"
	"steady/internal/config"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// fixture is the clinic application (clinictest) with a Target on it:
// the cache in a private Redis of its own, and a broker in another when
// asked for.
type fixture struct {
	cfg *config.Config
	tg  *target.Target
	// db writes (faults, locks); probes never get it.
	db  *pgxpool.Pool
	rdb *redis.Client
	ds  *clinic.Dataset
	dir string
}

// fixtureOptions shape a fixture; the zero value is the healthy one.
type fixtureOptions struct {
	install clinic.InstallOptions
	project clinic.ProjectOptions
	// noSeed leaves the tables empty.
	noSeed bool
	// broker gives the fixture a Celery broker in its own Redis.
	broker bool
}

func newFixture(t *testing.T, opts fixtureOptions) *fixture {
	t.Helper()
	broker := clinictest.NoBroker
	if opts.broker {
		broker = clinictest.OwnRedis
	}
	app := clinictest.New(t, clinictest.Options{Install: opts.install, Project: opts.project, NoSeed: opts.noSeed, Broker: broker})
	f := &fixture{db: app.DB, rdb: app.Cache, ds: app.Data, dir: app.Dir}
	f.setConfig(t, app.Config)
	return f
}

// setConfig replaces the fixture's configuration (and Target).
func (f *fixture) setConfig(t *testing.T, cfg *config.Config) {
	t.Helper()
	if f.tg != nil {
		f.tg.Close()
	}
	f.cfg = cfg
	f.tg = target.New(cfg)
	t.Cleanup(f.tg.Close)
}

// run runs probe id with params through Resolve, as steady check does.
func (f *fixture) run(t *testing.T, id string, params map[string]string) Result {
	t.Helper()
	p, ok := Get(id)
	if !ok {
		t.Fatalf("probe %s is not registered", id)
	}
	resolved, err := Resolve(p, params)
	if err != nil {
		t.Fatalf("resolve %s: %v", id, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := p.Run(ctx, f.tg, resolved)
	if r.Probe != id || r.Started.IsZero() || r.Duration <= 0 || r.Summary == "" {
		t.Errorf("%s: result lacks its id, start, duration or summary: %+v", id, r)
	}
	return r
}

// exec runs SQL as the application (or an operator) would, outside probes.
func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// lastMonth is the full month before the current one: seeded, summarised,
// cached, and where faults aim.
func (f *fixture) lastMonth() clinic.Period { return f.ds.Months[len(f.ds.Months)-2] }

// want fails the test unless r has the status; it prints the result.
func want(t *testing.T, r Result, status Status) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %s, want %s\n%s", r.Probe, r.Status, status, describe(r))
	}
}

// findings returns the findings of r with the given code.
func findings(r Result, code string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

// describe renders a result for failure messages.
func describe(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  summary: %s\n", r.Summary)
	if r.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", r.Error)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  [%s] %s: %s\n", f.Status, f.Code, f.Message)
	}
	for i, row := range r.Evidence.Rows {
		if i == 10 {
			fmt.Fprintf(&b, "  … %d more rows\n", len(r.Evidence.Rows)-10)
			break
		}
		fmt.Fprintf(&b, "  | %s\n", strings.Join(row, " | "))
	}
	return b.String()
}
