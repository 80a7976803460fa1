package probes

import (
	"fmt"
	"time"
)

// period is a range of dates, both ends included. Stored summaries are
// per calendar month, so the scope a finding names is a month.
type period struct {
	from, to time.Time
}

// monthOf returns the calendar month holding d.
func monthOf(d time.Time) period {
	from := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	return period{from: from, to: from.AddDate(0, 1, -1)}
}

// fromDate and toDate return the ends as YYYY-MM-DD.
func (p period) fromDate() string { return p.from.Format(time.DateOnly) }

func (p period) toDate() string { return p.to.Format(time.DateOnly) }

func (p period) String() string { return fmt.Sprintf("%s..%s", p.fromDate(), p.toDate()) }
