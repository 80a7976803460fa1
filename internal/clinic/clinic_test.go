package clinic_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/django"
	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// healthy installs and seeds a fresh database and returns a pool on it.
func healthy(t *testing.T, install clinic.InstallOptions) (*pgxpool.Pool, *clinic.Dataset) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, sandboxtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := clinic.Install(ctx, pool, install); err != nil {
		t.Fatal(err)
	}
	ds, err := clinic.Seed(ctx, pool, clinic.SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pool, ds
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestInstallRecordsMigrationsAsDjango(t *testing.T) {
	tests := []struct {
		name string
		opts clinic.InstallOptions
		want []string
	}{
		{"all", clinic.InstallOptions{}, []string{"config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "calculations.0001_initial"}},
		{"one skipped", clinic.InstallOptions{Skip: []string{"config.0003_shift_constraints"}}, []string{"config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "calculations.0001_initial"}},
		{"squashed fresh install", clinic.InstallOptions{Squashed: true}, []string{"config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "config.0001_squashed_0003_shift_constraints", "calculations.0001_initial"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, sandboxtest.Database(t))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if err := clinic.Install(ctx, pool, tt.opts); err != nil {
				t.Fatal(err)
			}
			rows, _ := pool.Query(ctx, `SELECT app || '.' || name FROM django_migrations ORDER BY id`)
			var got []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				got = append(got, k)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
			if n := count(t, pool, `SELECT count(*) FROM django_migrations WHERE applied > now() OR applied < now() - interval '1 minute'`); n != 0 {
				t.Errorf("%d rows with an applied time that is not now", n)
			}
		})
	}
}

func TestSeedIsHealthyAndReproducible(t *testing.T) {
	t.Parallel()
	pool, ds := healthy(t, clinic.InstallOptions{})
	if len(ds.Clinicians) != 40 || len(ds.Months) != 3 || ds.Shifts < 1500 || ds.AuditRows < 2*ds.Shifts-ds.Shifts/2 {
		t.Errorf("dataset %+v is smaller than promised", ds)
	}
	checks := []struct {
		name string
		sql  string
		want int
	}{
		{"shifts", `SELECT count(*) FROM config_shift`, ds.Shifts},
		{"every status present", `SELECT count(DISTINCT status) FROM config_shift`, 3},
		{"every type present", `SELECT count(DISTINCT type) FROM config_shift`, 4},
		{"no same-second writes of one entity", `SELECT count(*) FROM (SELECT 1 FROM config_auditlog GROUP BY entity_type, entity_id, date_trunc('second', timestamp) HAVING count(*) > 1) g`, 0},
		{"no write in the future", `SELECT count(*) FROM config_auditlog WHERE timestamp > now()`, 0},
		{"an audit CREATE per shift", `SELECT count(*) FROM config_shift s WHERE NOT EXISTS (SELECT 1 FROM config_auditlog a WHERE a.entity_type = 'Shift' AND a.entity_id = s.id AND a.action = 'CREATE')`, 0},
		{"an audit UPDATE per completed or cancelled shift", `SELECT count(*) FROM config_shift s WHERE status <> 'SCHEDULED' AND NOT EXISTS (SELECT 1 FROM config_auditlog a WHERE a.entity_type = 'Shift' AND a.entity_id = s.id AND a.action = 'UPDATE')`, 0},
		{"no scheduled shift in the past", `SELECT count(*) FROM config_shift WHERE status = 'SCHEDULED' AND date < current_date`, 0},
		{"recent sign-offs for the audit probe's default range", `SELECT least(count(*), 1) FROM config_auditlog WHERE action = 'UPDATE' AND timestamp > now() - interval '7 days'`, 1},
		{"a summary per clinician and month", `SELECT count(*) FROM calculations_shiftsummary`, 40 * 3},
		{"summaries follow the rule", `SELECT count(*) FROM calculations_shiftsummary m JOIN config_clinician c ON c.id = m.clinician_id
			WHERE m.worked_shifts <> (SELECT count(*) FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND ` + clinic.WorkedCondition + `)
			   OR m.deficiency <> greatest(c.contracted_shifts - m.worked_shifts, 0)`, 0},
		{"some cancelled shifts fall in summarised months", `SELECT least(count(*), 1) FROM config_shift WHERE status = 'CANCELLED' AND date < date_trunc('month', now())`, 1},
	}
	for _, c := range checks {
		if got := count(t, pool, c.sql); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	// A later insert without an id must not collide with seeded ids.
	if _, err := pool.Exec(context.Background(), `INSERT INTO config_clinician (name, email, contracted_shifts, active, created_at) VALUES ('x', 'x@x', 1, true, now())`); err != nil {
		t.Errorf("insert after seed: %v", err)
	}

	// Same seed and moment, same data.
	other, err := pgxpool.New(context.Background(), sandboxtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	if err := clinic.Install(ctx, other, clinic.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := clinic.Seed(ctx, other, clinic.SeedOptions{Now: ds.Now}); err != nil {
		t.Fatal(err)
	}
	fingerprint := `SELECT md5(string_agg(concat_ws(',', id, clinician_id, date, type, duration, status, created_at, updated_at), ';' ORDER BY id)) FROM config_shift`
	var a, b string
	if err := pool.QueryRow(ctx, fingerprint).Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(ctx, fingerprint).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("two seeds with the same options differ")
	}
}

func TestWarmCacheAndStaleCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, ds := healthy(t, clinic.InstallOptions{})
	opts, _ := redis.ParseURL(sandboxtest.Redis(t))
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	cfg := config.Default()
	n, err := clinic.WarmCache(ctx, pool, rdb, &cfg, clinic.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ds.Clinicians)*len(ds.Months) {
		t.Errorf("WarmCache wrote %d shift-count keys, want %d", n, len(ds.Clinicians)*len(ds.Months))
	}
	m := ds.Months[1]
	key := cfg.Profile.Cache.WorkedKeyOf(ds.Clinicians[0], m.FromDate(), m.ToDate())
	want := count(t, pool, `SELECT worked_shifts FROM calculations_shiftsummary WHERE clinician_id = $1 AND period_start = $2`, ds.Clinicians[0], m.From)
	if got, _ := rdb.Get(ctx, key).Result(); got != strconv.Itoa(want) {
		t.Errorf("%s = %q, want %d as plain text", key, got, want)
	}
	if ttl := rdb.TTL(ctx, key).Val(); ttl <= 0 {
		t.Errorf("%s has no TTL", key)
	}
	if v, _ := rdb.Get(ctx, ":1:feature_flags").Result(); len(v) < 2 || v[:2] != "\x80\x04" {
		t.Errorf(":1:feature_flags = %q, want a protocol 4 pickle", v)
	}

	stale, err := clinic.StaleCache(ctx, pool, rdb, &cfg, clinic.StaleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 3 {
		t.Fatalf("%d stale keys, want 3", len(stale))
	}
	for _, s := range stale {
		got, _ := rdb.Get(ctx, s.Key).Int()
		actual := count(t, pool, `SELECT count(*) FROM config_shift WHERE clinician_id = $1 AND date BETWEEN $2 AND $3 AND `+clinic.WorkedCondition, s.Clinician, s.Period.From, s.Period.To)
		summary := count(t, pool, `SELECT worked_shifts FROM calculations_shiftsummary WHERE clinician_id = $1 AND period_start = $2`, s.Clinician, s.Period.From)
		if got != s.Cached || actual != s.Actual || s.Cached != s.Actual+1 || summary != actual {
			t.Errorf("%s: cache %d (reported %d), database %d (reported %d), summary %d", s.Key, got, s.Cached, actual, s.Actual, summary)
		}
	}
}

func TestEnqueueNoise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts, _ := redis.ParseURL(sandboxtest.Redis(t))
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	cfg := config.Default()
	ids, err := clinic.EnqueueNoise(ctx, rdb, &cfg, clinic.NoiseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := rdb.LLen(ctx, "celery").Val(); n != 3 || len(ids) != 3 {
		t.Errorf("queue holds %d messages (ids %v), want 3", n, ids)
	}
	keys, _, _ := rdb.Scan(ctx, 0, "celery-task-meta-*", 100).Result()
	if len(keys) != 2 {
		t.Errorf("results %v, want 2", keys)
	}
}

func TestRaceCondition(t *testing.T) {
	t.Parallel()
	pool, _ := healthy(t, clinic.InstallOptions{})
	groups, err := clinic.RaceCondition(context.Background(), pool, clinic.RaceOptions{Groups: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 4 {
		t.Fatalf("%d groups, want 4", len(groups))
	}
	n := count(t, pool, `SELECT count(*) FROM (SELECT 1 FROM config_auditlog WHERE entity_type = 'Shift' GROUP BY entity_id, date_trunc('second', timestamp) HAVING count(*) > 1) g`)
	if n != 4 {
		t.Errorf("%d same-second groups in the audit log, want 4", n)
	}
	summariesOff := count(t, pool, `SELECT count(*) FROM calculations_shiftsummary m WHERE m.worked_shifts <> (SELECT count(*) FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND `+clinic.WorkedCondition+`)`)
	if summariesOff != 0 {
		t.Errorf("the race changed %d summaries; it must leave counts alone", summariesOff)
	}
}

func TestUnapplyMigration(t *testing.T) {
	t.Parallel()
	pool, _ := healthy(t, clinic.InstallOptions{})
	if err := clinic.UnapplyMigration(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM django_migrations WHERE name = '0003_shift_constraints'`); n != 0 {
		t.Errorf("the row of config.0003 is still there")
	}
	if n := count(t, pool, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'config_shift_%' AND contype IN ('c', 'u')`); n != 0 {
		t.Errorf("%d of config.0003's constraints are still there", n)
	}
}

func TestConstraintBypass(t *testing.T) {
	t.Parallel()
	pool, _ := healthy(t, clinic.InstallOptions{})
	b, err := clinic.ConstraintBypass(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		sql  string
		want int
	}{
		{"NOT VALID constraints", `SELECT count(*) FROM pg_constraint WHERE NOT convalidated`, 1},
		{"non-positive durations", `SELECT count(*) FROM config_shift WHERE duration <= 0`, len(b.NonPositive)},
		{"duplicates", `SELECT count(*) FROM (SELECT 1 FROM config_shift GROUP BY clinician_id, date, type HAVING count(*) > 1) d`, 1},
		{"orphans", `SELECT count(*) FROM config_shift s LEFT JOIN config_clinician c ON c.id = s.clinician_id WHERE c.id IS NULL`, 1},
		{"disabled triggers", `SELECT count(*) FROM pg_trigger WHERE tgenabled = 'D'`, len(b.DisabledTriggers)},
		{"summaries unchanged", `SELECT count(*) FROM calculations_shiftsummary m WHERE m.worked_shifts <> (SELECT count(*) FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND ` + clinic.WorkedCondition + `)`, 0},
	}
	for _, c := range checks {
		if got := count(t, pool, c.sql); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if len(b.NonPositive) != 2 || len(b.DisabledTriggers) != 2 {
		t.Errorf("bypass %+v", b)
	}
	// A NOT VALID CHECK still refuses new rows.
	if _, err := pool.Exec(context.Background(), `INSERT INTO config_shift (date, type, duration, status, created_at, updated_at, clinician_id) VALUES (current_date, 'DAY', 0, 'SCHEDULED', now(), now(), $1)`, b.Clinician); err == nil {
		t.Error("the NOT VALID CHECK let a new violating row in")
	}
}

func TestBusinessRule(t *testing.T) {
	t.Parallel()
	pool, _ := healthy(t, clinic.InstallOptions{})
	wrong, err := clinic.BusinessRule(context.Background(), pool, clinic.BusinessRuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clinicians := map[int64]bool{}
	for _, w := range wrong {
		clinicians[w.Clinician] = true
		if w.Stored <= w.Actual {
			t.Errorf("%+v: a summary counting cancelled shifts must be higher", w)
		}
	}
	if len(clinicians) != 3 {
		t.Errorf("wrong summaries of %d clinicians, want 3", len(clinicians))
	}
	off := count(t, pool, `SELECT count(*) FROM calculations_shiftsummary m WHERE m.worked_shifts <> (SELECT count(*) FROM config_shift s WHERE s.clinician_id = m.clinician_id AND s.date BETWEEN m.period_start AND m.period_end AND `+clinic.WorkedCondition+`)`)
	if off != len(wrong) {
		t.Errorf("%d summaries differ from the rule, BusinessRule reported %d", off, len(wrong))
	}
}

func TestWriteProjectIsReadByDjangoPackage(t *testing.T) {
	tests := []struct {
		name string
		opts clinic.ProjectOptions
		want []string
	}{
		{"plain", clinic.ProjectOptions{}, []string{"calculations.0001_initial", "config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"}},
		{"squashed with replaced files", clinic.ProjectOptions{Squash: true}, []string{"calculations.0001_initial", "config.0001_initial", "config.0001_squashed_0003_shift_constraints", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"}},
		{"squashed only", clinic.ProjectOptions{Squash: true, DropReplaced: true}, []string{"calculations.0001_initial", "config.0001_squashed_0003_shift_constraints"}},
		{"extra", clinic.ProjectOptions{Extra: []clinic.Migration{{App: "config", Name: "0004_shift_notes", SQL: "ALTER TABLE config_shift ADD COLUMN notes text;"}}}, []string{"calculations.0001_initial", "config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "config.0004_shift_notes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := clinic.WriteProject(dir, tt.opts); err != nil {
				t.Fatal(err)
			}
			p, err := django.ReadProject(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range p.Migrations {
				got = append(got, m.Key.String())
				if m.Name == clinic.Squashed.Name && len(m.Replaces) != 3 {
					t.Errorf("squashed migration read with replaces %v", m.Replaces)
				}
				if m.Key.String() == "config.0004_shift_notes" && (len(m.Dependencies) != 1 || m.Dependencies[0].Name != "0003_shift_constraints") {
					t.Errorf("0004 dependencies %v", m.Dependencies)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("migrations = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTheRuleIsStatedOnce(t *testing.T) {
	if !strings.Contains(clinic.WorkedShiftsSQL, clinic.WorkedCondition) {
		t.Errorf("WorkedShiftsSQL and WorkedCondition disagree:\n%s\n%s", clinic.WorkedShiftsSQL, clinic.WorkedCondition)
	}
}

func TestPeriod(t *testing.T) {
	p := clinic.MonthOf(time.Date(2024, 2, 17, 13, 0, 0, 0, time.UTC))
	if p.String() != "2024-02-01..2024-02-29" {
		t.Errorf("MonthOf = %s", p)
	}
}
