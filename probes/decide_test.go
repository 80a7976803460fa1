package probes

import "testing"

func TestDecide(t *testing.T) {
	r := func(s Status) *Result { return &Result{Status: s} }
	tests := []struct {
		name    string
		results []*Result
		want    Verdict
	}{
		{"no probes bound", nil, Unknown},
		{"not run yet", []*Result{nil}, Unknown},
		{"failed", []*Result{r(Fail)}, Confirmed},
		{"one of two failed, other not run", []*Result{nil, r(Fail)}, Confirmed},
		{"passed", []*Result{r(OK)}, RuledOut},
		{"passed with a warning", []*Result{r(Warn)}, RuledOut},
		{"could not run", []*Result{r(Error)}, Unknown},
		{"skipped", []*Result{r(Skipped)}, Unknown},
		{"one passed, one not run", []*Result{r(OK), nil}, Unknown},
	}
	for _, tt := range tests {
		if got := Decide(tt.results); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestResolveChecksRangeAndRequired(t *testing.T) {
	p := declared{params: []Param{{Name: "clinician", Kind: "int", Required: true}, {Name: "from", Kind: "date", Required: true}, {Name: "to", Kind: "date", Required: true}}}
	if _, err := Resolve(p, map[string]string{"clinician": "ask", "from": "2025-03-01", "to": "2025-03-31"}); err == nil {
		t.Error("an unanswered ask was accepted")
	}
	if _, err := Resolve(p, map[string]string{"clinician": "7", "from": "2025-03-31", "to": "2025-03-01"}); err == nil {
		t.Error("a reversed range was accepted")
	}
	got, err := Resolve(p, map[string]string{"clinician": "ask"}, map[string]string{"clinician": "7", "from": "2025-03-01", "to": "2025-03-31"})
	if err != nil || got["clinician"] != "7" {
		t.Errorf("resolve: %v %v", got, err)
	}
	if n := NeedsInput(p, map[string]string{"clinician": "ask", "from": "2025-03-01"}); len(n) != 2 {
		t.Errorf("needs input %v, want clinician and to", n)
	}
}

// declared is a probe that only declares parameters.
type declared struct {
	Probe
	params []Param
}

func (d declared) ID() string      { return "declared" }
func (d declared) Params() []Param { return d.params }
