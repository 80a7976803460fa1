package probes

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"steady/internal/profile"
)

// profileGap is a table or column the profile names that the database
// lacks.
type profileGap struct {
	role, field, table, column string
}

func (g profileGap) String() string {
	if g.column == "" {
		return fmt.Sprintf("profile.%s.table (%s) does not exist", g.role, g.table)
	}
	return fmt.Sprintf("profile.%s.%s (%s.%s) does not exist", g.role, g.field, g.table, g.column)
}

// profileGaps returns, for roles, the tables and columns of the profile
// the database lacks, from the catalog (one statement).
func profileGaps(ctx context.Context, tx pgx.Tx, pf *profile.Profile, roles ...string) ([]profileGap, error) {
	var rs, fs, ts, cs []string
	for _, role := range roles {
		table := pf.Table(role)
		if table == "" {
			continue
		}
		rs, fs, ts, cs = append(rs, role), append(fs, "table"), append(ts, table), append(cs, "")
		for _, c := range pf.Columns(role) {
			rs, fs, ts, cs = append(rs, role), append(fs, c.Field), append(ts, table), append(cs, c.Name)
		}
	}
	if len(rs) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
SELECT x.role, x.field, x.tbl, x.col FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(role, field, tbl, col)
WHERE CASE WHEN x.col = '' THEN to_regclass(x.tbl) IS NULL
           ELSE to_regclass(x.tbl) IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(x.tbl) AND a.attname = x.col AND a.attnum > 0 AND NOT a.attisdropped) END`,
		rs, fs, ts, cs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (profileGap, error) {
		var g profileGap
		err := row.Scan(&g.role, &g.field, &g.table, &g.column)
		return g, err
	})
}

// gapAdvice is what to do when the profile and the live tables disagree.
const gapAdvice = "a migration not applied (see the migrations probe), or a profile older than the application (`steady init` refreshes it)"

// needProfile skips a probe whose roles name tables or columns the
// database lacks, saying which: one clear reason rather than an SQL error.
func needProfile(ctx context.Context, tx pgx.Tx, pf *profile.Profile, roles ...string) error {
	gaps, err := profileGaps(ctx, tx, pf, roles...)
	if err != nil || len(gaps) == 0 {
		return err
	}
	return skip("the profile (%s) and the live tables disagree: %s; %s", pf.Origin(), joinGaps(gaps), gapAdvice)
}

func joinGaps(gaps []profileGap) string {
	parts := make([]string, len(gaps))
	for i, g := range gaps {
		parts[i] = g.String()
	}
	return strings.Join(parts, ", ")
}
