package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"steady/internal/celery"
	"steady/internal/duration"
	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
)

// restartAction runs the configured restart commands (django.restart,
// e.g. `docker compose restart web`) one after the other, each followed by
// a health check: the connectivity probe passes, and the Celery queue
// drains (its length falls, or is zero) within the health timeout. The
// first command or check that fails stops the rest.
type restartAction struct{}

func init() { Register(restartAction{}) }

// ID implements Action.
func (restartAction) ID() string { return "restart" }

// Title implements Action.
func (restartAction) Title() string { return "Restart the application's processes" }

// defaultHealthTimeout bounds each health check after a restart command.
const defaultHealthTimeout = 60 * time.Second

// Params implements Action.
func (restartAction) Params() []probes.Param {
	return []probes.Param{{Name: "health_timeout", Kind: "duration", Default: defaultHealthTimeout.String(),
		Help: "how long each health check after a restart may take (connectivity, queue draining)"}}
}

// Health-check step texts, as the plan shows them and Execute reads them.
const (
	healthProbe = "connectivity"
	drainPrefix = "LLEN "
)

// Plan implements Action.
func (r restartAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	if len(cfg.Django.Restart) == 0 {
		return nil, &NotConfiguredError{Action: r.ID(), Key: "django.restart", Why: "steady does not guess how the application's processes are restarted",
			Example: "  django:\n    restart:\n      - docker compose restart web\n      - docker compose restart celery_worker"}
	}
	timeout := defaultHealthTimeout
	if v := params["health_timeout"]; v != "" {
		d, err := duration.Parse(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("health_timeout %q is not a duration (e.g. 30s, 2m)", v)
		}
		timeout = d
	}
	queue := cfg.Profile.Celery.QueueOf()
	plan := &Plan{
		Action: r.ID(), Title: r.Title(), Risk: High, Destructive: true, ConfirmPhrase: restartPhrase(t),
		Created: time.Now().UTC(), Params: copyParams(params), Recheck: []string{"connectivity"},
		Facts: map[string]string{"health_timeout": timeout.String()},
	}
	drain := cfg.Broker != "" && queue != ""
	if drain {
		if broker, err := t.Broker(ctx); err != nil {
			plan.Warnings = append(plan.Warnings, "cannot read the Celery queue now ("+t.Scrubber.Scrub(err.Error())+"): the draining check will fail unless the broker comes back")
		} else if n, err := celery.QueueLength(ctx, broker, queue); err == nil {
			plan.Facts["queue_length"] = fmt.Sprint(n)
		}
	} else {
		plan.Warnings = append(plan.Warnings, "no Celery broker configured (--broker): the health check after each restart is the connectivity probe only")
	}
	for _, line := range cfg.Django.Restart {
		plan.Steps = append(plan.Steps, Step{Kind: StepCommand, Text: line, Note: inDir(cfg.Django.Dir)})
		plan.Steps = append(plan.Steps, Step{Kind: StepProbe, Text: healthProbe, Note: "must pass within " + timeout.String() + " (retried every second)"})
		if drain {
			plan.Steps = append(plan.Steps, Step{Kind: StepRedis, Text: drainPrefix + queue,
				Note: "the Celery queue (with its priority lists) must be empty or getting shorter within " + timeout.String() + ": a worker is consuming"})
		}
	}
	plan.rests("commands", strings.Join(cfg.Django.Restart, " ; "))
	plan.Summary = fmt.Sprintf("run %s in order, each followed by a health check", plural.Count(int64(len(cfg.Django.Restart)), "restart command", "restart commands"))
	if n, ok := plan.Facts["queue_length"]; ok {
		plan.Summary += fmt.Sprintf(" (%s tasks queued now)", n)
	}
	return plan, nil
}

// restartPhrase is what an operator types to restart: the database name
// (the application's identity in steady), else the Redis name.
func restartPhrase(t *target.Target) string {
	if n := t.DBName(); n != "" {
		return n
	}
	if n := t.RedisName(); n != "" {
		return n
	}
	return "restart"
}

// Execute implements Action.
func (r restartAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	timeout, err := duration.Parse(plan.Facts["health_timeout"])
	if err != nil || timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	dir := env.Target.Config().Django.Dir
	art := map[string]string{}
	ran := 0
	for _, step := range plan.Steps {
		switch step.Kind {
		case StepCommand:
			exit, err := runCommand(ctx, env, out, target.Command{Line: step.Text, Dir: dir})
			if o := commandFailure(env, step.Text, exit, err, started); o != nil {
				o.Summary += fmt.Sprintf(" (%d of %d restart commands done before it)", ran, len(commandSteps(plan)))
				o.Artefacts = art
				return *o
			}
			ran++
			art[fmt.Sprintf("command_%d", ran)] = step.Text + ": " + exit.String()
		case StepProbe:
			if msg, ok := healthy(ctx, env, out, step.Text, timeout); !ok {
				return restartUnhealthy(ctx, started, art, msg)
			}
		case StepRedis:
			queue, _ := strings.CutPrefix(step.Text, drainPrefix)
			if msg, ok := draining(ctx, env, out, queue, timeout); !ok {
				return restartUnhealthy(ctx, started, art, msg)
			}
		}
	}
	return Outcome{Status: Succeeded, Duration: time.Since(started), Artefacts: art,
		Summary: fmt.Sprintf("%s run, each followed by a passing health check", plural.Count(int64(ran), "restart command", "restart commands"))}
}

func restartUnhealthy(ctx context.Context, started time.Time, art map[string]string, msg string) Outcome {
	if ctx.Err() != nil {
		return Outcome{Status: Cancelled, ExitCode: -1, Duration: time.Since(started), Artefacts: art, Summary: "cancelled during a health check: " + msg}
	}
	return Outcome{Status: Failed, ExitCode: -1, Duration: time.Since(started), Artefacts: art, Summary: "health check failed: " + msg}
}

// healthy runs a probe until it neither fails nor errors, or timeout.
func healthy(ctx context.Context, env *Env, out Output, probe string, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		res := env.runProbe(ctx, probe, nil)
		msg := fmt.Sprintf("%s probe: %s — %s", probe, res.Status, env.Target.Scrubber.Scrub(res.Summary))
		if res.Status != probes.Fail && res.Status != probes.Error {
			say(env, out, "%s", msg)
			return msg, true
		}
		select {
		case <-ctx.Done():
			return msg + fmt.Sprintf(" (still failing after %s)", timeout), false
		case <-time.After(time.Second):
		}
	}
}

// draining waits until the Celery queue is empty or shorter than when the
// check began, which shows a worker consuming it.
func draining(ctx context.Context, env *Env, out Output, queue string, timeout time.Duration) (string, bool) {
	broker, err := env.Target.Broker(ctx)
	if err != nil {
		return "cannot reach the broker: " + env.Target.Scrubber.Scrub(err.Error()), false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	first, err := celery.QueueLength(ctx, broker, queue)
	if err != nil {
		return err.Error(), false
	}
	n := first
	for {
		if n == 0 || n < first {
			msg := fmt.Sprintf("queue %s draining: %d → %d", queue, first, n)
			say(env, out, "%s", msg)
			return msg, true
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("queue %s did not drain: %s, still %d after %s; is a worker running? (look at its logs)", queue, plural.Count(first, "task", "tasks"), n, timeout), false
		case <-time.After(500 * time.Millisecond):
		}
		m, err := celery.QueueLength(ctx, broker, queue)
		if err != nil {
			if ctx.Err() != nil {
				continue // the select above reports the timeout
			}
			return err.Error(), false
		}
		n = m
	}
}
