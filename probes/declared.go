package probes

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"steady/internal/config"
	"steady/internal/profile"
)

// liveConstraint is a CHECK or UNIQUE constraint (or a unique index) of a
// table as the database has it.
type liveConstraint struct {
	name      string
	kind      string // profile.Check or profile.Unique
	columns   []string
	def       string // pg_get_constraintdef, or the index's definition
	validated bool
}

// liveConstraints reads the CHECK and UNIQUE constraints of table, and its
// unique indexes that back no constraint (a UniqueConstraint with
// a condition, or one created by hand), with their columns.
func liveConstraints(ctx context.Context, tx pgx.Tx, table string) ([]liveConstraint, error) {
	rows, err := tx.Query(ctx, `
SELECT c.conname, c.contype::text, c.convalidated, pg_get_constraintdef(c.oid),
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)), '{}')
FROM pg_constraint c WHERE c.conrelid = to_regclass($1) AND c.contype IN ('c', 'u')
UNION ALL
SELECT ic.relname, 'u', i.indisvalid, pg_get_indexdef(i.indexrelid),
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)), '{}')
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1`, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (liveConstraint, error) {
		var l liveConstraint
		var kind string
		err := row.Scan(&l.name, &kind, &l.validated, &l.def, &l.columns)
		l.kind = profile.Unique
		if kind == "c" {
			l.kind = profile.Check
		}
		return l, err
	})
}

// match finds the live constraint that is c: by name first, then by
// definition (a CHECK with the same normalised condition, a UNIQUE over
// the same columns). how says which; near is a CHECK on the same columns
// whose condition differs, when nothing matched.
func match(c profile.Constraint, live []liveConstraint) (found *liveConstraint, how string, near *liveConstraint) {
	for i := range live {
		if c.Name != "" && live[i].name == c.Name && live[i].kind == c.Kind {
			return &live[i], "by name", nil
		}
	}
	cols := append([]string{}, c.Columns...)
	slices.Sort(cols)
	for i := range live {
		l := &live[i]
		if l.kind != c.Kind {
			continue
		}
		switch c.Kind {
		case profile.Unique:
			if slices.Equal(l.columns, cols) {
				return l, "by definition", nil
			}
		case profile.Check:
			if normalizeCheck(l.def) == normalizeCheck(c.Check) {
				return l, "by definition", nil
			}
			if near == nil && len(cols) > 0 && slices.Equal(l.columns, cols) {
				near = l
			}
		}
	}
	return nil, "", near
}

var (
	castRE  = regexp.MustCompile(`::\s*[a-z_]+( [a-z_]+)*(\(\d+(,\s*\d+)?\))?(\[\])?`)
	anyRE   = regexp.MustCompile(`=any\(?array\[([^\]]*)\]\)?`)
	notVRE  = regexp.MustCompile(`(?i)\s+NOT VALID\s*$`)
	spaceRE = regexp.MustCompile(`[\s()"]+`)
)

// normalizeCheck reduces a CHECK condition to a form in which Django's SQL
// (`"duration" > 0`) and PostgreSQL's (`CHECK ((duration > (0)::numeric))`)
// compare equal: no CHECK keyword, casts, quotes, parentheses, spaces or
// case, and `= ANY (ARRAY[...])` read as IN.
func normalizeCheck(def string) string {
	s := strings.TrimSpace(def)
	s = notVRE.ReplaceAllString(s, "")
	if len(s) >= 5 && strings.EqualFold(s[:5], "CHECK") {
		s = s[5:]
	}
	s = castRE.ReplaceAllString(strings.ToLower(s), "")
	s = spaceRE.ReplaceAllString(s, "")
	return anyRE.ReplaceAllString(s, "in$1")
}

// primaryKey returns the single-column primary key of table, or "ctid".
func primaryKey(ctx context.Context, tx pgx.Tx, table string) string {
	var col string
	err := savepoint(ctx, tx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = to_regclass($1) AND i.indisprimary AND i.indnatts = 1`, table).Scan(&col)
	})
	if err != nil || col == "" {
		return "ctid"
	}
	return col
}

// declaredRules checks each constraint the models declare: a validated
// live constraint guarantees it; otherwise the rows breaking it are
// counted, and a constraint missing although the migration creating it is
// recorded as applied was dropped by hand.
func declaredRules(ctx context.Context, tx pgx.Tx, cfg *config.Config, recorded map[string]bool, r *Result) (int, error) {
	broken := 0
	live := map[string][]liveConstraint{}
	for _, c := range cfg.Profile.Constraints {
		if c.Table == "" {
			continue
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, c.Table).Scan(&exists); err != nil {
			return 0, err
		}
		kind := strings.ToUpper(c.Kind) + " of " + or(c.Model, c.Table)
		row := func(name, state, rows string) {
			r.Evidence.Rows = append(r.Evidence.Rows, []string{kind, c.Table, name, state, rows})
		}
		if !exists {
			row(c.Label(), "table missing", "")
			continue
		}
		if _, ok := live[c.Table]; !ok {
			l, err := liveConstraints(ctx, tx, c.Table)
			if err != nil {
				return 0, err
			}
			live[c.Table] = l
		}
		found, how, near := match(c, live[c.Table])
		name := c.Label()
		if found != nil && found.name != c.Name {
			name = fmt.Sprintf("%s (in the database: %s)", c.Label(), found.name)
		}
		if found != nil && found.validated {
			row(name, "enforced (validated, matched "+how+")", "0")
			continue
		}
		state := unenforcedState(c, found, near, recorded, r)
		if countBreaking(ctx, tx, cfg, c, recorded, r, func(checked bool, rows string) {
			if checked {
				row(name, state, rows)
			} else {
				row(name, "not checked", rows)
			}
		}) {
			broken++
		}
	}
	return broken, nil
}

// unenforcedState says why a declared constraint does not guarantee its
// rule (not valid, different, missing, not yet created), with a finding
// where that needs one.
func unenforcedState(c profile.Constraint, found, near *liveConstraint, recorded map[string]bool, r *Result) string {
	switch {
	case found != nil:
		return "NOT VALID"
	case near != nil:
		r.add(Warn, "constraints.differs", fmt.Sprintf("%s declares %s on %s, but the database has %s %s instead",
			or(c.Model, c.Table), c.Definition(), c.Table, near.name, near.def), map[string]any{"table": c.Table, "constraint": c.Name, "database": near.def})
		return fmt.Sprintf("the database's %s differs: %s", near.name, near.def)
	case c.Migration == "":
		r.add(Warn, "constraints.undeclared", fmt.Sprintf("%s declares %s %s on %s, but the database has no such constraint and no migration creating it was found: run makemigrations/migrate, or `steady init` to refresh the profile",
			or(c.Model, c.Table), c.Label(), c.Definition(), c.Table), map[string]any{"table": c.Table, "constraint": c.Name})
		return "missing (no migration found that creates it)"
	case recorded[c.Migration]:
		r.add(Fail, "constraints.missing", fmt.Sprintf("%s %s on %s is missing although %s is recorded as applied: it was dropped by hand", c.Label(), c.Definition(), c.Table, c.Migration),
			map[string]any{"table": c.Table, "constraint": c.Name, "migration": c.Migration})
		return "constraint missing"
	}
	return "not yet created (" + c.Migration + " not applied)"
}

// countBreaking counts the rows breaking a constraint not enforced, shows
// the count (or why it was not checked) by row, and reports whether any
// row breaks it.
func countBreaking(ctx context.Context, tx pgx.Tx, cfg *config.Config, c profile.Constraint, recorded map[string]bool, r *Result, row func(checked bool, rows string)) bool {
	count, sample, err := violations(ctx, tx, c)
	if err != nil {
		_, why := classifyPg(err, cfg)
		row(false, why)
		r.add(Warn, "constraints.unchecked", fmt.Sprintf("rows breaking %s on %s not counted: %s", c.Definition(), c.Table, why), nil)
		return false
	}
	rowsText := fmt.Sprint(count)
	if count >= countCap {
		rowsText = fmt.Sprintf("%d or more", countCap)
	}
	row(true, rowsText)
	if count == 0 {
		return false
	}
	msg := fmt.Sprintf("%s of %s %s %s (%s): %s", rowsOf(count, rowsText), c.Table, verb(count, "breaks", "break"), c.Definition(), c.Label(), sample)
	if c.Migration != "" && !recorded[c.Migration] {
		msg += fmt.Sprintf("; applying %s will fail until they are fixed", c.Migration)
	}
	r.add(Fail, "constraints.violation", msg, map[string]any{"table": c.Table, "constraint": c.Name, "rows": count, "migration": c.Migration})
	return true
}

// violations counts (up to countCap) the rows breaking a constraint and
// describes a few of them. For a UNIQUE rule it counts the surplus rows.
func violations(ctx context.Context, tx pgx.Tx, c profile.Constraint) (int, string, error) {
	var count int
	var sample []string
	pk := primaryKey(ctx, tx, c.Table)
	err := savepoint(ctx, tx, func(tx pgx.Tx) error {
		if c.Kind == profile.Check {
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s::text FROM %s WHERE NOT (%s) LIMIT %d`, profile.Col("", pk), profile.Ident(c.Table), c.Check, countCap))
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			count = len(ids)
			for i, id := range ids {
				if i == 5 {
					sample = append(sample, "…")
					break
				}
				sample = append(sample, pk+" "+id)
			}
			return nil
		}
		cols := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			cols[i] = profile.Col("", col)
		}
		list := strings.Join(cols, ", ")
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT concat_ws(', ', %s), count(*)::int FROM %s GROUP BY %s HAVING count(*) > 1 LIMIT %d`, list, profile.Ident(c.Table), list, countCap))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				return err
			}
			count += n - 1
			if len(sample) < 5 {
				sample = append(sample, fmt.Sprintf("(%s) ×%d", key, n))
			} else if len(sample) == 5 {
				sample = append(sample, "…")
			}
		}
		return rows.Err()
	})
	return count, strings.Join(sample, ", "), err
}
