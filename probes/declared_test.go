package probes

import (
	"testing"

	"steady/internal/profile"
)

func TestNormalizeCheckComparesDjangoWithPostgres(t *testing.T) {
	for _, c := range []struct {
		django, postgres string
		same             bool
	}{
		{`"duration" > 0`, `CHECK ((duration > (0)::numeric))`, true},
		{`"hours" > 0`, `CHECK ((hours > (0)::numeric)) NOT VALID`, true},
		{`"state" IN ('planned', 'done')`, `CHECK (((state)::text = ANY ((ARRAY['planned'::character varying, 'done'::character varying])::text[])))`, true},
		{`("a" >= 0 AND "b" < 5)`, `CHECK (((a >= 0) AND (b < 5)))`, true},
		{`"duration" > 0`, `CHECK ((duration >= (0)::numeric))`, false},
	} {
		if got := normalizeCheck(c.django) == normalizeCheck(c.postgres); got != c.same {
			t.Errorf("%s vs %s: same=%v (%q vs %q)", c.django, c.postgres, got, normalizeCheck(c.django), normalizeCheck(c.postgres))
		}
	}
}

func TestMatchByNameThenByDefinition(t *testing.T) {
	live := []liveConstraint{
		{name: "rostering_duty_member_id_day_kind_3d548f20_uniq", kind: profile.Unique, columns: []string{"day", "kind", "member_id"}, validated: true},
		{name: "hours_positive", kind: profile.Check, columns: []string{"hours"}, def: "CHECK ((hours > (0)::numeric))", validated: true},
		{name: "state_known", kind: profile.Check, columns: []string{"state"}, def: "CHECK (((state)::text = 'done'::text))", validated: true},
	}
	// Django named the unique constraint itself: matched by its columns.
	if l, how, _ := match(profile.Constraint{Kind: profile.Unique, Columns: []string{"member_id", "day", "kind"}}, live); l == nil || how != "by definition" {
		t.Errorf("unique_together: %v %s", l, how)
	}
	// Renamed in the database: matched by its definition.
	if l, how, _ := match(profile.Constraint{Name: "duty_hours_gt_zero", Kind: profile.Check, Columns: []string{"hours"}, Check: `"hours" > 0`}, live); l == nil || l.name != "hours_positive" || how != "by definition" {
		t.Errorf("renamed check: %v %s", l, how)
	}
	// Another condition on the same column: not a match, but named as near.
	l, _, near := match(profile.Constraint{Name: "duty_state_known", Kind: profile.Check, Columns: []string{"state"}, Check: `"state" IN ('done', 'verified')`}, live)
	if l != nil || near == nil || near.name != "state_known" {
		t.Errorf("a different check: %v, near %v", l, near)
	}
}
