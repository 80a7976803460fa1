package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"500ms", 500 * time.Millisecond}, {"90s", 90 * time.Second}, {"1h30m", 90 * time.Minute},
		{"7d", 7 * 24 * time.Hour}, {"1.5d", 36 * time.Hour}, {"30", 30 * time.Second}, {"0", 0},
		{"2 hours", 2 * time.Hour}, {"30 minutes", 30 * time.Minute}, {"1 day", 24 * time.Hour}, {" 4H ", 4 * time.Hour},
	} {
		if got, err := Parse(tt.in); err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "soon", "7 fortnights", "d", "1x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
}

func TestPositive(t *testing.T) {
	if got, err := Positive("2 hours"); err != nil || got != 2*time.Hour {
		t.Errorf("Positive(2 hours) = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "0s", "-5m", "never"} {
		if _, err := Positive(bad); err == nil {
			t.Errorf("Positive(%q) took it", bad)
		}
	}
}
