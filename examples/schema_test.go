package examples_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"steady/internal/clinic"
)

// catalog describes a schema as PostgreSQL's catalogs see it: columns in
// order with type, nullability and default; named constraints with their
// definitions; indexes with theirs.
var catalog = map[string]string{
	"columns": `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`,
	"constraints": `
SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2`,
	"indexes": `
SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
	"migrations": `
SELECT app, name FROM django_migrations ORDER BY app, name`,
}

// The schema Django's migrations create and the one clinic.Install creates
// from clinic.Migrations must be the same, or tests and drills built on the
// Go side would diagnose a different database from the real application's.
func TestDjangoAndGoBuildTheSameSchema(t *testing.T) {
	django := newEnv(t)
	django.app.MustManage(t, "migrate", "--noinput")
	goSide := newEnv(t)
	if err := clinic.Install(context.Background(), goSide.db, clinic.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"columns", "constraints", "indexes", "migrations"} {
		want := rows(t, django.db, catalog[name])
		got := rows(t, goSide.db, catalog[name])
		if len(want) == 0 {
			t.Fatalf("%s: Django's database has none", name)
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s differ between clinic.Install and Django's migrate:\n%s", name, diff(got, want))
		}
	}
}

// clinic.Migrations carries the SQL `manage.py sqlmigrate` prints, so that
// what steady shows an operator as a migration's effect is Django's own.
func TestMigrationSQLIsWhatSqlmigratePrints(t *testing.T) {
	e := newEnv(t)
	e.app.MustManage(t, "migrate", "--noinput")
	for _, m := range clinic.Migrations {
		t.Run(m.Key(), func(t *testing.T) {
			t.Parallel()
			var lines []string
			for _, l := range strings.Split(e.app.MustManage(t, "sqlmigrate", m.App, m.Name), "\n") {
				if l != "" && l != "BEGIN;" && l != "COMMIT;" && !strings.HasPrefix(l, "--") {
					lines = append(lines, l)
				}
			}
			if got, want := strings.TrimSpace(m.SQL), strings.Join(lines, "\n"); got != want {
				t.Errorf("clinic.Migrations SQL of %s:\n%s\nsqlmigrate prints:\n%s", m.Key(), got, want)
			}
		})
	}
}

func diff(got, want [][]string) string {
	var b strings.Builder
	in := func(rows [][]string, r []string) bool {
		return slices.ContainsFunc(rows, func(x []string) bool { return slices.Equal(x, r) })
	}
	for _, r := range want {
		if !in(got, r) {
			fmt.Fprintf(&b, "  only Django: %v\n", r)
		}
	}
	for _, r := range got {
		if !in(want, r) {
			fmt.Fprintf(&b, "  only Go:     %v\n", r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("  same rows, different order\n")
	}
	return b.String()
}
