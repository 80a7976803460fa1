package drill

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"steady/actions"
)

func TestScenariosNameRunbookCausesAndActions(t *testing.T) {
	rb := defaultRunbook(t)
	causes := causeProbes(rb)
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if seen[s.Name] {
			t.Errorf("two scenarios are called %s", s.Name)
		}
		seen[s.Name] = true
		if s.Summary == "" {
			t.Errorf("%s has no summary for --list", s.Name)
		}
		if s.Name == Random {
			continue
		}
		if len(s.Causes) == 0 || len(s.Resolution) == 0 || s.ResolutionText == "" || s.inject == nil {
			t.Errorf("%s is incomplete: %+v", s.Name, s)
		}
		for _, c := range s.Causes {
			if _, ok := causes[c]; !ok {
				t.Errorf("%s: cause %q is not a cause of runbook %s", s.Name, c, rb.Name)
			}
		}
		for _, a := range s.Resolution {
			if _, ok := actions.Get(a); !ok {
				t.Errorf("%s: resolution step %q is not an action", s.Name, a)
			}
		}
	}
	for _, want := range []string{"incomplete-migration", "race-condition", "stale-cache", "constraint-bypass", "business-rule", "mixed", Random} {
		if !seen[want] {
			t.Errorf("no scenario %s", want)
		}
	}
	if m, _ := Resolve("mixed", 1); len(m.Causes) < 2 {
		t.Errorf("mixed has causes %q, want two at once", m.Causes)
	}
}

func TestRandomIsReproducibleAndCoversEveryScenario(t *testing.T) {
	picked := map[string]bool{}
	for seed := int64(1); seed <= 200; seed++ {
		a, err := Resolve(Random, seed)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Resolve("", seed)
		if a.Name != b.Name {
			t.Fatalf("seed %d picked %s, then %s", seed, a.Name, b.Name)
		}
		if a.Name == Random {
			t.Fatalf("seed %d picked random itself", seed)
		}
		picked[a.Name] = true
	}
	if len(picked) != len(scenarios) {
		t.Errorf("200 seeds picked only %d of %d scenarios: %v", len(picked), len(scenarios), picked)
	}
	if _, err := Resolve("stale-cahce", 1); err == nil || !strings.Contains(err.Error(), "stale-cache") {
		t.Errorf("a typo should list the scenarios: %v", err)
	}
}

// fakeRow answers SHOW data_directory.
type fakeRow struct {
	dir string
	err error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	*dest[0].(*string) = r.dir
	return nil
}

type fakeDB struct{ row fakeRow }

func (f fakeDB) QueryRow(context.Context, string, ...any) pgx.Row { return f.row }

func TestGuardRefusesServersOutsideASandbox(t *testing.T) {
	for _, tt := range []struct {
		dir string
		ok  bool
	}{
		{"/tmp/steady-pg-1234567/data", true},
		{"/var/tmp/x/steady-pg-42/data", true},
		{"/var/lib/postgresql/15/main", false},
		{"/srv/steady-postgres/data", false},
		{"/tmp/pg-steady-pg/data", false},
	} {
		err := guardPostgres(context.Background(), fakeDB{fakeRow{dir: tt.dir}})
		if (err == nil) != tt.ok {
			t.Errorf("data_directory %s: %v, want allowed=%v", tt.dir, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.dir) {
			t.Errorf("the refusal should name the data directory: %v", err)
		}
	}
	if err := guardPostgres(context.Background(), fakeDB{fakeRow{err: errors.New("permission denied")}}); err == nil {
		t.Error("a server that will not say where its data is must be refused")
	}
	// The real private servers pass.
	if err := guardPostgres(context.Background(), connect(t, sandboxDB(t))); err != nil {
		t.Errorf("a sandbox database was refused: %v", err)
	}
}
