package session

import (
	"context"
	"strings"
	"sync"
	"testing"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/target"
	"steady/probes"
)

// recordAction plans one step of the text it is given and, executed,
// records the text it was handed to carry out.
type recordAction struct{}

// executed maps a plan's "id" parameter to the step text Execute got.
var executed sync.Map

func (recordAction) ID() string             { return "test-record" }
func (recordAction) Title() string          { return "test action that records what it runs" }
func (recordAction) Params() []probes.Param { return nil }
func (recordAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	return &actions.Plan{Title: "record", Risk: actions.Low, Params: p,
		Steps: []actions.Step{{Kind: actions.StepCommand, Text: p["line"]}}}, nil
}
func (recordAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	executed.Store(plan.Params["id"], plan.Steps[0].Text)
	return actions.Outcome{Status: actions.Succeeded, Summary: "recorded"}
}

func init() { actions.Register(recordAction{}) }

// runRecorded plans and executes line against a target whose database URL
// is dsn, and returns what the action was handed and the journal.
func runRecorded(t testing.TB, dsn, id, line string) (ran string, journal string) {
	t.Helper()
	cfg := config.Default()
	cfg.DB = dsn
	s, err := Open(Options{Runbook: testRB(t), Target: target.New(&cfg), Dir: t.TempDir(), Actor: alice, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ctx := context.Background()
	run, err := s.PlanAction(ctx, alice, "", "test-record", map[string]string{"line": line, "id": id})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ExecuteAction(ctx, alice, run.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	<-s.Finished(run.ID)
	v, ok := executed.LoadAndDelete(id)
	if !ok {
		t.Fatal("the action did not run")
	}
	return v.(string), string(mustRead(t, s.JournalPath()))
}

// What runs is the plan as made, byte for byte: the journal (and every
// screen) shows it scrubbed, but scrubbing never reaches what is carried
// out. With user = password, as many compose files have it, a scrubbed
// plan would have run pg_dump as ***://***@.
func TestTheExecutedPlanIsThePlanAsMade(t *testing.T) {
	tests := []struct {
		name, dsn, line, shown string
	}{
		{"user = password = the scheme", "postgres://postgres:postgres@db:5432/app",
			"pg_dump --format=custom --no-password '--dbname=postgres://postgres@db:5432/app'",
			"pg_dump --format=custom --no-password '--dbname=***://***@db:5432/app'"},
		{"a password in the configured manage command", "postgres://app:s3cret@db/app",
			"DATABASE_URL=postgres://app:s3cret@db/app python manage.py migrate --noinput",
			"DATABASE_URL=postgres://app:***@db/app python manage.py migrate --noinput"},
		{"a password that is part of a name", "postgres://app:rel_@db/rel_small",
			"pg_dump --dbname=postgres://app@db/rel_small",
			"pg_dump --dbname=postgres://app@db/rel_small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran, journal := runRecorded(t, tt.dsn, tt.name, tt.line)
			if ran != tt.line {
				t.Errorf("ran\n  %s\nwant the plan as made\n  %s", ran, tt.line)
			}
			if !strings.Contains(journal, tt.shown) {
				t.Errorf("the journal does not show the plan as %q:\n%s", tt.shown, journal)
			}
		})
	}
}

// FuzzExecutedPlan proves, for any password and any command line, that the
// action is handed the plan exactly as made, while the journal keeps no
// password standing as a token.
func FuzzExecutedPlan(f *testing.F) {
	f.Add("postgres", "pg_dump '--dbname=postgres://postgres@db/app'")
	f.Add("s3cret", "DATABASE_URL=postgres://app:s3cret@db/app manage.py migrate")
	f.Add("clinic", "psql -c 'select clinician_id from clinic_shift'")
	f.Add("**a", "echo **a*a")
	f.Fuzz(func(t *testing.T, password, line string) {
		if strings.ContainsAny(password, "@/:?#[]% \t\n") || len(password) < 3 {
			t.Skip("not a password a URL can carry unescaped")
		}
		ran, _ := runRecorded(t, "postgres://app:"+password+"@db/app", "fuzz", line)
		if ran != line {
			t.Fatalf("ran %q, the plan as made is %q", ran, line)
		}
	})
}
