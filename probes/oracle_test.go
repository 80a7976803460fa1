package probes

import (
	"strings"
	"testing"

	"steady/examples"
)

// The application's own calculator is the oracle: run through the example
// application's manage command against the same database, it decides
// whether a stored or cached figure is right, and steady's SQL reading of
// the rule only finds candidates — a wrong reading is reported as such,
// never as broken data.
func TestTheApplicationsCalculatorIsTheOracle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	app := examples.NewClinic(t, f.cfg.DB, f.cfg.Redis)
	cfg := *f.cfg
	cfg.Django.Manage = app.ManageLine()
	f.setConfig(t, &cfg)
	m := f.lastMonth()
	scope := map[string]string{"clinician": "2", "from": m.FromDate(), "to": m.ToDate()}
	call := cfg.Profile.Calculator.Call

	t.Run("healthy: the application's figure agrees with every other", func(t *testing.T) {
		r := f.run(t, "shift-counts", scope)
		want(t, r, OK)
		if len(r.Evidence.Rows) != 4 || r.Evidence.Rows[0][0] != "application ("+call+")" || r.Evidence.Rows[0][1] != r.Evidence.Rows[1][1] {
			t.Errorf("want the application's figure first, equal to steady's reading:\n%s", describe(r))
		}
		if !strings.Contains(r.Summary, "by the application's calculator") {
			t.Errorf("summary %q does not say whose figure it is", r.Summary)
		}
		r = f.run(t, "summaries", nil)
		want(t, r, OK)
		if len(findings(r, "summaries.calculator")) != 1 || len(findings(r, "summaries.reading")) != 0 || !strings.Contains(r.Summary, call) {
			t.Errorf("the calculator should have checked a sample and agreed:\n%s", describe(r))
		}
	})

	t.Run("a wrong reading of the rule is reported, not the data", func(t *testing.T) {
		misread := cfg
		misread.Profile.Shift.Worked = []string{"COMPLETED", "SCHEDULED"}
		misread.Profile.Shift.Cancelled = nil
		g := *f
		g.setConfig(t, &misread)
		r := g.run(t, "shift-counts", map[string]string{"clinician": "1", "from": f.ds.Months[len(f.ds.Months)-1].FromDate(), "to": f.ds.Months[len(f.ds.Months)-1].ToDate()})
		if r.Status == Fail || len(findings(r, "counts.reading")) != 1 {
			t.Errorf("want a warning about the reading, no failure:\n%s", describe(r))
		}
		r = g.run(t, "summaries", nil)
		if r.Status == Fail || len(findings(r, "summaries.reading")) != 1 {
			t.Errorf("want a warning about the reading, no failure:\n%s", describe(r))
		}
	})

	t.Run("a calculator that cannot run falls back to the reading and says so", func(t *testing.T) {
		broken := cfg
		broken.Profile.Calculator.Call = "calculations.shift_counter.NoSuchCounter().count"
		g := *f
		g.setConfig(t, &broken)
		r := g.run(t, "shift-counts", scope)
		w := findings(r, "counts.calculator")
		if r.Status != Warn || len(w) != 1 || !strings.Contains(w[0].Message, "NoSuchCounter") || !strings.Contains(r.Summary, "steady's reading") {
			t.Errorf("want a warning naming the calculator and steady's reading used instead:\n%s", describe(r))
		}
	})
}
