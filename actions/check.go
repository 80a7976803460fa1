package actions

import (
	"context"
	"fmt"
	"time"

	"steady/internal/target"
	"steady/probes"
)

// checkAction runs `manage.py check`, Django's system check: the built-in
// runbook's "check the project for problems" after a migration (Resolution
// Steps, incomplete migration, step 4). It changes nothing.
type checkAction struct{}

func init() { Register(checkAction{}) }

// ID implements Action.
func (checkAction) ID() string { return "check" }

// Title implements Action.
func (checkAction) Title() string { return "Run Django's system check" }

// Params implements Action.
func (checkAction) Params() []probes.Param { return nil }

// Plan implements Action.
func (c checkAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	manage, err := needManage(env, c.ID(), "check runs `<manage> check`")
	if err != nil {
		return nil, err
	}
	line := target.Join(manage, "check")
	return &Plan{
		Action: c.ID(), Title: c.Title(), Risk: Low, Created: time.Now().UTC(), Params: copyParams(params),
		Summary: "run " + line + " (reads the project and the database, writes nothing)",
		Steps:   []Step{{Kind: StepCommand, Text: line, Note: inDir(env.Target.Config().Django.Dir)}},
		Basis:   map[string]string{"command": line},
	}, nil
}

// Execute implements Action.
func (c checkAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	return runPlainCommand(ctx, env, plan, out, "system check passed")
}

// runPlainCommand runs a plan's one command in the Django project
// directory: check and run-tests.
func runPlainCommand(ctx context.Context, env *Env, plan *Plan, out Output, success string) Outcome {
	started := time.Now()
	lines := commandSteps(plan)
	if len(lines) != 1 {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "the plan has no command: plan again"}
	}
	exit, err := runCommand(ctx, env, out, target.Command{Line: lines[0], Dir: env.Target.Config().Django.Dir})
	if o := commandFailure(env, lines[0], exit, err, started); o != nil {
		return *o
	}
	return Outcome{Status: Succeeded, ExitCode: exit.Code, Duration: time.Since(started),
		Summary: fmt.Sprintf("%s (`%s`, %s)", success, lines[0], exit.Duration.Round(time.Millisecond))}
}
