package actions

import (
	"context"
	"time"

	"steady/probes"
)

// runTests runs the configured business-rule test command (django.test):
// the built-in runbook's "Verify: all business-rule tests pass" after a
// calculation fix (Resolution Steps, business rule issues, step 3).
type runTests struct{}

func init() { Register(runTests{}) }

// ID implements Action.
func (runTests) ID() string { return "run-tests" }

// Title implements Action.
func (runTests) Title() string { return "Run the business-rule tests" }

// Params implements Action.
func (runTests) Params() []probes.Param { return nil }

// Plan implements Action.
func (r runTests) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	cfg := env.Target.Config()
	line := cfg.Django.Test
	if line == "" {
		return nil, &NotConfiguredError{Action: r.ID(), Key: "django.test", Why: "steady does not guess how the application's tests run",
			Example: "  django:\n    test: docker compose exec -T web python manage.py test"}
	}
	return &Plan{
		Action: r.ID(), Title: r.Title(), Risk: Low, Created: time.Now().UTC(), Params: copyParams(params),
		Summary: "run the configured test command (django.test)",
		Steps:   []Step{{Kind: StepCommand, Text: line, Note: inDir(cfg.Django.Dir) + "; bounded by actions.command_timeout"}},
		Basis:   map[string]string{"command": line},
	}, nil
}

// Execute implements Action.
func (r runTests) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	return runPlainCommand(ctx, env, plan, out, "the tests passed")
}
