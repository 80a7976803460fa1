package probes

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"steady/internal/config"
	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// Constraints answers "was integrity bypassed?" — the runbook's
// constraint-bypass cause.
//
// Reads: pg_constraint for constraints added NOT VALID (any table);
// pg_trigger for disabled triggers on user tables, the internal triggers
// that enforce foreign keys included; for each CHECK and UNIQUE constraint
// the application's models declare (profile.constraints, learnt from the
// models' Meta), the live constraint matching it by name or, failing that,
// by definition (pg_get_constraintdef, normalised; a unique index counts),
// whether it is validated, and only when it is not, the rows breaking it;
// for every single-column foreign key of the profile's tables, rows whose
// referenced row is gone.
// Cost: catalog reads, plus one pass over a table for each rule the
// database does not guarantee (a validated constraint is proof enough, so a
// healthy database costs no table scan there) and one anti-join per foreign
// key through the referenced primary key. Each of those stops at 1000 rows
// and runs in a savepoint, so one cut short by statement_timeout is reported
// and the rest still run.
// Measured on 720,000 shifts (2 CPU cores): 70 ms healthy (the foreign-key
// anti-joins only), 0.7 s with every rule broken (each rule then costs a
// scan).
// Never: validates, re-enables or adds anything.
type Constraints struct{}

func init() { Register(Constraints{}) }

// ID implements Probe.
func (Constraints) ID() string { return "constraints" }

// Title implements Probe.
func (Constraints) Title() string {
	return "Integrity constraints: NOT VALID, disabled triggers, violating and orphaned rows"
}

// Params implements Probe.
func (Constraints) Params() []Param { return nil }

// countCap bounds the rows counted by one check.
const countCap = 1000

// Run implements Probe.
func (c Constraints) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, c.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		r.Evidence = Table{Title: "integrity checks", Columns: []string{"check", "table", "name", "state", "rows"}}
		var problems []string
		err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
			n, err := notValid(ctx, tx, r)
			if err != nil {
				return err
			}
			if n > 0 {
				problems = append(problems, plural.Count(n, "NOT VALID constraint", "NOT VALID constraints"))
			}
			if n, err = disabledTriggers(ctx, tx, r); err != nil {
				return err
			}
			if n > 0 {
				problems = append(problems, plural.Count(n, "disabled trigger", "disabled triggers"))
			}
			recorded, err := recordedMigrations(ctx, tx)
			if err != nil {
				return err
			}
			if n, err = declaredRules(ctx, tx, cfg, recorded, r); err != nil {
				return err
			}
			if n > 0 {
				problems = append(problems, plural.Count(n, "broken rule", "broken rules"))
			}
			if n, err = orphans(ctx, tx, cfg, r); err != nil {
				return err
			}
			if n > 0 {
				problems = append(problems, plural.Count(n, "foreign key with orphaned rows", "foreign keys with orphaned rows"))
			}
			return nil
		})
		if err != nil {
			return err
		}
		r.Evidence.limit(maxRows)
		if len(problems) == 0 {
			r.Summary = "integrity holds: no NOT VALID constraint, no disabled trigger, no row breaking a declared rule, no orphaned row"
			r.add(OK, "constraints.hold", r.Summary, nil)
		} else {
			r.Summary = "integrity was bypassed: " + strings.Join(problems, ", ")
		}
		return nil
	})
}

// notValid reports constraints added NOT VALID: they guard new rows only.
func notValid(ctx context.Context, tx pgx.Tx, r *Result) (int, error) {
	rows, err := tx.Query(ctx, `
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE NOT c.convalidated AND c.conrelid <> 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2 LIMIT 200`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, name, def string
		if err := rows.Scan(&table, &name, &def); err != nil {
			return 0, err
		}
		n++
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"NOT VALID constraint", table, name, def, ""})
		r.add(Fail, "constraints.not_valid", fmt.Sprintf("%s on %s was added NOT VALID (%s): it guards new rows only, older rows were never checked; fix them, then ALTER TABLE %s VALIDATE CONSTRAINT %s",
			name, table, def, table, name), map[string]any{"table": table, "constraint": name, "definition": def})
	}
	return n, rows.Err()
}

// disabledTriggers reports triggers that do not fire, foreign-key triggers
// included: with those off, the foreign key is not enforced.
func disabledTriggers(ctx context.Context, tx pgx.Tx, r *Result) (int, error) {
	rows, err := tx.Query(ctx, `
SELECT t.tgrelid::regclass::text, t.tgname, t.tgisinternal, coalesce(c.conname, '')
FROM pg_trigger t
JOIN pg_class cl ON cl.oid = t.tgrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_constraint c ON c.oid = t.tgconstraint
WHERE t.tgenabled = 'D' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2 LIMIT 200`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, name, constraint string
		var internal bool
		if err := rows.Scan(&table, &name, &internal, &constraint); err != nil {
			return 0, err
		}
		n++
		what := "trigger " + name
		if constraint != "" {
			what = fmt.Sprintf("trigger %s enforcing %s", name, constraint)
		}
		state := "disabled"
		if constraint != "" {
			state = "disabled; enforces " + constraint
		}
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"disabled trigger", table, name, state, ""})
		msg := fmt.Sprintf("%s on %s is disabled", what, table)
		if constraint != "" {
			msg += ": the foreign key is not enforced while it is (ALTER TABLE " + table + " ENABLE TRIGGER ALL after fixing the rows)"
		}
		r.add(Fail, "constraints.trigger_disabled", msg, map[string]any{"table": table, "trigger": name, "internal": internal, "constraint": constraint})
	}
	return n, rows.Err()
}

// recordedMigrations returns the applied migrations ("app.name"); nil when
// django_migrations is missing.
func recordedMigrations(ctx context.Context, tx pgx.Tx) (map[string]bool, error) {
	var keys []string
	err := savepoint(ctx, tx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT app || '.' || name FROM django_migrations LIMIT 100000`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if isPg(err, "42P01") {
		return nil, nil
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out, err
}

// orphans checks every single-column foreign key of the profile's tables
// for rows whose referenced row is gone.
func orphans(ctx context.Context, tx pgx.Tx, cfg *config.Config, r *Result) (int, error) {
	var tables []string
	for _, role := range profile.Roles {
		if name := cfg.Profile.Table(role); name != "" {
			tables = append(tables, name)
		}
	}
	type fk struct{ name, child, col, parent, pcol string }
	rows, err := tx.Query(ctx, `
SELECT c.conname, c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, af.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
  AND c.conrelid IN (SELECT to_regclass(x) FROM unnest($1::text[]) x)
ORDER BY 2, 1`, tables)
	if err != nil {
		return 0, err
	}
	fks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fk, error) {
		var f fk
		err := row.Scan(&f.name, &f.child, &f.col, &f.parent, &f.pcol)
		return f, err
	})
	if err != nil {
		return 0, err
	}
	broken := 0
	for _, f := range fks {
		var count int
		var missing []int64
		err := savepoint(ctx, tx, func(tx pgx.Tx) error {
			// regclass text is already quoted where it needs to be.
			rows, err := tx.Query(ctx, fmt.Sprintf(`
SELECT ch.%[2]s::int8 FROM %[1]s ch
WHERE ch.%[2]s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %[3]s p WHERE p.%[4]s = ch.%[2]s)
LIMIT %[5]d`, f.child, pgx.Identifier{f.col}.Sanitize(), f.parent, pgx.Identifier{f.pcol}.Sanitize(), countCap))
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			count = len(ids)
			seen := map[int64]bool{}
			for _, id := range ids {
				if !seen[id] && len(missing) < 10 {
					seen[id] = true
					missing = append(missing, id)
				}
			}
			return err
		})
		if err != nil {
			_, why := classifyPg(err, cfg)
			r.Evidence.Rows = append(r.Evidence.Rows, []string{"foreign key", f.child, f.name, "not checked", why})
			r.add(Warn, "constraints.unchecked", fmt.Sprintf("orphans of %s not counted: %s", f.name, why), nil)
			continue
		}
		rowsText := fmt.Sprint(count)
		if count >= countCap {
			rowsText = fmt.Sprintf("%d or more", countCap)
		}
		r.Evidence.Rows = append(r.Evidence.Rows, []string{"foreign key", f.child, f.name, fmt.Sprintf("%s → %s.%s", f.col, f.parent, f.pcol), rowsText})
		if count == 0 {
			continue
		}
		broken++
		ids := make([]string, len(missing))
		for i, id := range missing {
			ids[i] = fmt.Sprint(id)
		}
		r.add(Fail, "constraints.orphans", fmt.Sprintf("%s of %s %s at a missing %s (%s %s): the foreign key %s was bypassed",
			rowsOf(count, rowsText), f.child, verb(count, "points", "point"), f.parent, f.col, strings.Join(ids, ", "), f.name),
			map[string]any{"table": f.child, "constraint": f.name, "rows": count, "missing": missing})
	}
	return broken, nil
}

// classifyPg explains an error of an optional check in one line.
func classifyPg(err error, cfg *config.Config) (Status, string) {
	if pe := asPg(err); pe != nil {
		return Error, pgMessage(pe, cfg)
	}
	return Error, oneLine(err.Error())
}

// rowsOf is "1 row" or "n rows" with n already formatted.
func rowsOf(n int, text string) string {
	if n == 1 {
		return "1 row"
	}
	return text + " rows"
}

func verb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
