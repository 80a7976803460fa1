package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"steady/internal/celery"
	"steady/internal/config"
	"steady/internal/duration"
	"steady/internal/plural"
	"steady/internal/secret"
	"steady/internal/target"
	"steady/probes"
)

// recalculateAction recomputes the stored figures of the affected
// clinicians and periods: it enqueues the application's own task
// (profile.celery.recalculate: its name, queue and parameter names, all
// learnt from the application) straight into the Redis broker with Celery
// protocol 2, then follows each task's result in the result backend until
// every one is done or failed, or actions.task_timeout passes (follow=false
// only enqueues: for thousands of scopes, where the operator watches the
// workers rather than steady). Or, in mode=command, it runs the configured
// django.recalculate command once per scope.
//
// The scopes are, in order of precedence: the clinician/from/to
// parameters, the scopes parameter (a list, or @FILE for lists longer than
// a command line takes), or the Affected scopes of the
// incident's probe results (summaries, cache, audit-concurrency,
// shift-counts) — running the first three now when none of them ran yet.
// Recalculation is idempotent, so a scope named twice costs only time.
type recalculateAction struct{}

func init() { Register(recalculateAction{}) }

// ID implements Action.
func (recalculateAction) ID() string { return "recalculate" }

// Title implements Action.
func (recalculateAction) Title() string { return "Recalculate the affected figures" }

// Params implements Action.
func (recalculateAction) Params() []probes.Param {
	return []probes.Param{
		{Name: "clinician", Kind: "int", Help: "one clinician to recalculate (with from and to)"},
		{Name: "from", Kind: "date", Help: "first day of the period (YYYY-MM-DD)"},
		{Name: "to", Kind: "date", Help: "last day of the period (YYYY-MM-DD)"},
		{Name: "scopes", Kind: "string", Help: "several scopes: clinician:from:to, comma-separated (e.g. 7:2025-03-01:2025-03-31,9:2025-03-01:2025-03-31), or @FILE with one scope per line"},
		{Name: "mode", Kind: "string", Help: "celery (enqueue the task; default when a broker is configured) or command (django.recalculate once per scope)"},
		{Name: "timeout", Kind: "duration", Help: "how long to follow the task results (default actions.task_timeout)"},
		{Name: "follow", Kind: "string", Help: "true (default): follow the task results until all are done or the timeout; false: only enqueue, then re-run summaries and cache once the workers are done"},
	}
}

// scopeProbes are the probes whose Affected scopes recalculate takes, and
// the ones it may run itself (they need no parameters).
var (
	scopeProbes    = []string{"summaries", "cache", "audit-concurrency", "shift-counts"}
	scopeProbesNow = []string{"summaries", "cache", "audit-concurrency"}
)

// ResultsHistory is implemented by a History that keeps every result of a
// probe, not only the latest. Recalculate takes the scopes of all of them:
// after a flush the cache probe finds nothing stale (the keys are gone),
// yet the scopes it named before the flush still need recalculating.
type ResultsHistory interface {
	Results(probe string) []*probes.Result
}

// Recalculate modes.
const (
	recalcCelery  = "celery"
	recalcCommand = "command"
)

// followEvery is how often the result backend is polled.
const followEvery = 250 * time.Millisecond

// Plan implements Action.
func (r recalculateAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	cfg := env.Target.Config()
	opt, err := recalcOptionsOf(cfg, params)
	if err != nil {
		return nil, err
	}
	if err := r.configured(cfg, opt.mode); err != nil {
		return nil, err
	}
	scopes, source, err := recalcScopes(ctx, env, params)
	if err != nil {
		return nil, err
	}
	plan := &Plan{
		Action: r.ID(), Title: r.Title(), Risk: Medium, Created: time.Now().UTC(), Params: copyParams(params),
		Scopes: scopes, Recheck: []string{"summaries", "cache"},
		Facts: map[string]string{"mode": opt.mode, "scopes_from": source, "timeout": opt.timeout.String()},
	}
	switch opt.mode {
	case recalcCelery:
		taskSteps(ctx, env.Target, plan, opt, source)
	case recalcCommand:
		for _, s := range scopes {
			plan.Steps = append(plan.Steps, Step{Kind: StepCommand, Text: recalcCommandLine(cfg.Django.Recalculate, s)})
		}
		plan.Steps[0].Note = inDir(cfg.Django.Dir) + "; one after the other"
		plan.Summary = fmt.Sprintf("run django.recalculate for %s (%s)", plural.Count(int64(len(scopes)), "scope", "scopes"), source)
	}
	plan.rests("mode", opt.mode)
	plan.rests("scopes", scopesText(scopes))
	if opt.mode == recalcCelery {
		plan.rests("task", cfg.Profile.Celery.Recalculate.Name+" on queue "+cfg.Profile.Celery.QueueOf())
	}
	if len(scopes) > 200 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d scopes: narrow them with clinician/from/to if the application should not recalculate this much at once", len(scopes)))
	}
	if !opt.follow {
		// Re-checking before the workers ran the tasks would show the old
		// figures as if the recalculation had not helped.
		plan.Recheck, plan.Deferred = nil, true
		return plan, nil
	}
	plan.Steps = append(plan.Steps,
		Step{Kind: StepProbe, Text: "summaries", Note: "re-run afterwards"},
		Step{Kind: StepProbe, Text: "cache", Note: "re-run afterwards"})
	return plan, nil
}

// recalcOptions are how a recalculation runs: by Celery task or command,
// how long its results are followed, and whether they are.
type recalcOptions struct {
	mode    string
	timeout time.Duration
	follow  bool
}

// recalcOptionsOf reads the mode, timeout and follow parameters, each
// defaulting from the configuration.
func recalcOptionsOf(cfg *config.Config, params map[string]string) (recalcOptions, error) {
	opt := recalcOptions{mode: params["mode"], timeout: cfg.Actions.TaskTimeout.D(), follow: true}
	if opt.mode == "" {
		opt.mode = recalcCelery
		if cfg.Broker == "" && cfg.Django.Recalculate != "" {
			opt.mode = recalcCommand
		}
	}
	if opt.mode != recalcCelery && opt.mode != recalcCommand {
		return opt, fmt.Errorf("mode %q is not celery or command", opt.mode)
	}
	if v := params["timeout"]; v != "" {
		d, err := duration.Parse(v)
		if err != nil || d <= 0 {
			return opt, fmt.Errorf("timeout %q is not a duration (e.g. 30s, 5m)", v)
		}
		opt.timeout = d
	}
	if v := params["follow"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opt, fmt.Errorf("follow %q is not true or false", v)
		}
		opt.follow = b
	}
	if !opt.follow && opt.mode != recalcCelery {
		return opt, errors.New("follow=false is for mode=celery: django.recalculate commands always run to the end")
	}
	return opt, nil
}

// configured says what the configuration lacks for the mode, if anything.
func (r recalculateAction) configured(cfg *config.Config, mode string) error {
	switch {
	case mode == recalcCelery && cfg.Broker == "":
		return &NotConfiguredError{Action: r.ID(), Key: "broker", Why: "the tasks are enqueued into the Celery broker (or set django.recalculate and use mode=command)",
			Example: "  --broker redis://cache:6379/0 (or CELERY_BROKER_URL)"}
	case mode == recalcCelery && (cfg.Profile.Celery.Recalculate.Name == "" || cfg.Profile.Celery.QueueOf() == ""):
		return &NotConfiguredError{Action: r.ID(), Key: "profile.celery.recalculate", Why: "the task to enqueue and its queue must be named (`steady init` finds the application's recalculation task)",
			Example: "  profile:\n    celery:\n      queue: celery\n      recalculate:\n        name: figures.tasks.recompute\n        params: [person_id, first_day, last_day]"}
	case mode == recalcCommand && cfg.Django.Recalculate == "":
		return &NotConfiguredError{Action: r.ID(), Key: "django.recalculate", Why: "mode=command runs it once per clinician and period",
			Example: "  django:\n    recalculate: docker compose exec -T web python manage.py recalculate --clinician {clinician} --from {from} --to {to}"}
	}
	return nil
}

// taskSteps writes a Celery recalculation's steps (one task per scope),
// facts, summary and warnings into the plan.
func taskSteps(ctx context.Context, t *target.Target, plan *Plan, opt recalcOptions, source string) {
	cfg := t.Config()
	task, queue := cfg.Profile.Celery.Recalculate.Name, cfg.Profile.Celery.QueueOf()
	params := strings.Join(cfg.Profile.Celery.Recalculate.Params, ",")
	for i, s := range plan.Scopes {
		st := Step{Kind: StepTask, Text: taskCall(task, params, s)}
		if i == 0 {
			st.Note = fmt.Sprintf("each LPUSHed as a protocol 2 message onto queue %s of %s; results followed in %s for up to %s",
				queue, secret.RedactURL(cfg.Broker), secret.RedactURL(cfg.ResultsURL()), opt.timeout)
			if !opt.follow {
				st.Note = fmt.Sprintf("each LPUSHed as a protocol 2 message onto queue %s of %s; results not followed (follow=false)", queue, secret.RedactURL(cfg.Broker))
			}
		}
		plan.Steps = append(plan.Steps, st)
	}
	plan.Facts["queue"], plan.Facts["task"] = queue, task
	if params != "" {
		plan.Facts["params"] = params
	}
	tasks := plural.Count(int64(len(plan.Scopes)), "task", "tasks")
	plan.Summary = fmt.Sprintf("enqueue %s of %s (%s) and follow their results", tasks, task, source)
	if !opt.follow {
		plan.Facts["follow"] = "false"
		plan.Summary = fmt.Sprintf("enqueue %s of %s (%s); results not followed", tasks, task, source)
		plan.Warnings = append(plan.Warnings, "follow=false: steady does not wait for the tasks; once the workers have run them, re-run the summaries and cache probes")
	}
	plan.Warnings = append(plan.Warnings, queueWarnings(ctx, t, queue)...)
}

// taskCall shows a task invocation the way Celery's argsrepr and
// kwargsrepr do; params names the task's parameters (comma-separated) when
// they are passed by name.
func taskCall(task, params string, s probes.Scope) string {
	if names := strings.Split(params, ","); len(names) == 3 {
		return fmt.Sprintf("%s(%s=%d, %s='%s', %s='%s')", task, names[0], s.Clinician, names[1], s.From, names[2], s.To)
	}
	return fmt.Sprintf("%s(%d, '%s', '%s')", task, s.Clinician, s.From, s.To)
}

// recalcTask is the task message of one scope: by name when the task's
// parameter names are known (the order of a team's parameters is theirs
// to choose), else by position.
func recalcTask(task, params string, s probes.Scope) celery.Task {
	if names := strings.Split(params, ","); len(names) == 3 {
		return celery.Task{Name: task, Kwargs: map[string]any{names[0]: s.Clinician, names[1]: s.From, names[2]: s.To}}
	}
	return celery.Task{Name: task, Args: []any{s.Clinician, s.From, s.To}}
}

// recalcCommandLine substitutes a scope into django.recalculate.
func recalcCommandLine(tmpl string, s probes.Scope) string {
	return strings.NewReplacer(
		"{clinician}", strconv.FormatInt(s.Clinician, 10),
		"{from}", target.ShellQuote(s.From),
		"{to}", target.ShellQuote(s.To),
	).Replace(tmpl)
}

// queueWarnings says when the tasks will wait, or may never run.
func queueWarnings(ctx context.Context, t *target.Target, queue string) []string {
	broker, err := t.Broker(ctx)
	if err != nil {
		return []string{"cannot reach the broker now: " + t.Scrubber.Scrub(err.Error())}
	}
	var out []string
	if n, err := celery.QueueLength(ctx, broker, queue); err == nil && n > 0 {
		out = append(out, fmt.Sprintf("%s already waiting in queue %s: these run after them", plural.Count(n, "task is", "tasks are"), queue))
	}
	if n, err := broker.Exists(ctx, "_kombu.binding."+queue).Result(); err == nil && n == 0 {
		out = append(out, "no Celery worker has declared queue "+queue+" on this broker: the tasks wait until one starts (check CELERY_BROKER_URL and the worker)")
	}
	return out
}

// recalcScopes decides what to recalculate and says where that came from.
func recalcScopes(ctx context.Context, env *Env, params map[string]string) ([]probes.Scope, string, error) {
	if given, source, err := givenScopes(params); given != nil || err != nil {
		return given, source, err
	}
	return diagnosedScopes(ctx, env)
}

// givenScopes reads the scopes the operator named: clinician, from and to
// together, or a scopes list (@FILE for a long one). It returns none when
// the operator named none.
func givenScopes(params map[string]string) ([]probes.Scope, string, error) {
	c, from, to := params["clinician"], params["from"], params["to"]
	if c != "" || from != "" || to != "" {
		if c == "" || from == "" || to == "" {
			return nil, "", errors.New("give clinician, from and to together (one clinician over one period), or scopes=clinician:from:to,…")
		}
		s, err := parseScope(c + ":" + from + ":" + to)
		if err != nil {
			return nil, "", err
		}
		return []probes.Scope{s}, "given by the operator", nil
	}
	v := params["scopes"]
	if v == "" {
		return nil, "", nil
	}
	what, source := "scopes", "given by the operator"
	if path, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("scopes: %w", err)
		}
		v, what, source = string(b), "scopes in "+path, "given by the operator in "+path
	}
	var out []probes.Scope
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(", ;\t\r\n", r) }) {
		s, err := parseScope(part)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("%s: no scope given", what)
	}
	return dedupScopes(out), source, nil
}

// diagnosedScopes are the affected scopes the incident's probe results
// name, or, when none ran or none named any, those of the probes run now.
func diagnosedScopes(ctx context.Context, env *Env) ([]probes.Scope, string, error) {
	var found []probes.Scope
	var from []string
	ran := false
	for _, p := range scopeProbes {
		var n int
		for _, r := range probeResults(env, p) {
			ran = true
			n += len(r.Affected)
			found = append(found, r.Affected...)
		}
		if n > 0 {
			from = append(from, fmt.Sprintf("%s %d", p, n))
		}
	}
	source := "findings of " + strings.Join(from, ", ")
	if !ran || len(found) == 0 {
		// Nothing diagnosed in this incident yet, or nothing affected when
		// it last was (the evidence may be older than the fault): diagnose
		// now, read-only.
		results := runProbesNow(ctx, env, scopeProbesNow)
		for i, r := range results {
			if len(r.Affected) > 0 {
				from = append(from, fmt.Sprintf("%s %d", scopeProbesNow[i], len(r.Affected)))
				found = append(found, r.Affected...)
			}
		}
		source = "probes run now: " + strings.Join(from, ", ")
	}
	found = dedupScopes(found)
	if len(found) == 0 {
		return nil, "", fmt.Errorf("no affected clinician is known: the probes (%s) name none; give clinician, from and to (steady act recalculate --clinician 7 --from 2025-03-01 --to 2025-03-31), or scopes=clinician:from:to,…", strings.Join(scopeProbes, ", "))
	}
	return found, source, nil
}

// probeResults returns every recorded result of a probe when the history
// keeps them, else the latest.
func probeResults(env *Env, probe string) []*probes.Result {
	if env.History == nil {
		return nil
	}
	if rh, ok := env.History.(ResultsHistory); ok {
		return rh.Results(probe)
	}
	if r := env.History.LastResult(probe); r != nil {
		return []*probes.Result{r}
	}
	return nil
}

// runProbesNow runs the probes at once through env's runner.
func runProbesNow(ctx context.Context, env *Env, ids []string) []probes.Result {
	out := make([]probes.Result, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i] = env.runProbe(ctx, id, nil) })
	}
	wg.Wait()
	return out
}

// parseScope reads clinician:from:to.
func parseScope(s string) (probes.Scope, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 {
		return probes.Scope{}, fmt.Errorf("%q is not clinician:from:to (e.g. 7:2025-03-01:2025-03-31)", s)
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || id <= 0 {
		return probes.Scope{}, fmt.Errorf("%q: clinician %q is not a positive whole number", s, parts[0])
	}
	for _, d := range parts[1:] {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return probes.Scope{}, fmt.Errorf("%q: %q is not a date (YYYY-MM-DD)", s, d)
		}
	}
	if parts[1] > parts[2] {
		return probes.Scope{}, fmt.Errorf("%q: the period is reversed (%s is after %s)", s, parts[1], parts[2])
	}
	return probes.Scope{Clinician: id, From: parts[1], To: parts[2]}, nil
}

func dedupScopes(in []probes.Scope) []probes.Scope {
	seen := map[probes.Scope]bool{}
	var out []probes.Scope
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Clinician != b.Clinician {
			return a.Clinician < b.Clinician
		}
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	return out
}

// scopesText lists scopes compactly, for a plan's basis.
func scopesText(scopes []probes.Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = fmt.Sprintf("%d:%s:%s", s.Clinician, s.From, s.To)
	}
	return strings.Join(parts, ",")
}

func scopeText(s probes.Scope) string {
	return fmt.Sprintf("clinician %d %s..%s", s.Clinician, s.From, s.To)
}

// Execute implements Action.
func (r recalculateAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	if plan.Facts["mode"] == recalcCommand {
		return r.executeCommands(ctx, env, plan, out)
	}
	run := &taskRun{env: env, plan: plan, out: out, started: time.Now(), queue: plan.Facts["queue"], task: plan.Facts["task"]}
	if len(plan.Scopes) == 0 {
		return run.fail("the plan has no scopes: plan again", nil)
	}
	t := env.Target
	timeout, err := duration.Parse(plan.Facts["timeout"])
	if err != nil || timeout <= 0 {
		timeout = t.Config().Actions.TaskTimeout.D()
	}
	broker, err := t.Broker(ctx)
	if err != nil {
		return run.fail("cannot reach the Celery broker; nothing was enqueued", err)
	}
	results, err := t.Results(ctx)
	if err != nil {
		return run.fail("cannot reach the Celery result backend; nothing was enqueued", err)
	}
	if err := run.enqueue(ctx, broker); err != nil {
		return run.fail("enqueueing failed", err)
	}
	if plan.Facts["follow"] == "false" {
		return Outcome{Status: Succeeded, Duration: time.Since(run.started),
			Artefacts: map[string]string{"tasks": strings.Join(run.ids, ","), "enqueued": strconv.Itoa(len(run.ids))},
			Summary: fmt.Sprintf("enqueued %s of %s onto queue %s; results not followed (follow=false): re-run summaries and cache once the workers are done",
				plural.Count(int64(len(run.ids)), "task", "tasks"), run.task, run.queue)}
	}
	return run.follow(ctx, results, timeout)
}

// taskRun is one execution of a Celery recalculation: its tasks enqueued,
// then their results followed.
type taskRun struct {
	env         *Env
	plan        *Plan
	out         Output
	started     time.Time
	queue, task string
	ids         []string
}

func (run *taskRun) fail(summary string, err error) Outcome {
	o := Outcome{Status: Failed, ExitCode: -1, Summary: summary, Duration: time.Since(run.started)}
	if err != nil {
		o.Error = run.env.Target.Scrubber.Scrub(err.Error())
	}
	return o
}

// enqueue pushes one task per scope and says each, in one batch.
func (run *taskRun) enqueue(ctx context.Context, broker redis.UniversalClient) error {
	params := run.plan.Facts["params"]
	tasks := make([]celery.Task, len(run.plan.Scopes))
	for i, s := range run.plan.Scopes {
		tasks[i] = recalcTask(run.task, params, s)
	}
	ids, err := celery.Enqueue(ctx, broker, run.queue, tasks...)
	if err != nil {
		return err
	}
	run.ids = ids
	enqueued := make([]string, len(ids))
	for i, id := range ids {
		enqueued[i] = fmt.Sprintf("enqueued %s → task %s", taskCall(run.task, params, run.plan.Scopes[i]), id)
	}
	sayAll(run.env, run.out, enqueued)
	return nil
}

// follow waits for the tasks' results until all are ready or the timeout
// passes, and says how they ended.
func (run *taskRun) follow(ctx context.Context, results redis.UniversalClient, timeout time.Duration) Outcome {
	total := len(run.ids)
	run.out.Progress(0, total, "tasks")
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, ferr := celery.Follow(fctx, results, run.ids, followEvery, func(done, failed, pending int) {
		run.out.Progress(done+failed, total, "tasks")
	})
	var ok, failed, pending []string
	var failures []string
	for i, rs := range res {
		id, what := run.ids[i], scopeText(run.plan.Scopes[i])
		switch {
		case rs.Status == celery.Success:
			ok = append(ok, id)
		case rs.Status.Ready():
			failed = append(failed, id)
			msg := string(rs.Status)
			if e := rs.Err(); e != nil {
				msg = e.Error()
			}
			failures = append(failures, what+": "+msg)
			say(run.env, run.out, "task %s (%s) failed: %s", id, what, msg)
		default:
			pending = append(pending, id)
			say(run.env, run.out, "task %s (%s) still %s", id, what, rs.Status)
		}
	}
	art := map[string]string{
		"tasks": strings.Join(run.ids, ","), "succeeded": strconv.Itoa(len(ok)),
		"failed": strconv.Itoa(len(failed)), "pending": strconv.Itoa(len(pending)),
	}
	counts := fmt.Sprintf("%d of %d tasks done, %d failed, %d still pending", len(ok), total, len(failed), len(pending))
	o := Outcome{Duration: time.Since(run.started), Artefacts: art}
	switch {
	case ctx.Err() != nil:
		o.Status, o.ExitCode = Cancelled, -1
		o.Summary = counts + " when following was cancelled; the enqueued tasks cannot be recalled and will still run (recalculation is idempotent)"
	case ferr != nil && len(pending) > 0:
		o.Status, o.ExitCode = Failed, 1
		o.Summary = fmt.Sprintf("%s after %s: is a worker consuming queue %s? The pending tasks may still run", counts, timeout, run.queue)
	case ferr != nil:
		return run.fail(counts+"; reading the results failed", ferr)
	case len(failed) > 0:
		o.Status, o.ExitCode = Failed, 1
		o.Summary = counts + ": " + strings.Join(failures, "; ")
	default:
		o.Status = Succeeded
		o.Summary = fmt.Sprintf("recalculated %s with %s: %s succeeded", plural.Count(int64(total), "scope", "scopes"), run.task, plural.All(total, "task", "tasks"))
	}
	return o
}

// executeCommands runs django.recalculate once per scope, carrying on past
// a failed scope so one bad period does not leave the others stale.
func (r recalculateAction) executeCommands(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	lines := commandSteps(plan)
	var failures []string
	done := 0
	for i, line := range lines {
		out.Progress(i, len(lines), "scopes")
		exit, err := runCommand(ctx, env, out, target.Command{Line: line, Dir: env.Target.Config().Django.Dir})
		if o := commandFailure(env, line, exit, err, started); o != nil {
			if o.Status == Cancelled {
				o.Summary += fmt.Sprintf(" (%d of %d scopes done before it)", done, len(lines))
				return *o
			}
			failures = append(failures, o.Summary)
			continue
		}
		done++
	}
	out.Progress(len(lines), len(lines), "scopes")
	o := Outcome{Duration: time.Since(started), Artefacts: map[string]string{"succeeded": strconv.Itoa(done), "failed": strconv.Itoa(len(failures))}}
	if len(failures) > 0 {
		o.Status, o.ExitCode = Failed, 1
		o.Summary = fmt.Sprintf("%d of %d scopes recalculated; %s", done, len(lines), strings.Join(failures, "; "))
		return o
	}
	o.Status = Succeeded
	o.Summary = fmt.Sprintf("recalculated %s with django.recalculate", plural.Count(int64(done), "scope", "scopes"))
	return o
}
