// Package examples runs the example Django applications on Debian's Python
// packages: it finds an interpreter that has them, runs manage.py, and
// starts an application's real Celery worker, so tests of steady's probes,
// actions and Celery protocol are proven against the real thing rather than
// against steady's idea of it.
//
// There are two applications, alike in what the runbook needs (a person,
// their shifts, an audit trail, a stored monthly summary, a cached figure,
// a recalculation task) and different in every name: examples/clinic
// (Clinic) and examples/rota (Rota). What steady learns from one it must
// learn from the other through Django itself.
package examples

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"steady/internal/target"
)

// EnvPython names an interpreter to use instead of searching for one.
const EnvPython = "STEADY_PYTHON"

// DebianPackages provide what the example applications import.
const DebianPackages = "python3-django python3-celery python3-django-redis python3-psycopg2 python3-django-simple-history"

// The clinic keeps the django-redis cache and the Celery
// broker (and results) in different databases of one Redis server, as a
// careful deployment does: FLUSHDB of the cache then leaves the queue alone.
const (
	BrokerDB = 0
	CacheDB  = 1
)

// The rota keeps its cache, broker and results in three databases of its
// own, so nothing about the clinic's numbering can be taken for granted.
const (
	RotaCacheDB   = 2
	RotaBrokerDB  = 3
	RotaResultsDB = 4
)

const importCheck = "import django, celery, django_redis, psycopg2, simple_history"

var checked sync.Map // interpreter path → error (nil when usable)

// Python returns an interpreter that can import django, celery,
// django_redis, psycopg2 and simple_history: $STEADY_PYTHON if set (and
// then only it), else Debian's /usr/bin/python3, else python3 on PATH. A
// PATH python3 is often a pyenv or virtualenv interpreter without Debian's
// packages, which is why Debian's comes first.
func Python() (string, error) {
	if p := os.Getenv(EnvPython); p != "" {
		if err := usable(p); err != nil {
			return "", fmt.Errorf("%s=%s cannot run the example app: %w; install %s for it or unset %s", EnvPython, p, err, DebianPackages, EnvPython)
		}
		return p, nil
	}
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil && p != candidates[0] {
		candidates = append(candidates, p)
	}
	var tried []string
	for _, p := range candidates {
		err := usable(p)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", p, err))
	}
	return "", fmt.Errorf("no Python can %q (tried %s); on Debian 12 run `apt-get install %s`, or set %s to an interpreter that has these modules",
		importCheck, strings.Join(tried, "; "), DebianPackages, EnvPython)
}

func usable(python string) error {
	if err, ok := checked.Load(python); ok {
		return errOrNil(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", importCheck)
	// Python puts the working directory first on sys.path for -c, and a
	// directory named like a module (this repository's Go package celery)
	// would pass for it.
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		err = fmt.Errorf("%v: %s", err, lines[len(lines)-1])
	}
	checked.Store(python, err)
	return err
}

func errOrNil(v any) error {
	if v == nil {
		return nil
	}
	return v.(error)
}

// ClinicDir returns the directory of the clinic example application (the
// one holding manage.py), found beside this package's source.
func ClinicDir() (string, error) { return appDir("clinic") }

// RotaDir returns the directory of the rota example application.
func RotaDir() (string, error) { return appDir("rota") }

func appDir(name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("locate examples/%s: no caller information", name)
	}
	dir := filepath.Join(filepath.Dir(file), name)
	if _, err := os.Stat(filepath.Join(dir, "manage.py")); err != nil {
		return "", fmt.Errorf("locate examples/%s: %w; the example app is read from the source tree, so run from a checkout built without -trimpath", name, err)
	}
	return dir, nil
}

// App is an example application wired to its backing services. The zero
// values of Settings, CeleryApp, Queue and ResultsURL are the clinic's.
type App struct {
	// Dir holds manage.py.
	Dir string
	// Python runs it.
	Python string
	// DatabaseURL, CacheURL and BrokerURL become DATABASE_URL, REDIS_URL
	// and CELERY_BROKER_URL.
	DatabaseURL string
	CacheURL    string
	BrokerURL   string
	// ResultsURL becomes CELERY_RESULT_BACKEND; empty means the broker.
	ResultsURL string
	// Settings becomes DJANGO_SETTINGS_MODULE; empty means
	// "clinicsite.settings".
	Settings string
	// CeleryApp is the worker's -A; empty means "clinicsite".
	CeleryApp string
	// Queue is the one queue the worker consumes (-Q); empty means "celery".
	Queue string
	// Env adds KEY=VALUE pairs to every command, after the ones above.
	Env []string
}

// The clinic's names, which an App's empty fields stand for.
const (
	clinicSettings  = "clinicsite.settings"
	clinicCeleryApp = "clinicsite"
	clinicQueue     = "celery"
)

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// SettingsModule is DJANGO_SETTINGS_MODULE of the application.
func (a *App) SettingsModule() string { return orDefault(a.Settings, clinicSettings) }

// CeleryAppName is the Celery app the worker runs (-A).
func (a *App) CeleryAppName() string { return orDefault(a.CeleryApp, clinicCeleryApp) }

// QueueName is the queue the application's tasks go to and its worker reads.
func (a *App) QueueName() string { return orDefault(a.Queue, clinicQueue) }

// Results is CELERY_RESULT_BACKEND of the application.
func (a *App) Results() string { return orDefault(a.ResultsURL, a.BrokerURL) }

// Clinic returns the example application using databaseURL, with the
// cache in CacheDB and the broker in BrokerDB of the Redis at redisURL.
func Clinic(databaseURL, redisURL string) (*App, error) {
	python, err := Python()
	if err != nil {
		return nil, err
	}
	dir, err := ClinicDir()
	if err != nil {
		return nil, err
	}
	cache, err := RedisDB(redisURL, CacheDB)
	if err != nil {
		return nil, err
	}
	broker, err := RedisDB(redisURL, BrokerDB)
	if err != nil {
		return nil, err
	}
	return &App{Dir: dir, Python: python, DatabaseURL: databaseURL, CacheURL: cache, BrokerURL: broker,
		ResultsURL: broker, Settings: clinicSettings, CeleryApp: clinicCeleryApp, Queue: clinicQueue}, nil
}

// NewClinic is Clinic for tests: it fails the test (never skips) when the
// application cannot run here, saying what to install.
func NewClinic(t testing.TB, databaseURL, redisURL string) *App {
	t.Helper()
	app, err := Clinic(databaseURL, redisURL)
	if err != nil {
		t.Fatalf("the example Django app cannot run: %v", err)
	}
	return app
}

// Rota returns the rota example application (examples/rota) using
// databaseURL, with its cache in RotaCacheDB, its broker in RotaBrokerDB and
// its results in RotaResultsDB of the Redis at redisURL.
func Rota(databaseURL, redisURL string) (*App, error) {
	python, err := Python()
	if err != nil {
		return nil, err
	}
	dir, err := RotaDir()
	if err != nil {
		return nil, err
	}
	urls := make([]string, 3)
	for i, db := range []int{RotaCacheDB, RotaBrokerDB, RotaResultsDB} {
		if urls[i], err = RedisDB(redisURL, db); err != nil {
			return nil, err
		}
	}
	return &App{Dir: dir, Python: python, DatabaseURL: databaseURL,
		CacheURL: urls[0], BrokerURL: urls[1], ResultsURL: urls[2],
		Settings: "rotasite.settings", CeleryApp: "rotasite", Queue: "rota"}, nil
}

// NewRota is Rota for tests: it fails the test (never skips) when the
// application cannot run here, saying what to install.
func NewRota(t testing.TB, databaseURL, redisURL string) *App {
	t.Helper()
	app, err := Rota(databaseURL, redisURL)
	if err != nil {
		t.Fatalf("the rota example Django app cannot run: %v", err)
	}
	return app
}

// RedisDB returns redisURL pointing at database db.
func RedisDB(redisURL string, db int) (string, error) {
	u, err := url.Parse(redisURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return "", fmt.Errorf("%q is not a redis:// URL", redisURL)
	}
	u.Path = fmt.Sprintf("/%d", db)
	return u.String(), nil
}

// Environ is the environment of every command the application runs.
func (a *App) Environ() []string {
	return append(os.Environ(), a.OwnEnv()...)
}

// OwnEnv is what the application adds to the environment: its settings'
// variables, then Env.
func (a *App) OwnEnv() []string {
	return append([]string{
		"DATABASE_URL=" + a.DatabaseURL,
		"REDIS_URL=" + a.CacheURL,
		"CELERY_BROKER_URL=" + a.BrokerURL,
		"CELERY_RESULT_BACKEND=" + a.Results(),
		"DJANGO_SETTINGS_MODULE=" + a.SettingsModule(),
		// Keep the source tree free of __pycache__ and see output as it happens.
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	}, a.Env...)
}

// ManageLine is a shell command prefix running the application's
// manage.py with its settings from anywhere, the way a team configures
// steady's manage command (`docker compose exec -T web python manage.py`).
func (a *App) ManageLine() string {
	parts := []string{"cd", target.ShellQuote(a.Dir), "&&", "env"}
	for _, kv := range a.OwnEnv() {
		parts = append(parts, target.ShellQuote(kv))
	}
	return strings.Join(append(parts, target.ShellQuote(a.Python), "manage.py"), " ")
}

// Command returns `python args...` in the application directory, in its
// own process group, which is killed whole when ctx ends.
func (a *App) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, a.Python, args...)
	cmd.Dir = a.Dir
	cmd.Env = a.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Manage runs `manage.py args...` and returns its combined output; the
// error carries the output's tail.
func (a *App) Manage(ctx context.Context, args ...string) (string, error) {
	out, err := a.Command(ctx, append([]string{"manage.py"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("manage.py %s (in %s): %w\n%s", strings.Join(args, " "), a.Dir, err, tail(string(out), 30))
	}
	return string(out), nil
}

// MustManage is Manage for tests: it fails the test on error.
func (a *App) MustManage(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := a.Manage(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunPython runs a Python snippet with the application importable (cwd is
// the application directory, DJANGO_SETTINGS_MODULE is set; call
// django.setup() first) and returns its standard output; args are sys.argv[1:].
func (a *App) RunPython(ctx context.Context, code string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := a.Command(ctx, append([]string{"-c", code}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("python snippet in %s: %w\n%s", a.Dir, err, tail(stderr.String(), 30))
	}
	return string(out), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// logBuffer collects a process's output and wakes waiters on every write.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

// snapshot returns the text so far and a channel closed at the next write.
func (b *logBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}
