package profile

import (
	"strings"
	"testing"
	"time"
)

func TestWorkedKeyMatcher(t *testing.T) {
	c := Example().Cache
	c.KeyPrefix, c.Version = "clinic.v2", 3
	parse, glob := c.WorkedKeyMatcher()
	key := c.WorkedKeyOf(42, "2026-02-01", "2026-02-28")
	if key != "clinic.v2:3:shiftcount:42:2026-02-01:2026-02-28" {
		t.Errorf("WorkedKeyOf = %q", key)
	}
	kp, ok := parse(key)
	if !ok || kp.Clinician != 42 || !kp.To.Equal(time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("parse(%s) = %+v, %v", key, kp, ok)
	}
	if glob != "clinic.v2:3:shiftcount:*:*:*" {
		t.Errorf("glob %q", glob)
	}
	// Another application's layout: placeholders in another order, glob
	// characters in the prefix.
	c = Cache{KeyPrefix: "ro[ta]", Version: 2, WorkedKey: "tally/{from}/{to}/member-{clinician}"}
	parse, glob = c.WorkedKeyMatcher()
	key = c.WorkedKeyOf(7, "2025-01-01", "2025-01-31")
	if kp, ok := parse(key); !ok || kp.Clinician != 7 || kp.From.Day() != 1 {
		t.Errorf("parse(%s) = %+v, %v", key, kp, ok)
	}
	if glob != `ro\[ta\]:2:tally/*/*/member-*` {
		t.Errorf("glob %q", glob)
	}
	for _, bad := range []string{"ro[ta]:2:tally/2025-01-01/2025-01-31/member-", "ro[ta]:2:tally/2025-01-01/2025-01-31/member-7x",
		"ro[ta]:1:tally/2025-01-01/2025-01-31/member-7", "ro[ta]:2:tally/2025-13-01/2025-01-31/member-7", "ro[ta]:2:tally/2025-01-01/member-7"} {
		if _, ok := parse(bad); ok {
			t.Errorf("parse(%s) took a key the template does not make", bad)
		}
	}
	c.WorkedKey = "tally:{clinician}"
	if parse, _ := c.WorkedKeyMatcher(); parse != nil {
		t.Error("a template without dates cannot be compared")
	}
	c.WorkedKey, c.CustomKeyFunction = "tally/{from}/{to}/member-{clinician}", true
	if c.WorkedKeyOf(7, "a", "b") != "" {
		t.Error("with a custom KEY_FUNCTION steady cannot build keys")
	}
}

func TestRuleSQL(t *testing.T) {
	s := Shift{Table: "rostering_duty", ID: "id", Clinician: "member_id", Date: "day", Duration: "hours", Status: "state",
		Worked: []string{"done", "it's"}, Cancelled: []string{"called_off"}, PositiveDuration: true}
	if got := s.WorkedSQL("x"); got != `(x."state" IN ('done', 'it''s') AND x."hours" > 0)` {
		t.Errorf("WorkedSQL = %s", got)
	}
	if got := s.WithCancelledSQL(""); !strings.Contains(got, `'called_off'`) {
		t.Errorf("WithCancelledSQL = %s", got)
	}
	s.Cancelled = nil
	if got := s.CancelledSQL(""); got != "(false)" {
		t.Errorf("CancelledSQL with no cancelled values = %s", got)
	}
	if got := s.RuleText(); got != "state in (done, it's) with hours > 0" {
		t.Errorf("RuleText = %s", got)
	}
	if got := Ident("public.Odd Table"); got != `"public"."Odd Table"` {
		t.Errorf("Ident = %s", got)
	}
}

func TestValidate(t *testing.T) {
	p := Example()
	if errs := p.Validate(); len(errs) != 0 {
		t.Fatalf("the example profile is invalid: %v", errs)
	}
	p.Shift.Worked = nil
	p.Audit.Kind = "journal"
	p.Cache.WorkedKey = "count:{clinician}"
	p.Calculator.Clinician = "pk"
	errs := strings.Join(p.Validate(), "\n")
	for _, want := range []string{"shift.worked", "audit.kind", "lacks {from}", "calculator.clinician"} {
		if !strings.Contains(errs, want) {
			t.Errorf("Validate() does not mention %s:\n%s", want, errs)
		}
	}
}

func TestParseDateAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{"2026-02-28", "2024-02-29", "2025-02-29", "2026-13-01", "2026-00-10", "2026-01-32", "2026-1-01", "20a6-01-01", "2026-04-31", "0001-01-01", "2026/01/01"} {
		want, err := time.Parse(time.DateOnly, s)
		got, ok := parseDate(s)
		if ok != (err == nil) || (ok && !got.Equal(want)) {
			t.Errorf("parseDate(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
		}
	}
}
