package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"steady/internal/target"
	"steady/internal/visible"
)

// runCommand runs one command line of a plan with `sh -c`, in its own
// process group, bounded by actions.command_timeout; cancellation sends
// SIGINT to the group and SIGKILL after actions.kill_grace. Every line is
// scrubbed of the target's secrets before it reaches out, because commands
// such as pg_dump echo their connection string in errors.
func runCommand(ctx context.Context, env *Env, out Output, c target.Command) (target.Exit, error) {
	cfg := env.Target.Config()
	say(env, out, "$ %s", c.Line)
	return target.Run(ctx, c, target.RunOptions{
		Timeout: cfg.Actions.CommandTimeout.D(),
		Grace:   cfg.Actions.KillGrace.D(),
		OnStart: func(pid int) { say(env, out, "%s", target.StartedLine(pid)) },
		OnLine: func(l target.Line) {
			out.Line(l.Stream, env.Target.Scrubber.Scrub(l.Text))
		},
	})
}

// say writes one line of steady's own narration, scrubbed like the rest.
func say(env *Env, out Output, format string, args ...any) {
	out.Line(StreamSteady, env.Target.Scrubber.Scrub(fmt.Sprintf(format, args...)))
}

// sayAll writes lines of steady's narration that belong to one moment,
// scrubbed, as one batch where the output can take one.
func sayAll(env *Env, out Output, texts []string) {
	for i, t := range texts {
		texts[i] = env.Target.Scrubber.Scrub(t)
	}
	if b, ok := out.(BatchOutput); ok {
		b.Lines(StreamSteady, texts)
		return
	}
	for _, t := range texts {
		out.Line(StreamSteady, t)
	}
}

// commandFailure turns a command that did not end well into an outcome:
// cancelled (by the operator or the timeout) or failed, with its exit.
// It returns nil when the command succeeded.
func commandFailure(env *Env, line string, exit target.Exit, err error, started time.Time) *Outcome {
	o := &Outcome{ExitCode: exit.Code, Duration: time.Since(started)}
	switch {
	case err != nil:
		o.Status, o.ExitCode = Failed, -1
		o.Error = env.Target.Scrubber.Scrub(err.Error())
		o.Summary = "could not start `" + line + "`: " + o.Error
	case exit.TimedOut:
		o.Status = Failed
		o.Summary = fmt.Sprintf("`%s` %s (actions.command_timeout %s in steady.yaml); it was stopped with SIGINT, then SIGKILL", line, exit, env.Target.Config().Actions.CommandTimeout)
	case exit.Cancelled:
		o.Status = Cancelled
		o.Summary = fmt.Sprintf("`%s` %s: stopped with SIGINT, then SIGKILL after the grace period", line, exit)
	case !exit.OK():
		o.Status = Failed
		o.Summary = fmt.Sprintf("`%s` failed: %s", line, exit) + lastWords(env, exit)
	default:
		return nil
	}
	return o
}

// lastWords quotes the end of a failed command's stderr for its outcome,
// which the screen, the journal and the report all show: the output pane
// scrolls, and "exit 1" alone does not say the disk is full. Secrets are
// scrubbed and control characters made visible, as in the output itself.
func lastWords(env *Env, exit target.Exit) string {
	var said []string
	for _, l := range exit.Stderr[max(0, len(exit.Stderr)-3):] {
		if l = strings.TrimSpace(visible.Text(env.Target.Scrubber.Scrub(l))); l != "" {
			said = append(said, l)
		}
	}
	if len(said) == 0 {
		return ""
	}
	return "; it said: " + strings.Join(said, " / ")
}

// refusedNow re-evaluates preconditions at execution time: a plan may be
// minutes old, and what held then (a backup, free space) must hold now.
func refusedNow(env *Env, fresh []Precondition) *Outcome {
	return RefusedBy(&Plan{Preconditions: fresh}, env)
}

// commandSteps returns the texts of the plan's command steps, in order.
func commandSteps(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Kind == StepCommand {
			out = append(out, s.Text)
		}
	}
	return out
}

// inDir is a step note naming the directory a command runs in.
func inDir(dir string) string {
	if dir == "" {
		return "runs in steady's working directory"
	}
	return "runs in " + dir
}

// copyParams keeps the parameters a plan was made with.
func copyParams(params map[string]string) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		out[k] = v
	}
	return out
}

// humanBytes writes a size the way df -h does.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
