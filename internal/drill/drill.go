package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"steady/internal/celery"
	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/profile"
	"steady/internal/sandbox"
	"steady/internal/session"
	"steady/internal/target"
)

// Options tune Start.
type Options struct {
	// Scenario is a scenario name; empty means Random.
	Scenario string
	// Seed makes the data and the faults reproducible (and picks the
	// scenario for Random); 0 means 1.
	Seed int64
	// Keep puts the journal and backups under KeepDir, so they and the
	// report survive the drill. The sandbox goes regardless: its dirs hold
	// the servers' data and the configuration with the sandbox's
	// password, which no one needs once the servers are stopped.
	Keep bool
	// KeepDir is where a kept drill's journal and backups go; empty means
	// ./incidents/drills.
	KeepDir string
	// Log receives progress lines while the drill is built; nil discards
	// them.
	Log io.Writer
	// Executable is the steady binary the drill's commands and worker
	// run; empty means this program (os.Executable).
	Executable string
	// Now is the moment the data is "as of"; zero means time.Now().
	Now time.Time
}

// Drill is a running practice incident: the sandbox with its faults, its
// worker, and the configuration that points steady at it.
type Drill struct {
	// Scenario is the scenario being played (for Random, the one picked).
	Scenario Scenario
	// Seed is the seed it was built with; `steady drill NAME --seed N`
	// builds the same drill again.
	Seed int64
	// Briefing is what the trainee is told: the symptom as a user
	// reported it.
	Briefing string
	// Config points steady at the sandbox with nothing configured by the
	// user: servers, the Django profile and the commands of the built-in
	// migrator, worker restart and tests, journal and backup dirs.
	Config config.Config
	// ConfigFile is Config written as a steady.yaml (mode 0600, it holds
	// the sandbox's password) for `steady --config` in another terminal.
	ConfigFile string
	// Dir is the drill's own dir: the Django project files, the worker's
	// log, the control socket and the configuration (and journal and
	// backups unless Keep). It goes with the sandbox.
	Dir string
	// Data describes the seeded data set.
	Data *clinic.Dataset
	// Kept is the dir that holds a kept drill's journal and backups
	// (Options.Keep), or "".
	Kept string

	sb      *sandbox.Sandbox
	sup     *supervisor
	control *controlServer

	closeOnce sync.Once
	closeErr  error
}

// NewSeed returns a seed for a drill nobody asked to replay: small enough
// to read out and type again.
func NewSeed() int64 { return 1 + rand.Int64N(999_999) }

// Start builds a drill: it starts the sandbox, installs and seeds the
// application's database, warms the cache, starts the worker, lets it run
// a few ordinary tasks, injects the scenario's faults and writes the
// configuration. On error, and when ctx ends, nothing is left running.
func Start(ctx context.Context, o Options) (_ *Drill, err error) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	sc, err := Resolve(o.Scenario, o.Seed)
	if err != nil {
		return nil, err
	}
	exe := o.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find steady's own binary for the drill's commands: %w", err)
		}
	}
	progress := o.Log
	if progress == nil {
		progress = io.Discard
	}
	say := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }

	started := time.Now()
	say("starting PostgreSQL and Redis (private, on 127.0.0.1, in temp dirs)…")
	sb, err := sandbox.Start(ctx, sandbox.Options{Database: "clinic"})
	if err != nil {
		return nil, fmt.Errorf("start the drill's sandbox: %w", err)
	}
	d := &Drill{Scenario: sc, Seed: o.Seed, sb: sb}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Close())
		}
	}()
	say("  PostgreSQL %s and Redis %s ready in %s", sb.Postgres.Dir(), sb.Redis.Dir(), time.Since(started).Round(100*time.Millisecond))

	project, journal, backups, err := d.makeDirs(o)
	if err != nil {
		return nil, err
	}
	d.Config = drillConfig(sb, exe, d.Dir, project, journal, backups)

	pool, err := pgxpool.New(ctx, sb.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the sandbox database: %w", err)
	}
	defer pool.Close()
	cache := redis.NewClient(mustRedisOptions(d.Config.Redis))
	defer cache.Close()
	broker := redis.NewClient(mustRedisOptions(d.Config.Broker))
	defer broker.Close()

	if err := d.populate(ctx, o, pool, cache, say); err != nil {
		return nil, err
	}
	if err := d.startWorker(ctx, exe, broker, say); err != nil {
		return nil, err
	}

	say("injecting %s…", sc.Name)
	f := &fixture{db: pool, cache: cache, cfg: &d.Config, seed: o.Seed, data: d.Data}
	if d.Briefing, err = sc.inject(ctx, f); err != nil {
		return nil, fmt.Errorf("inject %s: %w", sc.Name, err)
	}
	d.ConfigFile = filepath.Join(d.Dir, "steady.yaml")
	if err := writeConfig(d.ConfigFile, &d.Config); err != nil {
		return nil, err
	}
	say("ready in %s", time.Since(started).Round(100*time.Millisecond))
	return d, nil
}

// makeDirs creates the drill's files: the Django project, the journal and
// the backups. They live in the Redis dir: the sandbox removes them with it,
// and its reaper kills whatever names them if we are killed; a kept drill's
// journal and backups go to its own dir instead.
func (d *Drill) makeDirs(o Options) (project, journal, backups string, err error) {
	d.Dir = filepath.Join(d.sb.Redis.Dir(), "drill")
	project = filepath.Join(d.Dir, "project")
	if err := os.MkdirAll(project, 0o700); err != nil {
		return "", "", "", fmt.Errorf("create the drill dir: %w", err)
	}
	if err := clinic.WriteProject(project, clinic.ProjectOptions{}); err != nil {
		return "", "", "", err
	}
	journal, backups = filepath.Join(d.Dir, "journal"), filepath.Join(d.Dir, "backups")
	if o.Keep {
		base := o.KeepDir
		if base == "" {
			base = filepath.Join("incidents", "drills")
		}
		kept := filepath.Join(base, fmt.Sprintf("%s-%s-%d", time.Now().UTC().Format("20060102-150405"), d.Scenario.Name, o.Seed))
		if kept, err = filepath.Abs(kept); err != nil {
			return "", "", "", err
		}
		journal, backups = filepath.Join(kept, "journal"), filepath.Join(kept, "backups")
		d.Kept = kept
	}
	for _, dir := range []string{journal, backups} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", "", fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return project, journal, backups, nil
}

// populate installs the Django schema, seeds the clinic and warms the cache.
func (d *Drill) populate(ctx context.Context, o Options, pool *pgxpool.Pool, cache *redis.Client, say func(string, ...any)) error {
	say("installing the Django schema (%d migrations)…", len(clinic.Migrations))
	if err := clinic.Install(ctx, pool, clinic.InstallOptions{}); err != nil {
		return err
	}
	const clinicians, monthsSeeded = 40, 3
	say("seeding %d clinicians over %d months…", clinicians, monthsSeeded)
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var err error
	if d.Data, err = clinic.Seed(ctx, pool, clinic.SeedOptions{Clinicians: clinicians, Months: monthsSeeded, Seed: o.Seed, Now: now}); err != nil {
		return err
	}
	say("  %s shifts, %s audit rows, %s summaries", thousands(d.Data.Shifts), thousands(d.Data.AuditRows), thousands(d.Data.Summaries))
	n, err := clinic.WarmCache(ctx, pool, cache, &d.Config, clinic.CacheOptions{})
	if err != nil {
		return err
	}
	say("warming the django-redis cache… %s cached shift counts", thousands(n))
	return nil
}

// startWorker starts the Celery worker under its supervisor, listens for
// the drill's control commands, and has it run some routine tasks.
func (d *Drill) startWorker(ctx context.Context, exe string, broker *redis.Client, say func(string, ...any)) error {
	say("starting the Celery worker (steady's built-in, protocol 2)…")
	d.sup = &supervisor{exe: exe, dir: d.Dir, env: workerEnv(d.Env()), log: workerLog(d.Dir)}
	pid, err := d.sup.Start(ctx)
	if err != nil {
		return err
	}
	if d.control, err = listenControl(d.Dir, d.sup); err != nil {
		return err
	}
	done, err := runNoise(ctx, broker, &d.Config, d.Data, d.Seed)
	if err != nil {
		return err
	}
	say("  worker pid %d ran %d routine tasks", pid, done)
	return nil
}

// drillConfig points steady at the sandbox: the cache in Redis db 1, the
// broker (and results) in db 0 of the same instance, as the example
// clinic application has them; the manage, restart and test commands are steady's own hidden
// sandbox commands.
func drillConfig(sb *sandbox.Sandbox, exe, dir, project, journal, backups string) config.Config {
	cfg := config.Default()
	cfg.DB = sb.DatabaseURL
	cfg.Redis = sb.Redis.URL(1)
	cfg.Broker = sb.Redis.URL(0)
	cfg.JournalDir, cfg.BackupDir = journal, backups
	steady := target.ShellQuote(exe)
	cfg.Django.Dir = project
	cfg.Django.Manage = steady + " sandbox manage"
	cfg.Django.Test = cfg.Django.Manage + " test calculations"
	cfg.Django.Restart = []string{steady + " sandbox restart worker --drill " + target.ShellQuote(dir)}
	// A drill is short: a task that has not run in a minute will not.
	cfg.Actions.TaskTimeout = config.Duration(time.Minute)
	// The sandbox's manage.py is steady's own, with no Python models to
	// save through: lost values are restored by SQL, the before-image
	// journaled.
	cfg.Actions.RepairMode = "sql"
	// Nor has it the application's code to call: the probes judge by
	// steady's reading of the rule, rather than warn on every run that
	// the calculator could not start.
	cfg.Profile.Calculator = profile.Calculator{}
	return cfg
}

// Env returns the environment variables the drill's commands need, as
// KEY=VALUE: the sandbox's URLs, which never go on a command line. The
// process that runs the drill's actions (steady drill, or a `steady act`
// pointed at ConfigFile) must have them.
func (d *Drill) Env() []string {
	return []string{EnvDatabase + "=" + d.Config.DB, EnvCache + "=" + d.Config.Redis, EnvBroker + "=" + d.Config.Broker}
}

// workerEnv is the whole environment of a worker process: enough to run,
// and the sandbox; nothing of the caller's that could point it elsewhere.
func workerEnv(sandboxEnv []string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "NO_COLOR=1"}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return append(env, sandboxEnv...)
}

// Session returns the drill as the incident records it.
func (d *Drill) Session() *session.Drill {
	return &session.Drill{Scenario: d.Scenario.Name, Seed: d.Seed, Causes: append([]string(nil), d.Scenario.Causes...), Resolution: d.Scenario.ResolutionText}
}

// Banner is the TUI's drill banner text (the TUI prefixes "DRILL:").
func (d *Drill) Banner() string {
	return fmt.Sprintf("%s (seed %d) — sandbox, nothing real is touched", d.Scenario.Name, d.Seed)
}

// Replay is the command line that builds this drill again.
func (d *Drill) Replay() string {
	return fmt.Sprintf("steady drill %s --seed %d", d.Scenario.Name, d.Seed)
}

// WorkerPID returns the running worker's process id, or 0.
func (d *Drill) WorkerPID() int {
	if d.sup == nil {
		return 0
	}
	return d.sup.PID()
}

// Dirs returns the sandbox's temp dirs (the drill dir is inside the Redis
// one): what Close removes.
func (d *Drill) Dirs() []string {
	var out []string
	if d.sb != nil && d.sb.Postgres != nil {
		out = append(out, d.sb.Postgres.Dir())
	}
	if d.sb != nil && d.sb.Redis != nil {
		out = append(out, d.sb.Redis.Dir())
	}
	return out
}

// Close stops the worker and the servers and removes the temp dirs. It is
// idempotent.
func (d *Drill) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if d.control != nil {
			d.control.Close()
		}
		if d.sup != nil {
			errs = append(errs, d.sup.Stop())
		}
		if d.sb != nil {
			errs = append(errs, d.sb.Close())
		}
		if d.closeErr = errors.Join(errs...); d.closeErr != nil {
			d.closeErr = fmt.Errorf("tear down the drill: %w", d.closeErr)
		}
	})
	return d.closeErr
}

// runNoise has the worker run a few ordinary recalculations before any
// fault exists, so the broker looks lived in: a declared queue, results
// kept for a day. They recalculate healthy data and change nothing; run
// later, they could repair a fault before the trainee sees it.
func runNoise(ctx context.Context, broker redis.UniversalClient, cfg *config.Config, data *clinic.Dataset, seed int64) (int, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7a5c))
	month := data.Months[len(data.Months)-1]
	var tasks []celery.Task
	for _, i := range rng.Perm(len(data.Clinicians))[:4] {
		tasks = append(tasks, celery.Task{Name: cfg.Profile.Celery.Recalculate.Name, Args: []any{data.Clinicians[i], month.FromDate(), month.ToDate()}})
	}
	ids, err := celery.Enqueue(ctx, broker, cfg.Profile.Celery.Queue, tasks...)
	if err != nil {
		return 0, fmt.Errorf("enqueue the routine tasks: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	results, err := celery.Follow(ctx, broker, ids, 50*time.Millisecond, nil)
	if err != nil {
		return 0, fmt.Errorf("the sandbox worker did not run the routine tasks: %w", err)
	}
	for _, r := range results {
		if r.Status != celery.Success {
			return 0, fmt.Errorf("a routine task failed in the sandbox worker: %s %v", r.Status, r.Err())
		}
	}
	return len(results), nil
}

// writeConfig writes cfg as a steady.yaml only this user can read.
func writeConfig(path string, cfg *config.Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode the drill's configuration: %w", err)
	}
	header := "# steady drill: the configuration of a throwaway sandbox; it dies with the drill.\n"
	if err := os.WriteFile(path, append([]byte(header), data...), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func mustRedisOptions(raw string) *redis.Options {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		// The sandbox built this URL itself.
		panic("drill: sandbox Redis URL does not parse: " + err.Error())
	}
	return opt
}

// thousands writes 1834 as "1,834".
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
