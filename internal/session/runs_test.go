package session

import (
	"context"
	"testing"

	"steady/actions"
	"steady/probes"
)

// consultAction consults probes the way recalculate, migrate, restart and
// repair do: test-fail while it plans, test-param (with a clinician)
// while it runs.
type consultAction struct{ cmdAction }

func (consultAction) ID() string { return "test-consult" }

func (a consultAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	res := env.Probes.RunProbe(ctx, "test-fail", nil)
	return &actions.Plan{Title: "consult", Summary: "planned from: " + res.Summary, Risk: actions.Low,
		Steps: []actions.Step{{Kind: actions.StepProbe, Text: "test-param"}}}, nil
}

func (a consultAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	res := env.Probes.RunProbe(ctx, "test-param", map[string]string{"clinician": "7"})
	if res.Status != probes.OK {
		return actions.Outcome{Status: actions.Failed, Summary: res.Summary}
	}
	unknown := env.Probes.RunProbe(ctx, "no-such-probe", nil)
	if unknown.Status != probes.Error {
		return actions.Outcome{Status: actions.Failed, Summary: "an unknown probe ran: " + unknown.Summary}
	}
	return actions.Outcome{Status: actions.Succeeded, Summary: res.Summary}
}

func init() { actions.Register(consultAction{}) }

func TestProbesAnActionRunsAreTheIncidentsOwn(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, "")
	ar, err := s.PlanAction(ctx, alice, "", "test-consult", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ar.Plan.Summary != "planned from: summary of test-fail " {
		t.Errorf("the plan did not get the probe's result: %q", ar.Plan.Summary)
	}
	if err := s.ExecuteAction(ctx, alice, ar.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "the action to finish", func(st *State) bool { return st.Action(ar.ID).Outcome != nil })
	if o := st.Action(ar.ID).Outcome; o.Status != actions.Succeeded || o.Summary != "summary of test-param 7" {
		t.Fatalf("outcome %s %q", o.Status, o.Summary)
	}

	// The journal, read back, holds both runs: started by the operator,
	// naming the action run, each with its result.
	events, _, err := ReadJournal(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	replayed := Fold(testRB(t), events)
	var ran []string
	for _, p := range replayed.Probes {
		if p.Action != ar.ID {
			continue
		}
		ran = append(ran, p.Probe)
		if p.By.Name != "alice" || p.Result == nil || p.Result.Probe != p.Probe {
			t.Errorf("%s: by %q, result %+v", p.Probe, p.By.Name, p.Result)
		}
	}
	if len(ran) != 2 || ran[0] != "test-fail" || ran[1] != "test-param" {
		t.Fatalf("probe runs of %s in the journal: %v, want test-fail then test-param (an unknown probe runs nothing)", ar.ID, ran)
	}
	if r := replayed.LastResult("test-param"); r == nil || r.Params["clinician"] != "7" {
		t.Errorf("the run's parameters are not the incident's last test-param result: %+v", r)
	}
	// A result an action saw counts like any other: test-fail decides
	// the cause "broken".
	if v := replayed.Verdicts["broken"]; v != probes.Confirmed {
		t.Errorf("cause broken is %s, want confirmed by the probe the plan ran", v)
	}
}

func TestOnlyAFixWhoseEffectIsThereIsVerified(t *testing.T) {
	ok, failed := actions.Outcome{Status: actions.Succeeded}, actions.Outcome{Status: actions.Failed}
	for _, tt := range []struct {
		name string
		plan actions.Plan
		out  actions.Outcome
		want bool
	}{
		{"a recalculation followed to the end", actions.Plan{Risk: actions.Medium}, ok, true},
		{"tasks enqueued, not followed", actions.Plan{Risk: actions.Medium, Deferred: true}, ok, false},
		{"a failed fix", actions.Plan{Risk: actions.High}, failed, false},
		{"a backup", actions.Plan{Risk: actions.Low}, ok, false},
	} {
		if got := reverifies(&tt.plan, tt.out); got != tt.want {
			t.Errorf("%s: reverifies = %v, want %v", tt.name, got, tt.want)
		}
	}
}
