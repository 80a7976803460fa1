package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"steady/examples"
	"steady/internal/profile"
	"steady/internal/sandbox"
)

// Env is what every comparison runs against: one sandbox, one data set,
// the binary under test and the example Django application.
type Env struct {
	// Repo is the checkout; commands are shown relative to it.
	Repo string
	// Steady is the binary under test (bin/steady).
	Steady string
	// Work is a scratch directory for journals, backups and scripts; it is
	// the working directory of steady's commands, so no steady.yaml of the
	// checkout is picked up.
	Work string
	Log  io.Writer

	SB     *sandbox.Sandbox
	DB     *pgx.Conn
	Cache  *redis.Client
	Broker *redis.Client
	Data   *Dataset
	Clinic *examples.App
	// Python is the interpreter that runs the example app.
	Python string

	// RedisNice is the nice value redis-server runs at (RedisNice, or 0
	// when it could not be raised).
	RedisNice int

	// URLs of the application's services, as DATABASE_URL, REDIS_URL and
	// CELERY_BROKER_URL.
	DatabaseURL, CacheURL, BrokerURL string
}

// RedisNice is the nice value the bench gives the sandbox's redis-server.
const RedisNice = -10

// Tools are the programs the comparisons run besides steady, with the
// Debian package of each.
var Tools = [][2]string{
	{"psql", "postgresql-client"}, {"pg_dump", "postgresql-client"}, {"pg_restore", "postgresql-client"},
	{"redis-cli", "redis-tools"}, {"tmux", "tmux"}, {"/usr/bin/time", "time"},
	{"xargs", "findutils"}, {"wc", "coreutils"}, {"bash", "bash"},
}

// CheckTools reports every missing tool at once, with what to install.
func CheckTools() error {
	var missing, packages []string
	for _, t := range Tools {
		if _, err := exec.LookPath(t[0]); err != nil {
			missing = append(missing, t[0])
			if !slices.Contains(packages, t[1]) {
				packages = append(packages, t[1])
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: apt-get install %s (make deps installs all but time)", strings.Join(missing, ", "), strings.Join(packages, " "))
	}
	return nil
}

// Open starts the sandbox (cache in db examples.CacheDB, broker in
// examples.BrokerDB of one Redis, as the example app deploys them) and
// connects to it; Close tears everything down.
func Open(ctx context.Context, repo, steadyBin, work string, log io.Writer) (_ *Env, err error) {
	e := &Env{Repo: repo, Work: work, Log: log}
	if e.Steady, err = filepath.Abs(steadyBin); err != nil {
		return nil, err
	}
	if _, err := os.Stat(e.Steady); err != nil {
		return nil, fmt.Errorf("the binary under test: %w (run `make build` first)", err)
	}
	if e.Python, err = examples.Python(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	// The cluster archives WAL, as production clusters of this size do, for
	// the restore point row; archive_command stays 'true' (discarding) but
	// for that row, so the bulk load is not copied.
	if e.SB, err = sandbox.Start(ctx, sandbox.Options{Log: log, Postgres: sandbox.PostgresOptions{Archive: true}}); err != nil {
		return nil, err
	}
	// The machine may be shared: another process preempting redis-server
	// in the middle of a command would show up in SLOWLOG as a slow
	// command of whoever sent it. A higher priority (as a dedicated Redis
	// host effectively has) keeps SLOWLOG about the commands.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, e.SB.Redis.PID(), RedisNice); err != nil {
		fmt.Fprintf(log, "bench: could not raise redis-server's priority (%v); SLOWLOG will include preemption by other processes\n", err)
		e.RedisNice = 0
	} else {
		e.RedisNice = RedisNice
	}
	e.DatabaseURL = e.SB.DatabaseURL
	if e.CacheURL, err = examples.RedisDB(e.SB.RedisURL, examples.CacheDB); err != nil {
		return nil, err
	}
	if e.BrokerURL, err = examples.RedisDB(e.SB.RedisURL, examples.BrokerDB); err != nil {
		return nil, err
	}
	if e.Clinic, err = examples.Clinic(e.DatabaseURL, e.SB.RedisURL); err != nil {
		return nil, err
	}
	// Bytecode of the app goes to the scratch dir rather than nowhere, so
	// Python starts the way it does on a deployed app (compiled once).
	e.Clinic.Env = append(e.Clinic.Env, "PYTHONDONTWRITEBYTECODE=", "PYTHONPYCACHEPREFIX="+filepath.Join(work, "pycache"))
	// The example application's profile, as `steady init` writes it for a
	// team once: every steady command reads it instead of learning again.
	prof, err := yaml.Marshal(map[string]any{"profile": profile.Example()})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(e.ConfigFile(), prof, 0o600); err != nil {
		return nil, fmt.Errorf("write the bench's steady.yaml: %w", err)
	}
	if e.DB, err = pgx.Connect(ctx, e.DatabaseURL); err != nil {
		return nil, fmt.Errorf("connect to the sandbox database: %w", err)
	}
	if err := e.archiveInto(ctx, false); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dst **redis.Client
		url string
	}{{&e.Cache, e.CacheURL}, {&e.Broker, e.BrokerURL}} {
		opts, err := redis.ParseURL(c.url)
		if err != nil {
			return nil, err
		}
		*c.dst = redis.NewClient(opts)
	}
	return e, nil
}

// Close stops the sandbox and closes the connections.
func (e *Env) Close() error {
	var errs []error
	if e.DB != nil {
		errs = append(errs, e.DB.Close(context.Background()))
	}
	for _, c := range []*redis.Client{e.Cache, e.Broker} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	if e.SB != nil {
		errs = append(errs, e.SB.Close())
	}
	return errors.Join(errs...)
}

// BuildData builds the data set once for every comparison.
func (e *Env) BuildData(ctx context.Context, size Size) error {
	ds, err := Build(ctx, e.DB, e.Cache, e.Broker, size, e.Log)
	if err != nil {
		return err
	}
	e.Data = ds
	return nil
}

// SteadyEnv is the environment of every steady command: the application's
// services as an on-call engineer's shell has them, the example app as
// the Django project, and journals and backups in dirs of the scratch dir.
func (e *Env) SteadyEnv() []string {
	return []string{
		"DATABASE_URL=" + e.DatabaseURL,
		"REDIS_URL=" + e.CacheURL,
		"CELERY_BROKER_URL=" + e.BrokerURL,
		"CELERY_RESULT_BACKEND=",
		"STEADY_DJANGO_DIR=" + e.Clinic.Dir,
		"STEADY_JOURNAL_DIR=" + e.JournalDir(),
		"STEADY_BACKUP_DIR=" + e.BackupDir(),
		"STEADY_CONFIG=" + e.ConfigFile(),
		"STEADY_MANAGE=",
	}
}

// ConfigFile is the bench's steady.yaml: the example application's
// profile, nothing else.
func (e *Env) ConfigFile() string { return filepath.Join(e.Work, "profile.yaml") }

// JournalDir is where steady's commands journal their incidents; the
// comparisons empty it before each run so every run opens a new incident.
func (e *Env) JournalDir() string { return filepath.Join(e.Work, "incidents") }

// BackupDir is where steady's backups go.
func (e *Env) BackupDir() string { return filepath.Join(e.Work, "backups") }

// freshDir empties dir.
func freshDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}
