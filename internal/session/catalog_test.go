package session

import "testing"

func TestProbeSaysWhatAnItemsRunAsksFor(t *testing.T) {
	s, _ := openTest(t, "")
	asks, ok := s.Probe("diagnosis-3", "test-param")
	if !ok || asks.Title != "test probe test-param" || len(asks.Needs) != 1 || asks.Needs[0].Name != "clinician" {
		t.Errorf("the item that asks for a clinician: %+v, %v", asks, ok)
	}
	if p, ok := s.Probe("diagnosis-1", "test-ok"); !ok || len(p.Needs) != 0 {
		t.Errorf("a probe without parameters asks for %+v (%v)", p.Needs, ok)
	}
	if _, ok := s.Probe("", "no-such-probe"); ok {
		t.Error("an unknown probe is described")
	}
}

func TestRelatedRunbooksAreTheOthersKnown(t *testing.T) {
	s, _ := openTest(t, "")
	names := s.RelatedRunbooks()
	if len(names) == 0 {
		t.Fatal("a runbook that names none is offered no other runbook, though steady has built-in ones")
	}
	for _, n := range names {
		if n == s.Runbook().Name {
			t.Errorf("the incident's own runbook %s is offered as related", n)
		}
	}
	rb, err := s.ReadRunbook(names[0])
	if err != nil || rb.Name != names[0] || len(rb.Sections) == 0 {
		t.Errorf("read %s: %v, %+v", names[0], err, rb)
	}
	if _, err := s.ReadRunbook("no-such-runbook"); err == nil {
		t.Error("an unknown runbook reads without an error")
	}
}
