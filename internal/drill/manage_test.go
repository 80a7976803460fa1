package drill

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/django"
	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

var dbCount atomic.Int64

// sandboxDB returns a fresh database in the private server: the sandbox
// commands refuse any server outside a sandbox, so an external
// STEADY_TEST_DATABASE_URL would not do.
func sandboxDB(t *testing.T) string {
	t.Helper()
	pg := sandboxtest.Postgres(t)
	name := fmt.Sprintf("drill_%d_%d", time.Now().UnixNano()%1e6, dbCount.Add(1))
	url, err := pg.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.DropDatabase(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return url
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// manage runs the sandbox's manage.py and returns its output and status.
func manage(t *testing.T, db string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Manage(context.Background(), db, args, &out, &errb)
	return out.String(), errb.String(), code
}

// migrationRows reads django_migrations as app.name in id order.
func migrationRows(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT app || '.' || name FROM django_migrations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestMigrateWritesWhatDjangoWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redisURL := sandboxtest.RedisServer(t, sandbox.RedisOptions{}).URL(0)

	// Django itself, migrating the example application...
	theirsDB := sandboxDB(t)
	theirs := examples.NewClinic(t, theirsDB, redisURL)
	djangoOut := theirs.MustManage(t, "migrate", "--noinput")
	// ...and the sandbox's migrator, on a database of its own.
	oursDB := sandboxDB(t)
	out, errOut, code := manage(t, oursDB, "migrate", "--noinput")
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	if got, want := applyingLines(out), applyingLines(djangoOut); !slices.Equal(got, want) {
		t.Errorf("migrate printed\n%s\nDjango printed\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ours, theirsConn := connect(t, oursDB), connect(t, theirsDB)
	if got, want := migrationRows(t, ours), migrationRows(t, theirsConn); !slices.Equal(got, want) {
		t.Errorf("django_migrations rows\n ours:   %q\n Django: %q", got, want)
	}
	var stale int
	if err := ours.QueryRow(ctx, `SELECT count(*) FROM django_migrations WHERE applied > now() OR applied < now() - interval '1 minute'`).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("%d rows with an applied time that is not now (%v)", stale, err)
	}

	// Django reads our database as its own, in both formats.
	onOurs := examples.NewClinic(t, oursDB, redisURL)
	for _, args := range [][]string{{"showmigrations", "--plan"}, {"showmigrations"}} {
		mine, _, code := manage(t, oursDB, args...)
		if want := onOurs.MustManage(t, args...); code != 0 || mine != want {
			t.Errorf("%s: exit %d\n ours:\n%s\n Django:\n%s", strings.Join(args, " "), code, mine, want)
		}
	}

	// Unapplied after a rollback of config to 0002 (its row deleted, as
	// Django does), then applied again: one new row, after the others.
	if err := clinic.UnapplyMigration(ctx, ours); err != nil {
		t.Fatal(err)
	}
	plan, _, _ := manage(t, oursDB, "showmigrations", "--plan")
	states, err := django.ParsePlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	if u := django.Unapplied(states); len(u) != 1 || u[0].Key.String() != "config.0003_shift_constraints" {
		t.Errorf("unapplied after the rollback: %v", u)
	}
	before := migrationRows(t, ours)
	out, _, code = manage(t, oursDB, "migrate")
	if code != 0 || applyingLines(out)[0] != "Applying config.0003_shift_constraints... OK" || len(applyingLines(out)) != 1 {
		t.Errorf("migrate after the rollback: exit %d\n%s", code, out)
	}
	if after := migrationRows(t, ours); !slices.Equal(after, append(before, "config.0003_shift_constraints")) {
		t.Errorf("rows after re-applying: %q", after)
	}
	var constraints int
	if err := ours.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE conname IN ('config_shift_duration_positive', 'config_shift_unique_clinician_date_type') AND convalidated`).Scan(&constraints); err != nil || constraints != 2 {
		t.Errorf("config.0003's constraints after migrate: %d (%v)", constraints, err)
	}
	out, _, code = manage(t, oursDB, "migrate")
	if code != 0 || !strings.Contains(out, "No migrations to apply.") {
		t.Errorf("migrate with nothing to do: exit %d\n%s", code, out)
	}
	out, _, code = manage(t, oursDB, "check")
	if code != 0 || out != "System check identified no issues (0 silenced).\n" {
		t.Errorf("check: exit %d %q", code, out)
	}
}

// applyingLines returns migrate's "Applying X... OK" lines, trimmed.
func applyingLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "Applying ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestBuiltInTestsCatchABrokenRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		break_ func(t *testing.T, conn *pgx.Conn)
		failed []string
	}{
		{"healthy", func(*testing.T, *pgx.Conn) {}, nil},
		{"summaries computed with the wrong rule", func(t *testing.T, conn *pgx.Conn) {
			if _, err := clinic.BusinessRule(ctx, conn, clinic.BusinessRuleOptions{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"test_stored_summaries_follow_the_rule"}},
		{"the constraints' migration unapplied", func(t *testing.T, conn *pgx.Conn) {
			if err := clinic.UnapplyMigration(ctx, conn); err != nil {
				t.Fatal(err)
			}
		}, []string{"test_duration_must_be_positive", "test_one_shift_per_clinician_date_and_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := sandboxDB(t)
			conn := connect(t, db)
			if err := clinic.Install(ctx, conn, clinic.InstallOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := clinic.Seed(ctx, conn, clinic.SeedOptions{Clinicians: 8, Months: 2, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			tt.break_(t, conn)
			var shifts, summaries int
			if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM config_shift), (SELECT count(*) FROM calculations_shiftsummary)`).Scan(&shifts, &summaries); err != nil {
				t.Fatal(err)
			}

			_, out, code := manage(t, db, "test", "calculations")
			var failed []string
			for _, l := range strings.Split(out, "\n") {
				if name, ok := strings.CutPrefix(l, "FAIL: "); ok {
					failed = append(failed, strings.Fields(name)[0])
				}
				if strings.HasPrefix(l, "ERROR: ") {
					t.Errorf("a test errored: %s\n%s", l, out)
				}
			}
			if !slices.Equal(failed, tt.failed) {
				t.Errorf("failed %q, want %q\n%s", failed, tt.failed, out)
			}
			wantCode := 0
			if len(tt.failed) > 0 {
				wantCode = 1
			}
			if code != wantCode || !strings.Contains(out, fmt.Sprintf("Ran %d tests", len(ruleTests))) {
				t.Errorf("exit %d, want %d\n%s", code, wantCode, out)
			}
			var shiftsAfter, summariesAfter int
			if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM config_shift), (SELECT count(*) FROM calculations_shiftsummary)`).Scan(&shiftsAfter, &summariesAfter); err != nil {
				t.Fatal(err)
			}
			if shiftsAfter != shifts || summariesAfter != summaries {
				t.Errorf("the tests left rows behind: shifts %d → %d, summaries %d → %d", shifts, shiftsAfter, summaries, summariesAfter)
			}
		})
	}
}

func TestManageRefusesMisuse(t *testing.T) {
	t.Parallel()
	db := sandboxDB(t)
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "Available subcommands"},
		{[]string{"flush"}, 1, "Unknown command"},
		{[]string{"migrate", "config", "0002"}, 2, "applies every unapplied migration"},
		{[]string{"test", "reports"}, 2, "calculations only"},
	} {
		_, errOut, code := manage(t, db, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.says) {
			t.Errorf("manage %q: exit %d, stderr %q; want exit %d saying %q", tt.args, code, errOut, tt.code, tt.says)
		}
	}
	if _, errOut, code := manage(t, "", "migrate"); code != 1 || !strings.Contains(errOut, EnvDatabase) {
		t.Errorf("without a database: exit %d %q", code, errOut)
	}
}
