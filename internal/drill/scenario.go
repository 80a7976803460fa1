package drill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/config"
)

// Runbook cause ids the scenarios inject (runbook data-inconsistency).
const (
	CauseMigration  = "incomplete-migration"
	CauseRace       = "race-condition"
	CauseCache      = "cache-invalidation"
	CauseRule       = "business-rule"
	CauseConstraint = "constraint-bypass"
)

// Random is the scenario name that picks one of the others from the seed.
const Random = "random"

// Scenario is one practice incident: what is broken, what the trainee is
// told, and what a safe resolution looks like.
type Scenario struct {
	// Name is what `steady drill NAME` takes.
	Name string
	// Summary is one line for `steady drill --list`.
	Summary string
	// Causes are the runbook cause ids that are really at work.
	Causes []string
	// Resolution is the expected safe resolution as action ids, in order;
	// the debrief checks the trainee's successful actions against it, and
	// any destructive action not in it counts as unneeded.
	Resolution []string
	// ResolutionText says the same in words, manual steps included.
	ResolutionText string

	// inject breaks a healthy sandbox and returns the briefing: the
	// symptom as a user would report it.
	inject func(ctx context.Context, f *fixture) (string, error)
}

// fixture is the healthy sandbox a scenario breaks.
type fixture struct {
	db    *pgxpool.Pool
	cache redis.UniversalClient
	cfg   *config.Config
	seed  int64
	data  *clinic.Dataset
}

var scenarios = []Scenario{
	{
		Name:           "incomplete-migration",
		Summary:        "a release went out without `migrate`: config.0003_shift_constraints is not applied",
		Causes:         []string{CauseMigration},
		Resolution:     []string{"backup", "migrate", "check"},
		ResolutionText: "back up (verified), apply the missing migration, run Django's check, re-run the migrations probe",
		inject:         injectMigration,
	},
	{
		Name:           "race-condition",
		Summary:        "two requests saved the same shifts in the same second; an overtime change was lost",
		Causes:         []string{CauseRace},
		Resolution:     []string{"backup", "repair-lost-updates", "recalculate"},
		ResolutionText: "identify the concurrent writes and the values they lost (audit-concurrency), back up (verified), restore the lost values from the audit trail (repair-lost-updates), lock the critical save in the code (select_for_update), recalculate the affected clinicians, verify no new concurrent writes since the fix (audit-concurrency since: fix)",
		inject:         injectRace,
	},
	{
		Name:           "stale-cache",
		Summary:        "shifts were cancelled but their cached counts were never invalidated",
		Causes:         []string{CauseCache},
		Resolution:     []string{"flush-cache", "restart", "recalculate"},
		ResolutionText: "flush the Django cache only (FLUSHDB of the cache db, never FLUSHALL: the broker shares the instance), restart the worker, recalculate the affected clinicians, re-run the cache probe",
		inject:         injectStaleCache,
	},
	{
		Name:           "constraint-bypass",
		Summary:        "a hand-made bulk fix bypassed the CHECK, the UNIQUE and a foreign key",
		Causes:         []string{CauseConstraint},
		Resolution:     []string{"backup"},
		ResolutionText: "back up (verified), then by hand in one transaction: delete or correct the offending rows, ALTER TABLE config_shift VALIDATE CONSTRAINT config_shift_duration_positive, re-add the UNIQUE, ALTER TABLE config_clinician ENABLE TRIGGER ALL; re-run the constraints probe",
		inject:         injectConstraintBypass,
	},
	{
		Name:           "business-rule",
		Summary:        "summaries were computed counting cancelled shifts as worked",
		Causes:         []string{CauseRule},
		Resolution:     []string{"recalculate", "run-tests"},
		ResolutionText: "run the business-rule tests (they fail on the stored summaries), recalculate the affected clinicians with the corrected logic, run the tests again, re-run the summaries probe",
		inject:         injectBusinessRule,
	},
	{
		Name:           "mixed",
		Summary:        "two causes at once: an unapplied migration and a stale cache",
		Causes:         []string{CauseMigration, CauseCache},
		Resolution:     []string{"backup", "migrate", "check", "flush-cache", "restart", "recalculate"},
		ResolutionText: "both paths: back up, migrate, check; then flush the cache db only, restart the worker, recalculate the affected clinicians; re-run the migrations and cache probes",
		inject: func(ctx context.Context, f *fixture) (string, error) {
			cache, err := injectStaleCache(ctx, f)
			if err != nil {
				return "", err
			}
			migration, err := injectMigration(ctx, f)
			if err != nil {
				return "", err
			}
			return "Two reports came in this morning. " + cache + " Separately: " + lowerFirst(migration), nil
		},
	},
}

// Scenarios returns every scenario in the order --list shows them, random
// last.
func Scenarios() []Scenario {
	out := append([]Scenario(nil), scenarios...)
	return append(out, Scenario{Name: Random, Summary: "one of the above, picked by the seed (replay it with --seed)"})
}

// Resolve returns the scenario called name; random picks one of the others
// from seed, the same one for the same seed.
func Resolve(name string, seed int64) (Scenario, error) {
	if name == "" || name == Random {
		rng := rand.New(rand.NewPCG(uint64(seed), 0xd1111))
		return scenarios[rng.IntN(len(scenarios))], nil
	}
	var names []string
	for _, s := range scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("no drill scenario %q (known: %s, %s); `steady drill --list` describes them", name, strings.Join(names, ", "), Random)
}

// Needed reports whether action is part of the scenario's resolution.
func (s Scenario) Needed(action string) bool {
	for _, a := range s.Resolution {
		if a == action {
			return true
		}
	}
	return false
}

// Has reports whether cause is one of the scenario's true causes.
func (s Scenario) Has(cause string) bool {
	for _, c := range s.Causes {
		if c == cause {
			return true
		}
	}
	return false
}

func injectMigration(ctx context.Context, f *fixture) (string, error) {
	if err := clinic.UnapplyMigration(ctx, f.db); err != nil {
		return "", err
	}
	who, err := doctor(ctx, f, f.data.Clinicians[int(f.seed)%len(f.data.Clinicians)])
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("The rota office says last night's release promised to refuse zero-hour shifts and double bookings, "+
		"but an admin saved a zero-hour day shift for %s this morning without any error (and deleted it again), "+
		"and a second night shift on the same date went through too. The deploy pipeline shows green; payroll runs tonight.", who), nil
}

func injectRace(ctx context.Context, f *fixture) (string, error) {
	groups, err := clinic.RaceCondition(ctx, f.db, clinic.RaceOptions{Groups: 3, Seed: f.seed})
	if err != nil {
		return "", err
	}
	g := groups[0]
	who, err := doctor(ctx, f, g.Clinician)
	if err != nil {
		return "", err
	}
	var typ string
	var hours float64
	if err := f.db.QueryRow(ctx, `SELECT type, duration::float8 FROM config_shift WHERE id = $1`, g.Shift).Scan(&typ, &hours); err != nil {
		return "", fmt.Errorf("read shift %d: %w", g.Shift, err)
	}
	return fmt.Sprintf("%s says the two hours of overtime the rota office added to the %s shift on %s are missing from the timesheet: "+
		"the shift still shows %g hours. The rota office insists they saved it, and %d other clinicians have said the same this week.",
		upperFirst(who), strings.ToLower(strings.ReplaceAll(typ, "_", "-")), g.Date.Format("Monday 2 January"), hours, len(groups)-1), nil
}

func injectStaleCache(ctx context.Context, f *fixture) (string, error) {
	stale, err := clinic.StaleCache(ctx, f.db, f.cache, f.cfg, clinic.StaleOptions{Clinicians: 3, Seed: f.seed})
	if err != nil {
		return "", err
	}
	k := stale[0]
	who, err := doctor(ctx, f, k.Clinician)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Ward %d says %s's %s shift count on the rota dashboard is %d, %s too high: payroll's export says %d. "+
		"One of those shifts was cancelled after the fact, and the dashboard has not changed since.",
		3+f.seed%9, who, k.Period.From.Format("January"), k.Cached, countWord(k.Cached-k.Actual), k.Actual), nil
}

func injectConstraintBypass(ctx context.Context, f *fixture) (string, error) {
	b, err := clinic.ConstraintBypass(ctx, f.db)
	if err != nil {
		return "", err
	}
	who, err := doctor(ctx, f, b.Clinician)
	if err != nil {
		return "", err
	}
	var day time.Time
	if err := f.db.QueryRow(ctx, `SELECT date FROM config_shift WHERE id = $1`, b.NonPositive[len(b.NonPositive)-1]).Scan(&day); err != nil {
		return "", fmt.Errorf("read shift %d: %w", b.NonPositive[len(b.NonPositive)-1], err)
	}
	return fmt.Sprintf("The data-quality dashboard shows a shift of −8 hours for %s on %s, and last night's payroll export failed on a shift "+
		"whose clinician does not exist. On Friday a locum agency's bulk import was \"fixed up\" by hand, straight in the database.",
		who, day.Format("2 January")), nil
}

func injectBusinessRule(ctx context.Context, f *fixture) (string, error) {
	wrong, err := clinic.BusinessRule(ctx, f.db, clinic.BusinessRuleOptions{Clinicians: 3})
	if err != nil {
		return "", err
	}
	w, err := mostVisible(ctx, f, wrong)
	if err != nil {
		return "", err
	}
	who, err := doctor(ctx, f, w.Clinician)
	if err != nil {
		return "", err
	}
	contracted, err := contractedShifts(ctx, f, w.Clinician)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Payroll says %s's %s summary shows %d worked shifts and a deficiency of %d, but the rota has %d shifts worked, which leaves %d owed. "+
		"HR has had similar complaints since the calculation change shipped last sprint.",
		who, w.Period.From.Format("January"), w.Stored, clinic.DeficiencyOf(contracted, w.Stored), w.Actual, clinic.DeficiencyOf(contracted, w.Actual)), nil
}

// mostVisible picks the wrong summary a user would notice first: one
// whose deficiency, which drives pay, is wrong too.
func mostVisible(ctx context.Context, f *fixture, wrong []clinic.WrongSummary) (clinic.WrongSummary, error) {
	for _, w := range wrong {
		contracted, err := contractedShifts(ctx, f, w.Clinician)
		if err != nil {
			return w, err
		}
		if clinic.DeficiencyOf(contracted, w.Stored) != clinic.DeficiencyOf(contracted, w.Actual) {
			return w, nil
		}
	}
	return wrong[0], nil
}

func contractedShifts(ctx context.Context, f *fixture, clinician int64) (int, error) {
	var n int
	if err := f.db.QueryRow(ctx, `SELECT contracted_shifts FROM config_clinician WHERE id = $1`, clinician).Scan(&n); err != nil {
		return 0, fmt.Errorf("read clinician %d: %w", clinician, err)
	}
	return n, nil
}

// doctor names a clinician the way a ward would: "Dr Okafor".
func doctor(ctx context.Context, f *fixture, id int64) (string, error) {
	var name string
	if err := f.db.QueryRow(ctx, `SELECT name FROM config_clinician WHERE id = $1`, id).Scan(&name); err != nil {
		return "", fmt.Errorf("read clinician %d: %w", id, err)
	}
	parts := strings.Fields(name)
	return "Dr " + parts[len(parts)-1], nil
}

func countWord(n int) string {
	if words := []string{"none", "one", "two", "three", "four", "five"}; n >= 0 && n < len(words) {
		return words[n]
	}
	return fmt.Sprint(n)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
