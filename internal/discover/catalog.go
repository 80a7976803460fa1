package discover

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"steady/internal/profile"
	"steady/internal/target"
)

// Catalog guesses the profile from the database catalog when Django
// cannot start — which is exactly what happens in some of these
// incidents. It reads the tables, columns, keys and CHECK constraints of
// the current schemas (information_schema and pg_catalog), the most
// common values of status-like columns (pg_stats, else a bounded sample),
// the cache's key layout from a bounded SCAN of the cache Redis, and the
// queued tasks of the broker, and maps them with the same rules as
// Map, by name. Every role it maps is marked guessed.
func Catalog(ctx context.Context, t *target.Target, choose Chooser) (profile.Profile, *Report, error) {
	f := &Facts{Version: 1}
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		models, err := catalogModels(ctx, tx)
		if err != nil {
			return err
		}
		f.Models = models
		return nil
	})
	if err != nil {
		return profile.Profile{}, nil, fmt.Errorf("read the database catalog: %w", err)
	}
	if len(f.Models) == 0 {
		return profile.Profile{}, nil, fmt.Errorf("the database has no tables in its search path: is --db the application's database?")
	}
	var keys []KeyFunction
	f.Cache, keys = catalogCache(ctx, t)
	f.Code = &Code{Keys: keys}
	f.Celery = catalogCelery(ctx, t)
	p, r := Map(f, choose)
	p.Source, r.Source = profile.SourceCatalog, profile.SourceCatalog
	// Nothing here is Django's word: every role is a guess.
	for _, role := range []string{"clinician", "shift", "audit", "summary", "cache", "celery"} {
		if !p.IsGuessed(role) {
			p.Guessed = append(p.Guessed, role)
		}
	}
	for i := range r.Mapped {
		r.Mapped[i].Guess = true
		r.Mapped[i].How = strings.ReplaceAll(r.Mapped[i].How, "settings.CACHES['default']", "the keys in the cache Redis")
	}
	if p.Cache.WorkedKey != "" {
		p.Cache.Patterns = nil
	}
	return p, r, nil
}

// catalogModels reads every table of the current schemas as a Model: its
// columns (typed as Django would), primary key, single-column foreign
// keys, CHECK and UNIQUE constraints, and, for status-like text columns,
// their values as choices.
func catalogModels(ctx context.Context, tx pgx.Tx) ([]Model, error) {
	rows, err := tx.Query(ctx, `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce((SELECT true FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)), false),
       coalesce((SELECT fc.relname || '.' || fa.attname FROM pg_constraint k
                 JOIN pg_class fc ON fc.oid = k.confrelid
                 JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]
                 WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))
ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, err
	}
	byTable := map[string]*Model{}
	var order []string
	for rows.Next() {
		var table, col, typ, related string
		var null, pk bool
		if err := rows.Scan(&table, &col, &typ, &null, &pk, &related); err != nil {
			return nil, err
		}
		m := byTable[table]
		if m == nil {
			m = &Model{Label: table, Name: modelName(table), Table: table, Project: ownTable(table)}
			m.App, _, _ = strings.Cut(table, "_")
			byTable[table] = m
			order = append(order, table)
		}
		f := Field{Name: strings.TrimSuffix(col, "_id"), Column: col, Type: djangoType(typ), Null: null, PK: pk}
		if related != "" {
			rt, rc, _ := strings.Cut(related, ".")
			f.Related, f.RelatedTable, f.RelatedColumn = rt, rt, rc
			f.Type = "ForeignKey"
		} else {
			f.Name = col
		}
		if pk {
			m.PK = col
		}
		m.Fields = append(m.Fields, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var models []Model
	for _, table := range order {
		m := byTable[table]
		if h, ok := historyOf(m, byTable); ok {
			m.HistoryOf = h
		}
		models = append(models, *m)
	}
	for i := range models {
		if err := catalogConstraints(ctx, tx, &models[i]); err != nil {
			return nil, err
		}
		if err := catalogChoices(ctx, tx, &models[i]); err != nil {
			return nil, err
		}
	}
	return models, nil
}

// ownTable tells the application's tables from Django's and its
// libraries' own.
func ownTable(t string) bool {
	for _, p := range []string{"django_", "auth_", "celery_", "djcelery_", "authtoken_", "admin_"} {
		if strings.HasPrefix(t, p) {
			return false
		}
	}
	return true
}

// modelName turns app_shiftsummary into Shiftsummary: a table keeps no
// class name, but a name is something to match on.
func modelName(table string) string {
	_, rest, ok := strings.Cut(table, "_")
	if !ok {
		rest = table
	}
	if rest == "" {
		return table
	}
	return strings.ToUpper(rest[:1]) + rest[1:]
}

// historyOf recognises django-simple-history's tables: app_historicalx
// with history_date and history_type, tracking app_x.
func historyOf(m *Model, byTable map[string]*Model) (string, bool) {
	app, rest, ok := strings.Cut(m.Table, "_historical")
	if !ok || m.field("history_date") == nil || m.field("history_type") == nil {
		return "", false
	}
	if t, ok := byTable[app+"_"+rest]; ok {
		return t.Label, true
	}
	return "", false
}

func djangoType(pg string) string {
	switch {
	case pg == "date":
		return "DateField"
	case strings.HasPrefix(pg, "timestamp"):
		return "DateTimeField"
	case pg == "integer", pg == "smallint":
		return "IntegerField"
	case pg == "bigint":
		return "BigIntegerField"
	case strings.HasPrefix(pg, "numeric"):
		return "DecimalField"
	case pg == "double precision", pg == "real":
		return "FloatField"
	case strings.HasPrefix(pg, "character varying"), strings.HasPrefix(pg, "character("):
		return "CharField"
	case pg == "text":
		return "TextField"
	case pg == "jsonb", pg == "json":
		return "JSONField"
	case pg == "boolean":
		return "BooleanField"
	case pg == "interval":
		return "DurationField"
	}
	return pg
}

// catalogConstraints reads the table's CHECK and UNIQUE constraints: with
// no models to ask, what the database declares is what is expected.
func catalogConstraints(ctx context.Context, tx pgx.Tx, m *Model) error {
	rows, err := tx.Query(ctx, `
SELECT k.conname, k.contype::text, pg_get_constraintdef(k.oid),
       coalesce((SELECT array_agg(a.attname::text ORDER BY array_position(k.conkey, a.attnum)) FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)), '{}')
FROM pg_constraint k WHERE k.conrelid = to_regclass($1) AND k.contype IN ('c', 'u') ORDER BY 1`, m.Table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c ModelConstraint
		var kind string
		if err := rows.Scan(&c.Name, &kind, &c.Check, &c.Columns); err != nil {
			return err
		}
		c.Kind = profile.Unique
		if kind == "c" {
			c.Kind = profile.Check
			c.Check = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(c.Check), "CHECK "), " NOT VALID")
		} else {
			c.Check = ""
		}
		m.Constraints = append(m.Constraints, c)
	}
	return rows.Err()
}

var choiceColumn = regexp.MustCompile(`(?i)^(status|state|stage|outcome|type|kind|category|action|event|operation|entity_type|history_type)$`)

// catalogChoices gives status-like text columns their values as choices:
// pg_stats' most common values when the table was analysed, else the
// distinct values of a bounded sample, so no table is scanned whole.
func catalogChoices(ctx context.Context, tx pgx.Tx, m *Model) error {
	for i := range m.Fields {
		f := &m.Fields[i]
		if f.Type != "CharField" || !choiceColumn.MatchString(f.Column) {
			continue
		}
		var vals []string
		var stats *string
		if err := tx.QueryRow(ctx, `SELECT most_common_vals::text FROM pg_stats WHERE tablename = $1 AND attname = $2 AND schemaname = ANY (current_schemas(false)) LIMIT 1`,
			m.Table, f.Column).Scan(&stats); err != nil && err != pgx.ErrNoRows {
			return err
		}
		if stats != nil {
			vals = parseArray(*stats)
		}
		if len(vals) == 0 {
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT v::text FROM (SELECT %s AS v FROM %s LIMIT 10000) s WHERE v IS NOT NULL ORDER BY 1 LIMIT 50`,
				profile.Col("", f.Column), profile.Ident(m.Table)))
			if err != nil {
				return err
			}
			if vals, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
		}
		if len(vals) > 0 && len(vals) <= 30 {
			sort.Strings(vals)
			for _, v := range vals {
				f.Choices = append(f.Choices, [2]string{v, v})
			}
		}
	}
	return nil
}

// parseArray reads a PostgreSQL text array of simple values: {a,b,"c d"}.
func parseArray(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		return nil
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		out = append(out, strings.Trim(v, `"`))
	}
	return out
}

var (
	storedKeyRE = regexp.MustCompile(`^([^:]*):(\d+):(.+)$`)
	isoDateRE   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	numberRE    = regexp.MustCompile(`\d+`)
)

// catalogCache reads the cache's key layout from a bounded SCAN: the
// django-redis prefix and version, and a key holding a clinician id and
// two days, turned into a template.
func catalogCache(ctx context.Context, t *target.Target) (*CacheFacts, []KeyFunction) {
	cfg := t.Config()
	if cfg.Redis == "" {
		return nil, nil
	}
	rdb, err := t.Cache(ctx)
	if err != nil {
		return nil, nil
	}
	c := &CacheFacts{Backend: "django_redis.cache.RedisCache (guessed from the keys)", Version: 1}
	db := target.RedisDB(cfg.Redis)
	c.DB = &db
	counts := map[string]int{}
	var cursor uint64
	for calls := 0; calls < 40; calls++ {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 250).Result()
		if err != nil {
			return c, nil
		}
		for _, k := range keys {
			if tpl, prefix, version, ok := keyTemplate(k); ok {
				counts[prefix+"\x00"+version+"\x00"+tpl]++
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	best, n := "", 0
	for k, v := range counts {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	if best == "" {
		return c, nil
	}
	parts := strings.SplitN(best, "\x00", 3)
	c.KeyPrefix = parts[0]
	c.Version, _ = strconv.Atoi(parts[1])
	return c, []KeyFunction{{Function: fmt.Sprintf("the layout of %d keys in the cache", n), Template: parts[2]}}
}

// keyTemplate turns a stored key such as ":1:counts:7:2025-03-01:2025-03-31"
// into its prefix, version and template "counts:{clinician}:{from}:{to}".
func keyTemplate(key string) (tpl, prefix, version string, ok bool) {
	m := storedKeyRE.FindStringSubmatch(key)
	if m == nil {
		return "", "", "", false
	}
	rest := m[3]
	dates := isoDateRE.FindAllStringIndex(rest, -1)
	if len(dates) != 2 {
		return "", "", "", false
	}
	tpl = rest[:dates[0][0]] + "{from}" + rest[dates[0][1]:dates[1][0]] + "{to}" + rest[dates[1][1]:]
	nums := numberRE.FindAllStringIndex(tpl, -1)
	if len(nums) != 1 {
		return "", "", "", false
	}
	tpl = tpl[:nums[0][0]] + "{clinician}" + tpl[nums[0][1]:]
	return tpl, m[1], m[2], true
}

// catalogCelery reads the broker: the queues workers declared
// (_kombu.binding.*) and the task names and keyword names of up to 20
// queued messages per queue.
func catalogCelery(ctx context.Context, t *target.Target) *Celery {
	cfg := t.Config()
	if cfg.Broker == "" {
		return nil
	}
	b, err := t.Broker(ctx)
	if err != nil {
		return nil
	}
	c := &Celery{Found: true, DefaultQueue: "celery"}
	var queues []string
	iter := b.Scan(ctx, 0, "_kombu.binding.*", 250).Iterator()
	for n := 0; iter.Next(ctx) && n < 100; n++ {
		queues = append(queues, strings.TrimPrefix(iter.Val(), "_kombu.binding."))
	}
	sort.Strings(queues)
	if len(queues) > 0 {
		c.DefaultQueue = queues[0]
	}
	seen := map[string]bool{}
	for _, q := range queues {
		msgs, err := b.LRange(ctx, q, 0, 19).Result()
		if err != nil {
			continue
		}
		for _, raw := range msgs {
			var env struct {
				Headers struct {
					Task       string `json:"task"`
					KwargsRepr string `json:"kwargsrepr"`
				} `json:"headers"`
			}
			if json.Unmarshal([]byte(raw), &env) != nil || env.Headers.Task == "" || seen[env.Headers.Task] {
				continue
			}
			seen[env.Headers.Task] = true
			c.Tasks = append(c.Tasks, Task{Name: env.Headers.Task, Queue: q, Params: reprKeys(env.Headers.KwargsRepr)})
		}
	}
	return c
}

var reprKeyRE = regexp.MustCompile(`'([A-Za-z_][A-Za-z0-9_]*)':`)

// reprKeys reads the keyword names out of Celery's kwargsrepr.
func reprKeys(repr string) []string {
	var out []string
	for _, m := range reprKeyRE.FindAllStringSubmatch(repr, -1) {
		out = append(out, m[1])
	}
	return out
}
