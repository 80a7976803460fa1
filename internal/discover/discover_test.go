package discover_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/config"
	"steady/internal/discover"
	"steady/internal/profile"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

func TestParseOutputIgnoresWhatTheProjectPrints(t *testing.T) {
	out := "Warning: DEBUG is on\n<<<steady-discovery-begin>>>\n{\"version\": 1, \"django\": \"3.2\"}\n<<<steady-discovery-end>>>\nbye\n"
	f, err := discover.ParseOutput(out)
	if err != nil || f.Django != "3.2" {
		t.Fatalf("ParseOutput = %+v, %v", f, err)
	}
	for _, bad := range []string{"no markers at all", "<<<steady-discovery-begin>>>\n{\"version\": 1", "<<<steady-discovery-begin>>>{\"version\": 7}<<<steady-discovery-end>>>", "<<<steady-discovery-begin>>>not json<<<steady-discovery-end>>>"} {
		if _, err := discover.ParseOutput(bad); err == nil {
			t.Errorf("ParseOutput(%q) accepted", bad)
		}
	}
}

// learn runs the discovery script through the application's manage
// command, as `steady init` does, with no database behind it.
func learn(t *testing.T, app *examples.App) (*discover.Facts, profile.Profile, *discover.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := discover.Django(ctx, discover.DjangoOptions{Manage: app.ManageLine()})
	if err != nil {
		t.Fatal(err)
	}
	p, r := discover.Map(f, nil)
	if errs := p.Validate(); len(errs) > 0 {
		t.Errorf("the discovered profile is invalid: %v", errs)
	}
	return f, p, r
}

// noDatabase is a database URL nothing answers: discovery must not need one.
const noDatabase = "postgres://nobody:secret@127.0.0.1:1/none"

func TestDiscoverTheExampleApplication(t *testing.T) {
	t.Parallel()
	_, p, r := learn(t, examples.NewClinic(t, noDatabase, "redis://127.0.0.1:1/0"))
	want := profile.Example()
	for _, c := range []struct{ name, got, want string }{
		{"clinician table", p.Clinician.Table, want.Clinician.Table},
		{"contracted", p.Clinician.Contracted, want.Clinician.Contracted},
		{"shift table", p.Shift.Table, want.Shift.Table},
		{"shift columns", strings.Join([]string{p.Shift.Clinician, p.Shift.Date, p.Shift.Type, p.Shift.Duration, p.Shift.Status}, ","),
			strings.Join([]string{want.Shift.Clinician, want.Shift.Date, want.Shift.Type, want.Shift.Duration, want.Shift.Status}, ",")},
		{"audit", p.Audit.Kind + " " + p.Audit.Table + " " + p.Audit.Entity, want.Audit.Kind + " " + want.Audit.Table + " " + want.Audit.Entity},
		{"summary", p.Summary.Table + " " + p.Summary.Worked + " " + p.Summary.Deficiency, want.Summary.Table + " " + want.Summary.Worked + " " + want.Summary.Deficiency},
		{"worked key", p.Cache.WorkedKey, want.Cache.WorkedKey},
		{"task", p.Celery.Recalculate.Name, want.Celery.Recalculate.Name},
		{"calculator", p.Calculator.Call, want.Calculator.Call},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !reflect.DeepEqual(p.Shift.Worked, []string{"COMPLETED"}) || !p.Shift.PositiveDuration || !strings.Contains(p.Shift.Rule, "calculator") {
		t.Errorf("the rule %v (positive %v, %s); want COMPLETED with a positive duration, read from the calculator", p.Shift.Worked, p.Shift.PositiveDuration, p.Shift.Rule)
	}
	if !reflect.DeepEqual(p.Constraints, want.Constraints) {
		t.Errorf("constraints\n%+v\nwant\n%+v", p.Constraints, want.Constraints)
	}
	if len(r.Gaps) != 0 {
		t.Errorf("gaps: %+v", r.Gaps)
	}
}

func TestDiscoverTheRota(t *testing.T) {
	t.Parallel()
	_, p, r := learn(t, examples.NewRota(t, noDatabase, "redis://127.0.0.1:1/0"))
	if p.Clinician.Table != "staff_people" || p.Clinician.ID != "person_id" || p.Clinician.Contracted != "monthly_quota" {
		t.Errorf("clinician %+v", p.Clinician)
	}
	sh := p.Shift
	if sh.Table != "rostering_duty" || sh.Clinician != "member_id" || sh.Date != "day" || sh.Status != "state" || sh.Duration != "hours" || sh.Type != "kind" {
		t.Errorf("shift %+v", sh)
	}
	// The rule comes from the application's own code: two status values
	// count, which no name-based guess would have found.
	if !reflect.DeepEqual(sh.Worked, []string{"done", "verified"}) || !sh.PositiveDuration || sh.Rule != "the application's calculator ledger.counting.worked_duties" {
		t.Errorf("rule %v positive=%v from %q", sh.Worked, sh.PositiveDuration, sh.Rule)
	}
	if !reflect.DeepEqual(sh.Cancelled, []string{"called_off"}) {
		t.Errorf("cancelled %v", sh.Cancelled)
	}
	a := p.Audit
	if a.Kind != profile.AuditHistory || a.Table != "rostering_historicalduty" || a.Timestamp != "history_date" || a.Actions.Update != "~" || a.Actor != "history_user_id" {
		t.Errorf("audit %+v", a)
	}
	s := p.Summary
	if s.Table != "ledger_monthlytally" || s.PeriodStart != "month_start" || s.PeriodEnd != "month_end" || s.Worked != "duties_worked" || s.Deficiency != "shortfall" {
		t.Errorf("summary %+v", s)
	}
	if c := p.Cache; c.KeyPrefix != "rota" || c.Version != 2 || c.DB != 2 || c.WorkedKey != "tally/{from}/{to}/member-{clinician}" {
		t.Errorf("cache %+v", c)
	}
	if c := p.Celery; c.Queue != "rota" || c.Recalculate.Name != "ledger.jobs.rebuild_tally" || strings.Join(c.Recalculate.Params, ",") != "member_id,first_day,last_day" {
		t.Errorf("celery %+v", c)
	}
	if p.Calculator.Call != "ledger.counting.worked_duties" {
		t.Errorf("calculator %+v", p.Calculator)
	}
	var names []string
	for _, c := range p.Constraints {
		names = append(names, c.Label()+"@"+c.Migration)
	}
	for _, want := range []string{"duty_hours_gt_zero@rostering.0002_duty_rules", "duty_state_known@rostering.0002_duty_rules",
		"UNIQUE (member_id, day, kind)@rostering.0002_duty_rules", "tally_once_per_month@ledger.0001_initial"} {
		if !slices.Contains(names, want) {
			t.Errorf("constraints %v lack %s", names, want)
		}
	}
	if len(r.Gaps) != 0 {
		t.Errorf("gaps: %+v", r.Gaps)
	}
}

// A project whose settings raise: one error with the exception's line, so
// the caller can fall back to the catalog.
func TestDiscoverWhenSettingsRaise(t *testing.T) {
	t.Parallel()
	app := examples.NewRota(t, "", "redis://127.0.0.1:1/0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := discover.Django(ctx, discover.DjangoOptions{Manage: app.ManageLine()})
	var de *discover.DjangoError
	if err == nil || !asDjango(err, &de) || !strings.Contains(de.Last, "ImproperlyConfigured") || !strings.Contains(de.Last, "DATABASE_URL") {
		t.Fatalf("err = %v; want a DjangoError naming ImproperlyConfigured and DATABASE_URL", err)
	}
	_, err = discover.Django(ctx, discover.DjangoOptions{Manage: "/nonexistent/python manage.py"})
	if err == nil || !strings.Contains(err.Error(), "exit 127") {
		t.Errorf("a manage command that cannot run: %v", err)
	}
}

func asDjango(err error, de **discover.DjangoError) bool {
	x, ok := err.(*discover.DjangoError)
	*de = x
	return ok
}

// The catalog fallback on the example application's schema (as the tests
// and drills build it) and on the rota (as Django migrates it): every role
// found, every one marked a guess.
func TestCatalogFallback(t *testing.T) {
	t.Parallel()
	t.Run("example application", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dbURL, redisURL := sandboxtest.Database(t), sandboxtest.Redis(t)
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if err := clinic.Install(ctx, pool, clinic.InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := clinic.Seed(ctx, pool, clinic.SeedOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.DB, cfg.Redis = dbURL, redisURL
		ro, _ := redis.ParseURL(redisURL)
		rdb := redis.NewClient(ro)
		defer rdb.Close()
		if _, err := clinic.WarmCache(ctx, pool, rdb, &cfg, clinic.CacheOptions{}); err != nil {
			t.Fatal(err)
		}
		p := catalog(t, &cfg)
		want := profile.Example()
		if p.Shift.Table != want.Shift.Table || p.Shift.Status != "status" || !reflect.DeepEqual(p.Shift.Worked, []string{"COMPLETED"}) ||
			p.Clinician.Table != want.Clinician.Table || p.Summary.Table != want.Summary.Table || p.Audit.Table != want.Audit.Table ||
			p.Audit.Entity != "Shift" || p.Cache.WorkedKey != want.Cache.WorkedKey {
			t.Errorf("catalog profile:\n%+v", p)
		}
	})
	t.Run("rota", func(t *testing.T) {
		t.Parallel()
		app := examples.NewRota(t, sandboxtest.Database(t), sandboxtest.Redis(t))
		app.MustManage(t, "migrate", "--noinput")
		app.MustManage(t, "seed_rota", "--members", "4", "--months", "1")
		cfg := config.Default()
		cfg.DB, cfg.Redis = app.DatabaseURL, app.CacheURL
		p := catalog(t, &cfg)
		if p.Shift.Table != "rostering_duty" || p.Shift.Status != "state" || !reflect.DeepEqual(p.Shift.Worked, []string{"done", "verified"}) ||
			p.Clinician.Table != "staff_people" || p.Clinician.ID != "person_id" || p.Summary.Table != "ledger_monthlytally" ||
			p.Audit.Kind != profile.AuditHistory || p.Cache.KeyPrefix != "rota" || p.Cache.WorkedKey != "tally/{from}/{to}/member-{clinician}" {
			t.Errorf("catalog profile:\n%+v", p)
		}
	})
}

func catalog(t *testing.T, cfg *config.Config) profile.Profile {
	t.Helper()
	tg := target.New(cfg)
	defer tg.Close()
	p, r, err := discover.Catalog(context.Background(), tg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != profile.SourceCatalog || r.Source != profile.SourceCatalog {
		t.Errorf("source %s/%s", p.Source, r.Source)
	}
	for _, role := range []string{"clinician", "shift", "audit", "summary", "cache"} {
		if !p.IsGuessed(role) {
			t.Errorf("%s is not marked a guess", role)
		}
	}
	for _, m := range r.Mapped {
		if !m.Guess {
			t.Errorf("%s is reported as known, not guessed", m.Key)
		}
	}
	if errs := p.Validate(); len(errs) > 0 {
		t.Errorf("invalid: %v", errs)
	}
	return p
}

// Two models that could play one role: Map records the choice, takes the
// first in the documented order without a chooser, and the chooser's pick
// otherwise.
func TestTwoCandidatesForOneRole(t *testing.T) {
	t.Parallel()
	f, _, _ := learn(t, examples.NewClinic(t, noDatabase, "redis://127.0.0.1:1/0"))
	// The shift model also gets django-simple-history's table.
	f.Models = append(f.Models, discover.Model{Label: "config.HistoricalShift", App: "config", Name: "HistoricalShift",
		Table: "config_historicalshift", Project: true, PK: "history_id", HistoryOf: "config.Shift",
		Fields: []discover.Field{{Name: "id", Column: "id", Type: "BigIntegerField"}, {Name: "history_date", Column: "history_date", Type: "DateTimeField"},
			{Name: "history_type", Column: "history_type", Type: "CharField"}, {Name: "history_user", Column: "history_user_id", Type: "ForeignKey"}}})
	p, r := discover.Map(f, nil)
	if len(r.Choices) != 1 || r.Choices[0].Role != "audit" || len(r.Choices[0].Options) != 2 || r.Choices[0].Picked != 0 {
		t.Fatalf("choices %+v", r.Choices)
	}
	if p.Audit.Kind != profile.AuditHistory || !strings.Contains(r.Choices[0].Why, "documented order") {
		t.Errorf("without a chooser the shift's own history comes first: %+v (%s)", p.Audit, r.Choices[0].Why)
	}
	p, _ = discover.Map(f, func(role string, options []string) int { return 1 })
	if p.Audit.Kind != profile.AuditLog || p.Audit.Table != "config_auditlog" {
		t.Errorf("the chooser picked the audit log, yet %+v", p.Audit)
	}
}
