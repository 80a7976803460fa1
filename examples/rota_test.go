package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/examples"
	"steady/internal/sandbox/sandboxtest"
)

// The rota's names, as its README states them. They are spelled out here,
// not taken from steady's profile, so these tests hold the application to
// its contract whatever steady learns.
const (
	rotaWorkedSQL = `SELECT count(*) FROM rostering_duty
WHERE member_id = $1 AND day >= $2 AND day <= $3 AND state IN ('done', 'verified') AND hours > 0`
	rotaTallySQL = `SELECT duties_worked FROM ledger_monthlytally
WHERE member_id = $1 AND month_start = $2 AND month_end = $3`
	rotaTask = "ledger.jobs.rebuild_tally"
)

// rotaKey is the stored django-redis key of a cached worked-duty count.
func rotaKey(member int, from, to string) string {
	return fmt.Sprintf("rota:2:tally/%s/%s/member-%d", from, to, member)
}

// rotaEnv is the rota app on a fresh database and Redis, with connections
// to each of its three Redis databases for checking what it did.
type rotaEnv struct {
	app                    *examples.App
	db                     *pgx.Conn
	cache, broker, results *redis.Client
}

func newRotaEnv(t *testing.T) rotaEnv {
	t.Helper()
	dbURL := sandboxtest.Database(t)
	app := examples.NewRota(t, dbURL, sandboxtest.Redis(t))
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	e := rotaEnv{app: app, db: db}
	for _, c := range []struct {
		dst **redis.Client
		url string
	}{{&e.cache, app.CacheURL}, {&e.broker, app.BrokerURL}, {&e.results, app.ResultsURL}} {
		opts, err := redis.ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		client := redis.NewClient(opts)
		t.Cleanup(func() { client.Close() })
		*c.dst = client
	}
	return e
}

func TestRotaWiring(t *testing.T) {
	app, err := examples.Rota("postgres://unused@127.0.0.1:1/unused", "redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"CacheURL", app.CacheURL, "redis://127.0.0.1:6379/2"},
		{"BrokerURL", app.BrokerURL, "redis://127.0.0.1:6379/3"},
		{"ResultsURL", app.ResultsURL, "redis://127.0.0.1:6379/4"},
		{"settings", app.SettingsModule(), "rotasite.settings"},
		{"worker", strings.Join(app.WorkerArgs(), " "), "-m celery -A rotasite worker --pool=solo --concurrency=1 --without-heartbeat --without-gossip --without-mingle -Q rota --loglevel=INFO"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	env := strings.Join(app.Environ(), "\n")
	for _, want := range []string{"DJANGO_SETTINGS_MODULE=rotasite.settings", "CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/4"} {
		if !strings.Contains(env, want) {
			t.Errorf("the rota's environment lacks %s", want)
		}
	}
	// The clinic is as it was.
	clinic := examples.NewClinic(t, "postgres://unused@127.0.0.1:1/unused", "redis://127.0.0.1:6379/0")
	if got := strings.Join(clinic.WorkerArgs(), " "); got != strings.Join(examples.WorkerArgs, " ") {
		t.Errorf("the clinic's worker runs %q; WorkerArgs say %q", got, strings.Join(examples.WorkerArgs, " "))
	}
	if clinic.SettingsModule() != "clinicsite.settings" || clinic.Results() != clinic.BrokerURL {
		t.Errorf("the clinic's settings %q, results %q", clinic.SettingsModule(), clinic.Results())
	}
}

// The settings refuse to load without DATABASE_URL: steady relies on that
// to tell a misconfigured run from a broken application.
func TestRotaSettingsNeedADatabase(t *testing.T) {
	app := examples.NewRota(t, "", "redis://127.0.0.1:1/0")
	out, err := app.Manage(t.Context(), "check")
	if err == nil || !strings.Contains(out, "ImproperlyConfigured: DATABASE_URL is not set") {
		t.Errorf("manage.py check without DATABASE_URL: %v\n%s", err, out)
	}
}

// The migrations are what makemigrations would write, and they build the
// schema the README promises.
func TestRotaSchema(t *testing.T) {
	e := newRotaEnv(t)
	e.app.MustManage(t, "makemigrations", "--check", "--dry-run")
	e.app.MustManage(t, "migrate", "--noinput")
	columns := rows(t, e.db, `SELECT table_name || '.' || column_name FROM information_schema.columns
WHERE table_schema = 'public' AND table_name IN ('staff_people', 'rostering_duty', 'rostering_historicalduty', 'ledger_monthlytally')
ORDER BY 1`)
	got := map[string]bool{}
	for _, c := range columns {
		got[c[0]] = true
	}
	for _, want := range []string{
		"staff_people.person_id", "staff_people.full_name", "staff_people.monthly_quota", "staff_people.is_active",
		"rostering_duty.member_id", "rostering_duty.day", "rostering_duty.kind", "rostering_duty.hours", "rostering_duty.state", "rostering_duty.updated_at",
		"rostering_historicalduty.id", "rostering_historicalduty.history_id", "rostering_historicalduty.history_date",
		"rostering_historicalduty.history_type", "rostering_historicalduty.history_user_id", "rostering_historicalduty.state",
		"ledger_monthlytally.member_id", "ledger_monthlytally.month_start", "ledger_monthlytally.month_end",
		"ledger_monthlytally.duties_worked", "ledger_monthlytally.shortfall", "ledger_monthlytally.refreshed_at",
	} {
		if !got[want] {
			t.Errorf("no column %s", want)
		}
	}
	constraints := fmt.Sprint(rows(t, e.db, `SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid IN ('rostering_duty'::regclass, 'ledger_monthlytally'::regclass) AND contype IN ('c', 'u')
ORDER BY 1, 2`))
	for _, want := range []string{
		"duty_hours_gt_zero c CHECK ((hours > (0)::numeric))",
		"duty_state_known c CHECK (((state)::text = ANY",
		"u UNIQUE (member_id, day, kind)",
		"tally_once_per_month u UNIQUE (member_id, month_start, month_end)",
	} {
		if !strings.Contains(constraints, want) {
			t.Errorf("constraints %s\nlack %q", constraints, want)
		}
	}
	if out := e.app.MustManage(t, "showmigrations", "rostering"); !strings.Contains(out, " [X] 0002_duty_rules") {
		t.Errorf("showmigrations rostering:\n%s", out)
	}
}

// `manage.py test ledger` passes on the application as shipped and fails
// when the worked-duty rule is misread.
func TestRotaBusinessRuleTests(t *testing.T) {
	for _, tc := range []struct {
		rule string
		pass bool
	}{{"done-or-verified", true}, {"not-called-off", false}} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			app := examples.NewRota(t, sandboxtest.Database(t), "redis://127.0.0.1:1/0")
			app.Env = append(app.Env, "ROTA_WORKED_RULE="+tc.rule)
			out, err := app.Manage(t.Context(), "test", "ledger", "--noinput")
			switch {
			case tc.pass && err != nil:
				t.Fatal(err)
			case !tc.pass && err == nil:
				t.Fatalf("the tests passed with the rule misread:\n%s", out)
			case !tc.pass && !strings.Contains(out, "FAIL: test_planned_and_called_off_duties_never_count"):
				t.Errorf("the wrong test failed:\n%s", out)
			}
		})
	}
}

func TestRotaSeedIsDeterministic(t *testing.T) {
	const duties = `SELECT string_agg(concat_ws(',', m.full_name, m.monthly_quota, m.is_active, d.day, d.kind, d.hours, d.state), ';' ORDER BY d.id)
FROM rostering_duty d JOIN staff_people m ON m.person_id = d.member_id`
	seeded := make([]string, 3)
	t.Run("seed", func(t *testing.T) {
		for i, seed := range []string{"3", "3", "4"} {
			t.Run(seed, func(t *testing.T) {
				t.Parallel()
				e := newRotaEnv(t)
				e.app.MustManage(t, "migrate", "--noinput")
				e.app.MustManage(t, "seed_rota", "--members", "4", "--months", "2", "--seed", seed)
				seeded[i] = rows(t, e.db, duties)[0][0]
				// Every duty has its creation in the history, by seed.
				if got := rows(t, e.db, `SELECT count(*) FROM rostering_duty d WHERE NOT EXISTS (
  SELECT FROM rostering_historicalduty h JOIN auth_user u ON u.id = h.history_user_id
  WHERE h.id = d.id AND h.history_type = '+' AND u.username = 'seed')`); got[0][0] != "0" {
					t.Errorf("%s duties have no '+' history row by seed", got[0][0])
				}
				// A reseed replaces everything, history included.
				if i == 0 {
					e.app.MustManage(t, "seed_rota", "--reset", "--members", "4", "--months", "2", "--seed", seed)
					if again := rows(t, e.db, duties)[0][0]; again != seeded[i] {
						t.Error("--reset with the same seed gave different data")
					}
					if got := rows(t, e.db, `SELECT count(*) FILTER (WHERE history_type <> '+'), count(*) - (SELECT count(*) FROM rostering_duty) FROM rostering_historicalduty`); got[0][0] != "0" || got[0][1] != "0" {
						t.Errorf("after --reset the history has %s rows other than '+' and %s rows too many", got[0][0], got[0][1])
					}
				}
			})
		}
	})
	if seeded[0] == "" {
		t.Fatal("nothing was seeded")
	}
	if seeded[0] != seeded[1] {
		t.Error("the same seed gave different data")
	}
	if seeded[0] == seeded[2] {
		t.Error("different seeds gave the same data")
	}
}

// rotaFigures are one member's worked duties over one month, three ways.
type rotaFigures struct {
	source, tally int
	cache         string
}

func (e rotaEnv) figures(t *testing.T, member int, from, to string) rotaFigures {
	t.Helper()
	ctx := context.Background()
	var f rotaFigures
	if err := e.db.QueryRow(ctx, rotaWorkedSQL, member, from, to).Scan(&f.source); err != nil {
		t.Fatal(err)
	}
	if err := e.db.QueryRow(ctx, rotaTallySQL, member, from, to).Scan(&f.tally); err != nil {
		t.Fatalf("tally of member %d for %s: %v", member, from, err)
	}
	f.cache, _ = e.cache.Get(ctx, rotaKey(member, from, to)).Result()
	return f
}

func (f rotaFigures) consistent() bool {
	return f.cache == strconv.Itoa(f.source) && f.tally == f.source
}

// everyMonth lists each member's tallied months: (member, first, last).
func (e rotaEnv) everyMonth(t *testing.T) [][]string {
	return rows(t, e.db, `SELECT member_id, month_start::text, month_end::text FROM ledger_monthlytally ORDER BY 1, 2`)
}

// allConsistent fails the test for every month whose figures disagree.
func (e rotaEnv) allConsistent(t *testing.T, when string) {
	t.Helper()
	months := e.everyMonth(t)
	if len(months) == 0 {
		t.Fatalf("%s: no tallies", when)
	}
	for _, m := range months {
		id, _ := strconv.Atoi(m[0])
		if f := e.figures(t, id, m[1], m[2]); !f.consistent() {
			t.Errorf("%s: member %d, %s: %+v", when, id, m[1], f)
		}
	}
}

// rotaReport is what `inject_fault --json` prints.
type rotaReport struct {
	Fault   string `json:"fault"`
	Member  *int   `json:"member"`
	Members []int  `json:"members"`
	From    string `json:"from"`
	To      string `json:"to"`
	Detail  string `json:"detail"`
}

// rebuildThroughWorker sends ledger.jobs.rebuild_tally for each
// (member, from, to) with the application's own Celery client, waits for
// the results, and checks that w ran them and that the results are where
// the settings put them.
func (e rotaEnv) rebuildThroughWorker(t *testing.T, w *examples.Worker, jobs [][3]string) {
	t.Helper()
	const send = `
import json, sys, django
django.setup()
from ledger.jobs import rebuild_tally
sent = [(rebuild_tally.delay(*job), job) for job in json.loads(sys.argv[1])]
out = []
for result, job in sent:
    account = result.get(timeout=60)
    assert account['member_id'] == int(job[0]), account
    out.append(result.id)
print(json.dumps(out))
`
	args, _ := json.Marshal(jobs)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := e.app.RunPython(ctx, send, string(args))
	if err != nil {
		t.Fatalf("%v\nworker log:\n%s", err, w.Log())
	}
	var ids []string
	if err := json.Unmarshal([]byte(out), &ids); err != nil || len(ids) != len(jobs) {
		t.Fatalf("the job sender printed %q (%v)", out, err)
	}
	for _, id := range ids {
		if err := w.WaitLog(ctx, "Task "+rotaTask+"["+id+"] succeeded"); err != nil {
			t.Error(err)
		}
		key := "celery-task-meta-" + id
		raw, err := e.results.Get(ctx, key).Result()
		if err != nil {
			t.Errorf("%s in the results db: %v", key, err)
			continue
		}
		var meta struct{ Status string }
		if err := json.Unmarshal([]byte(raw), &meta); err != nil || meta.Status != "SUCCESS" {
			t.Errorf("%s = %s", key, raw)
		}
		if n := e.broker.Exists(ctx, key).Val(); n != 0 {
			t.Errorf("%s is in the broker db too", key)
		}
	}
}

// Each fault leaves the signature the runbook diagnoses, with the rota's
// worker running; the rebuild job through that worker then makes tally and
// cache agree with the source again.
func TestRotaFaults(t *testing.T) {
	for _, tc := range []struct {
		fault string
		check func(t *testing.T, e rotaEnv, r rotaReport)
		// months to rebuild through the worker afterwards; nil means the
		// reported member's month.
		fix func(t *testing.T, e rotaEnv, r rotaReport) [][3]string
	}{
		{fault: "none", check: func(t *testing.T, e rotaEnv, _ rotaReport) {
			e.allConsistent(t, "freshly seeded")
			ctx := context.Background()
			// 5 members × (2 months + the whole range).
			if keys := e.cache.Keys(ctx, "rota:2:tally/*").Val(); len(keys) != 15 {
				t.Errorf("cached tallies: %d keys %v; want 15", len(keys), keys)
			}
			if keys := e.broker.Keys(ctx, "*").Val(); !strings.Contains(fmt.Sprint(keys), "_kombu.binding.rota") {
				t.Errorf("the broker db holds %v; want the rota queue's binding", keys)
			}
			if n := e.cache.Exists(ctx, "_kombu.binding.rota").Val(); n != 0 {
				t.Error("the broker's keys are in the cache db")
			}
		}, fix: func(t *testing.T, e rotaEnv, _ rotaReport) [][3]string {
			return [][3]string{{"1", "2025-01-01", "2025-02-28"}}
		}},
		{fault: "unapplied-migration", check: func(t *testing.T, e rotaEnv, _ rotaReport) {
			out := e.app.MustManage(t, "showmigrations", "rostering")
			if !strings.Contains(out, " [ ] 0002_duty_rules") || !strings.Contains(out, " [X] 0001_initial") {
				t.Errorf("showmigrations:\n%s", out)
			}
			if got := rows(t, e.db, `SELECT count(*) FROM django_migrations WHERE app = 'rostering' AND name = '0002_duty_rules'`); got[0][0] != "0" {
				t.Error("0002_duty_rules is still recorded")
			}
			if got := rotaConstraints(t, e); got != "[]" {
				t.Errorf("0002's constraints are still there: %s", got)
			}
			// The runbook's fix.
			e.app.MustManage(t, "migrate", "--noinput")
			if got := rotaConstraints(t, e); !strings.Contains(got, "duty_hours_gt_zero") || !strings.Contains(got, "duty_state_known") || !strings.Contains(got, " u]") {
				t.Errorf("after migrate the constraints are %s", got)
			}
		}, fix: func(t *testing.T, e rotaEnv, _ rotaReport) [][3]string {
			return [][3]string{{"2", "2025-02-01", "2025-02-28"}}
		}},
		{fault: "race-condition", check: func(t *testing.T, e rotaEnv, r rotaReport) {
			f := e.figures(t, *r.Member, r.From, r.To)
			if f.tally != f.source-1 || f.cache != strconv.Itoa(f.tally) {
				t.Errorf("figures = %+v; want tally and cache one below the source", f)
			}
			// Two saves of one duty, by two people, within a second; the
			// later snapshot puts back the state the earlier one changed.
			got := rows(t, e.db, `SELECT h.id, count(*), string_agg(u.username, ',' ORDER BY h.history_id),
  string_agg(h.state, ',' ORDER BY h.history_id), max(h.history_date) - min(h.history_date) < interval '1 second'
FROM rostering_historicalduty h JOIN auth_user u ON u.id = h.history_user_id
WHERE h.history_type = '~' GROUP BY h.id`)
			if len(got) != 1 || got[0][1] != "2" || got[0][2] != "alice,bob" || got[0][3] != "called_off,done" || got[0][4] != "true" {
				t.Errorf("concurrent saves in the history: %v", got)
			}
		}},
		{fault: "stale-cache", check: func(t *testing.T, e rotaEnv, r rotaReport) {
			f := e.figures(t, *r.Member, r.From, r.To)
			if f.tally != f.source || f.cache != strconv.Itoa(f.source+2) {
				t.Errorf("figures = %+v; want the tally right and the cache two above", f)
			}
			// The bulk update left no history.
			if got := rows(t, e.db, `SELECT count(*) FROM rostering_historicalduty WHERE history_type <> '+'`); got[0][0] != "0" {
				t.Errorf("%s history rows besides the seeded ones", got[0][0])
			}
		}},
		{fault: "constraint-bypass", check: func(t *testing.T, e rotaEnv, r rotaReport) {
			f := e.figures(t, *r.Member, r.From, r.To)
			if f.source != f.tally+2 || f.cache != strconv.Itoa(f.tally) {
				t.Errorf("figures = %+v; want the source two above tally and cache", f)
			}
			notValid := rows(t, e.db, `SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE NOT convalidated`)
			if len(notValid) != 1 || notValid[0][0] != "rostering_duty" || notValid[0][1] != "duty_hours_gt_zero" {
				t.Errorf("NOT VALID constraints: %v", notValid)
			}
			if got := rotaConstraints(t, e); strings.Contains(got, " u]") {
				t.Errorf("the unique constraint survived: %s", got)
			}
			dupes := rows(t, e.db, `SELECT count(*) FROM (SELECT FROM rostering_duty GROUP BY member_id, day, kind HAVING count(*) > 1) d`)
			zero := rows(t, e.db, `SELECT count(*) FROM rostering_duty WHERE hours <= 0`)
			if dupes[0][0] != "2" || zero[0][0] != "1" {
				t.Errorf("%s duplicated duties, %s zero-hour; want 2 and 1", dupes[0][0], zero[0][0])
			}
			if out := e.app.MustManage(t, "showmigrations", "rostering"); !strings.Contains(out, " [X] 0002_duty_rules") {
				t.Errorf("0002 should still be recorded as applied:\n%s", out)
			}
		}},
		{fault: "business-rule", check: func(t *testing.T, e rotaEnv, r rotaReport) {
			if len(r.Members) == 0 || r.Member == nil || *r.Member != r.Members[0] {
				t.Fatalf("affected members: %v (member %v)", r.Members, r.Member)
			}
			wrong := map[int]bool{}
			for _, m := range e.everyMonth(t) {
				id, _ := strconv.Atoi(m[0])
				f := e.figures(t, id, m[1], m[2])
				if f.cache != strconv.Itoa(f.tally) || f.tally < f.source {
					t.Errorf("member %d, %s: %+v; want tally = cache >= source", id, m[1], f)
				}
				if f.tally > f.source {
					wrong[id] = true
				}
			}
			for _, id := range r.Members {
				if !wrong[id] {
					t.Errorf("member %d is reported affected but all figures are right", id)
				}
			}
			if len(wrong) != len(r.Members) {
				t.Errorf("%d members have wrong figures, %d reported", len(wrong), len(r.Members))
			}
		}, fix: func(t *testing.T, e rotaEnv, r rotaReport) [][3]string {
			var jobs [][3]string
			for _, id := range r.Members {
				jobs = append(jobs, [3]string{strconv.Itoa(id), r.From, r.To})
			}
			return jobs
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			e := newRotaEnv(t)
			// The worker needs no tables to start; the fault is injected
			// while it runs, as in production.
			w := e.app.StartWorker(t)
			e.app.MustManage(t, "migrate", "--noinput")
			e.app.MustManage(t, "seed_rota", "--members", "5", "--months", "2")
			var r rotaReport
			if tc.fault != "none" {
				out := e.app.MustManage(t, "inject_fault", "--fault", tc.fault, "--json")
				if err := json.Unmarshal([]byte(out), &r); err != nil || r.Fault != tc.fault {
					t.Fatalf("inject_fault printed %q (%v)", out, err)
				}
				t.Log(r.Detail)
			}
			tc.check(t, e, r)
			var jobs [][3]string
			if tc.fix != nil {
				jobs = tc.fix(t, e, r)
			} else {
				jobs = [][3]string{{strconv.Itoa(*r.Member), r.From, r.To}}
			}
			e.rebuildThroughWorker(t, w, jobs)
			// After constraint-bypass the duplicates count until someone
			// removes them: the rebuild makes the figures agree with the
			// source, wrong as it is.
			e.allConsistent(t, "after the rebuild")
			if !w.Alive() {
				t.Errorf("the worker died:\n%s", w.Log())
			}
		})
	}
}

// rotaConstraints lists the CHECK and UNIQUE constraints on rostering_duty
// as [name type] pairs.
func rotaConstraints(t *testing.T, e rotaEnv) string {
	return fmt.Sprint(rows(t, e.db, `SELECT conname, contype::text FROM pg_constraint
WHERE conrelid = 'rostering_duty'::regclass AND contype IN ('c', 'u') ORDER BY 1`))
}
