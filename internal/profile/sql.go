package profile

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Ident quotes a table name ("table" or "schema.table") for SQL.
func Ident(table string) string {
	return pgx.Identifier(strings.Split(table, ".")).Sanitize()
}

// Col quotes a column name, qualified by alias when alias is not empty.
func Col(alias, column string) string {
	q := pgx.Identifier{column}.Sanitize()
	if alias == "" {
		return q
	}
	return alias + "." + q
}

// Literal quotes a string as an SQL literal (standard_conforming_strings,
// PostgreSQL's default since 9.1).
func Literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// literals quotes a list of values for IN (...).
func literals(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = Literal(v)
	}
	return strings.Join(q, ", ")
}

// statusIn is "alias.status IN (...)"; FALSE for an empty list.
func (s Shift) statusIn(alias string, values []string) string {
	if len(values) == 0 {
		return "false"
	}
	return fmt.Sprintf("%s IN (%s)", Col(alias, s.Status), literals(values))
}

// WorkedSQL is the worked-shift rule as steady reads it from the profile,
// as an SQL condition on one row of the shift table (alias may be "").
func (s Shift) WorkedSQL(alias string) string {
	return s.countedSQL(alias, s.Worked)
}

// WithCancelledSQL is the rule misread to count cancelled shifts as
// worked; probes use it to recognise that misreading in a stored figure.
func (s Shift) WithCancelledSQL(alias string) string {
	return s.countedSQL(alias, append(append([]string{}, s.Worked...), s.Cancelled...))
}

func (s Shift) countedSQL(alias string, statuses []string) string {
	cond := s.statusIn(alias, statuses)
	if s.PositiveDuration && s.Duration != "" {
		cond += " AND " + Col(alias, s.Duration) + " > 0"
	}
	return "(" + cond + ")"
}

// CancelledSQL is true for a cancelled shift.
func (s Shift) CancelledSQL(alias string) string {
	return "(" + s.statusIn(alias, s.Cancelled) + ")"
}

// NonPositiveSQL is true for a shift whose duration is zero or less;
// FALSE when the profile names no duration.
func (s Shift) NonPositiveSQL(alias string) string {
	if s.Duration == "" {
		return "(false)"
	}
	return "(" + Col(alias, s.Duration) + " <= 0)"
}

// RuleText says the rule in words, e.g. "status COMPLETED with duration > 0".
func (s Shift) RuleText() string {
	var b strings.Builder
	b.WriteString(s.Status + " ")
	if len(s.Worked) == 1 {
		b.WriteString(s.Worked[0])
	} else {
		b.WriteString("in (" + strings.Join(s.Worked, ", ") + ")")
	}
	if s.PositiveDuration && s.Duration != "" {
		b.WriteString(" with " + s.Duration + " > 0")
	}
	return b.String()
}

// ActionsSQL is the list of audit action values that write a shift
// (create and update), for `= ANY($n)`.
func (a Audit) WriteActions() []string {
	var out []string
	for _, v := range []string{a.Actions.Create, a.Actions.Update} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ChangesSQL is an SQL expression giving a short text of what one audit
// row changed: the payload column for a log, the shift's status and
// duration for a history snapshot.
func (a Audit) ChangesSQL(alias string, shift Shift) string {
	switch {
	case a.Changes != "":
		return fmt.Sprintf("left(%s::text, 120)", Col(alias, a.Changes))
	case a.Kind == AuditHistory:
		var parts []string
		for _, c := range []string{shift.Status, shift.Duration} {
			if c != "" {
				parts = append(parts, fmt.Sprintf("%s, %s", Literal(c), Col(alias, c)))
			}
		}
		if len(parts) == 0 {
			return "''"
		}
		return fmt.Sprintf("json_build_object(%s)::text", strings.Join(parts, ", "))
	}
	return "''"
}

// ActorSQL is an SQL expression giving who wrote an audit row, as text.
func (a Audit) ActorSQL(alias string) string {
	if a.Actor == "" {
		return "''"
	}
	return fmt.Sprintf("coalesce(%s::text, '')", Col(alias, a.Actor))
}

// EntitySQL is the condition selecting the audit rows about shifts: the
// entity type for a log; every row for a history table (one per model).
func (a Audit) EntitySQL(alias string) string {
	if a.Kind == AuditHistory || a.EntityType == "" {
		return "true"
	}
	return fmt.Sprintf("%s = %s", Col(alias, a.EntityType), Literal(a.Entity))
}
