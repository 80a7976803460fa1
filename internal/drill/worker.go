package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/celery"
	"steady/internal/config"
)

// WorkerOptions configure RunWorker: the sandbox to work on, and where to
// say what it does.
type WorkerOptions struct {
	// DatabaseURL, CacheURL and BrokerURL name the sandbox; results go to
	// the broker, as the drill's configuration says.
	DatabaseURL, CacheURL, BrokerURL string
	// Profile names the queue, the task and the tables; nil means
	// config.Default(), which is what a drill configures.
	Profile *config.Config
	// Out receives Celery-like log lines: "celery@sandbox ready." once
	// consuming, then one line per task.
	Out io.Writer
}

// WorkerOptionsFromEnv reads the sandbox from the drill's environment
// variables.
func WorkerOptionsFromEnv(out io.Writer) (WorkerOptions, error) {
	o := WorkerOptions{DatabaseURL: os.Getenv(EnvDatabase), CacheURL: os.Getenv(EnvCache), BrokerURL: os.Getenv(EnvBroker), Out: out}
	if o.DatabaseURL == "" || o.CacheURL == "" || o.BrokerURL == "" {
		return o, fmt.Errorf("the sandbox worker needs %s, %s and %s in its environment; `steady drill` starts it with them (it is not meant to be run by hand)", EnvDatabase, EnvCache, EnvBroker)
	}
	return o, nil
}

// ReadyLine is what the worker prints once it consumes, as Celery does; the
// drill waits for it before it says the worker is up.
const ReadyLine = "celery@sandbox ready."

// RunWorker is the sandbox's Celery worker: it consumes the broker queue
// with celery.Consume and runs calculations.tasks.recalculate_clinician
// (clinician_id, start_date, end_date) as the application does, recomputing
// the monthly summaries under the rule and caching the counts as plain
// ints. Unknown tasks fail as NotRegistered, as in Celery. It runs until ctx
// ends, finishing the task at hand first. It refuses servers that are not a
// drill's sandbox.
func RunWorker(ctx context.Context, o WorkerOptions) error {
	cfg := o.Profile
	if cfg == nil {
		d := config.Default()
		cfg = &d
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	pool, err := pgxpool.New(ctx, o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("sandbox worker: the database URL in %s does not parse", EnvDatabase)
	}
	defer pool.Close()
	if err := guardPostgres(ctx, pool); err != nil {
		return fmt.Errorf("sandbox worker: %w", err)
	}
	cache, err := redisClient(o.CacheURL, EnvCache)
	if err != nil {
		return err
	}
	defer cache.Close()
	broker, err := redisClient(o.BrokerURL, EnvBroker)
	if err != nil {
		return err
	}
	defer broker.Close()
	for _, c := range []redis.UniversalClient{cache, broker} {
		if err := guardRedis(ctx, c); err != nil {
			return fmt.Errorf("sandbox worker: %w", err)
		}
	}
	queue, task := cfg.Profile.Celery.Queue, cfg.Profile.Celery.Recalculate.Name
	// A Celery worker declares its queue's binding when it starts; steady's
	// recalculate warns when no worker ever did.
	if err := broker.SAdd(ctx, "_kombu.binding."+queue, queue+"\x06\x16\x06\x16"+queue).Err(); err != nil {
		return fmt.Errorf("sandbox worker: declare queue %s: %w", queue, err)
	}
	log := slog.New(slog.NewTextHandler(o.Out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			a.Value = slog.StringValue(a.Value.Time().UTC().Format("15:04:05.000"))
		}
		return a
	}}))
	fmt.Fprintf(o.Out, "steady sandbox worker (pid %d): [queues] .> %s  [tasks] . %s\n", os.Getpid(), queue, task)
	fmt.Fprintln(o.Out, ReadyLine)
	c := &celery.Consumer{
		Broker: broker, Queue: queue, Logger: log,
		Handlers: map[string]celery.Handler{task: RecalculateHandler(pool, cache, cfg)},
	}
	if err := c.Run(ctx); err != nil {
		return fmt.Errorf("sandbox worker: %w", err)
	}
	fmt.Fprintln(o.Out, "worker: warm shutdown (the current task was finished)")
	return nil
}

// RecalculateHandler is calculations.tasks.recalculate_clinician for the
// sandbox: arguments by position or by name, as Celery passes them.
func RecalculateHandler(pool *pgxpool.Pool, cache redis.UniversalClient, cfg *config.Config) celery.Handler {
	return func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		arg := func(i int, name string) (any, bool) {
			if i < len(args) {
				return args[i], true
			}
			v, ok := kwargs[name]
			return v, ok
		}
		raw, ok := arg(0, "clinician_id")
		if !ok {
			return nil, typeError("missing a required argument: 'clinician_id'")
		}
		clinician, err := intArg(raw)
		if err != nil {
			return nil, typeError("clinician_id: " + err.Error())
		}
		var dates [2]time.Time
		for i, name := range []string{"start_date", "end_date"} {
			v, ok := arg(i+1, name)
			if !ok {
				return nil, typeError("missing a required argument: '" + name + "'")
			}
			s, _ := v.(string)
			if dates[i], err = time.Parse(time.DateOnly, s); err != nil {
				return nil, &celery.TaskError{Type: "ValueError", Module: "builtins", Args: []any{fmt.Sprintf("Invalid isoformat string: %v", v)}}
			}
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		r, err := recalculate(ctx, tx, cfg, clinician, dates[0], dates[1])
		if err != nil {
			return nil, err
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, fmt.Errorf("commit the summaries of clinician %d: %w", clinician, err)
		}
		if err := cacheFigures(ctx, cache, r.figures); err != nil {
			return nil, err
		}
		return r.result(), nil
	}
}

func typeError(msg string) error {
	return &celery.TaskError{Type: "TypeError", Module: "builtins", Args: []any{msg}}
}

// intArg reads an id as JSON decodes it (a float64 or json.Number) or as a
// string of digits.
func intArg(v any) (int64, error) {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

func redisClient(raw, env string) (*redis.Client, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("sandbox worker: the Redis URL in %s does not parse: %w", env, err)
	}
	return redis.NewClient(opt), nil
}
