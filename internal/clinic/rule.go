package clinic

import (
	"fmt"
	"time"
)

// WorkedCondition is the worked-shift rule as a SQL condition on one row of
// the shift table; WorkedShiftsSQL applies it to one clinician and range,
// and probes that recompute many figures at once use it directly.
const WorkedCondition = `status = 'COMPLETED' AND duration > 0`

// CancelledAsWorkedCondition is the misreading of the rule behind the
// BusinessRule fault: cancelled shifts counted as worked. Probes use it to
// recognise that misreading in a stored figure.
const CancelledAsWorkedCondition = `status IN ('COMPLETED', 'CANCELLED') AND duration > 0`

// Table roles name the profile's tables independently of what steady.yaml
// calls them (the keys of django.tables).
const (
	TableClinician = "clinician"
	TableShift     = "shift"
	TableAuditLog  = "audit_log"
	TableSummary   = "summary"
)

// Rule is an integrity rule a migration declares on one of the profile's
// tables: a CHECK condition every row satisfies, or a set of columns no two
// rows share.
type Rule struct {
	// Migration declares the rule ("app.name").
	Migration string
	// Table is the table's role (TableShift, ...).
	Table string
	// Constraint is the constraint's name in the database.
	Constraint string
	// Check is the condition of a CHECK constraint; empty for UNIQUE.
	Check string
	// Unique lists the columns of a UNIQUE constraint.
	Unique []string
}

// Rules are the CHECK and UNIQUE rules of the application's migrations that
// its figures depend on.
var Rules = []Rule{
	{Migration: "config.0003_shift_constraints", Table: TableShift, Constraint: "config_shift_duration_positive", Check: "duration > 0"},
	{Migration: "config.0003_shift_constraints", Table: TableShift, Constraint: "config_shift_unique_clinician_date_type", Unique: []string{"clinician_id", "date", "type"}},
	{Migration: "calculations.0001_initial", Table: TableSummary, Constraint: "calculations_shiftsummary_unique_period", Unique: []string{"clinician_id", "period_start", "period_end"}},
}

// Period is a range of dates, both ends included; the application's
// summaries are per calendar month.
type Period struct {
	From time.Time
	To   time.Time
}

// MonthOf returns the calendar month holding d.
func MonthOf(d time.Time) Period {
	from := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{From: from, To: from.AddDate(0, 1, -1)}
}

// FromDate and ToDate return the ends as YYYY-MM-DD, the form of cache keys
// and probe parameters.
func (p Period) FromDate() string { return p.From.Format(time.DateOnly) }

// ToDate returns the last day as YYYY-MM-DD.
func (p Period) ToDate() string { return p.To.Format(time.DateOnly) }

// String returns "2026-01-01..2026-01-31".
func (p Period) String() string { return fmt.Sprintf("%s..%s", p.FromDate(), p.ToDate()) }
