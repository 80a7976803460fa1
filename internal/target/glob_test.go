package target

import "testing"

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*shiftcount:*", ":1:shiftcount:7:2025-01-01:2025-01-31", true},
		{"*shiftcount:*", "celery", false},
		{"*", "celery", true},
		{"cel?ry", "celery", true},
		{"celery-task-meta-*", "celery-task-meta-abc", true},
		{"[a-c]elery", "celery", true},
		{"[^c]elery", "celery", false},
		{`\*x`, "*x", true},
		{"*shiftcount:*", ":1:shiftcount:7:2026-01-01:2026-01-31", true},
		{":1:shiftcount:*:*:*", ":1:shiftcount:7:2026-01-01:2026-01-31", true},
		{"app:*", ":1:shiftcount:7", false},
		{"h?llo", "hello", true},
		{"h[ae]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-c]llo", "hbllo", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"**x", "abx", true},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}
