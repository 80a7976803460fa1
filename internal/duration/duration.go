// Package duration is the one reading of a duration that steady.yaml, the
// runbooks' front matter and steady blocks, probe parameters and action
// parameters share: Go's ("500ms", "90s", "1h30m"), days ("7d", "1.5d"),
// plain seconds ("30"), and words ("2 hours", "30 minutes", "1 day").
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads a duration in any of the forms above. Whether zero or a
// negative value makes sense is the caller's to say.
func Parse(s string) (time.Duration, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if d, err := time.ParseDuration(t); err == nil {
		return d, nil
	}
	if n, ok := strings.CutSuffix(t, "d"); ok {
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return scaled(f, 24*time.Hour), nil
		}
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return scaled(f, time.Second), nil
	}
	if fields := strings.Fields(t); len(fields) == 2 {
		if f, err := strconv.ParseFloat(fields[0], 64); err == nil {
			if unit, ok := units[strings.TrimSuffix(fields[1], "s")]; ok {
				return scaled(f, unit), nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not a duration (examples: 500ms, 30s, 10m, 4h, 7d, 2 hours)", s)
}

var units = map[string]time.Duration{
	"second": time.Second, "sec": time.Second,
	"minute": time.Minute, "min": time.Minute,
	"hour": time.Hour, "hr": time.Hour,
	"day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
}

func scaled(f float64, unit time.Duration) time.Duration { return time.Duration(f * float64(unit)) }

// Positive reads a duration that must be longer than zero: a window, a
// deadline, a time to wait.
func Positive(s string) (time.Duration, error) {
	d, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}
