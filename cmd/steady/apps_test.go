package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"steady/examples"
	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
	"steady/probes"
)

// exampleApp is one of the two example Django applications, which differ
// on every axis steady reads: app labels, tables, columns, status values,
// constraint names, cache prefix and version, queue and task, audit trail.
type exampleApp struct {
	name  string
	start func(t testing.TB, databaseURL, redisURL string) *examples.App
	seed  []string
	// profile holds lines the discovered steady.yaml must contain.
	profile []string
	// lost is the field and value the race fault's stale save takes back.
	lost [2]string
	// consistency is the application's own check of its stored figures.
	consistency string
}

var exampleApps = []exampleApp{
	{"clinic", examples.NewClinic, []string{"seed_clinic", "--clinicians", "6", "--months", "2"},
		[]string{"source: django", "table: config_shift", "kind: log", "worked_key: shiftcount:{clinician}:{from}:{to}"},
		[2]string{"status", "CANCELLED"}, "check_summaries"},
	{"rota", examples.NewRota, []string{"seed_rota", "--members", "6", "--months", "2"},
		[]string{"source: django", "table: rostering_duty", "kind: history", "- done\n      - verified", "key_prefix: rota", "version: 2",
			"name: ledger.jobs.rebuild_tally", "queue: rota"},
		[2]string{"state", "called_off"}, "audit_tallies"},
}

// appEnv is the environment steady runs with beside an example
// application: the application's own settings (the manage command reads
// them) and steady's.
func appEnv(app *examples.App, dir string) []string {
	return append(app.OwnEnv(),
		"STEADY_DJANGO_DIR="+app.Dir,
		"STEADY_MANAGE="+target.Join(app.Python, "manage.py"),
		"STEADY_JOURNAL_DIR="+filepath.Join(dir, "incidents"),
		"STEADY_BACKUP_DIR="+filepath.Join(dir, "backups"),
	)
}

// restartableWorker runs the application's real Celery worker detached,
// and returns the command that restarts it: stop it (TERM, wait), start a
// new one. The restart action runs that command as an operator's
// `docker compose restart celery_worker` would.
func restartableWorker(t *testing.T, app *examples.App) string {
	t.Helper()
	marker := fmt.Sprintf("steady-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	logFile := filepath.Join(t.TempDir(), "worker.log")
	env := make([]string, len(app.OwnEnv()))
	for i, kv := range app.OwnEnv() {
		env[i] = target.ShellQuote(kv)
	}
	args := append(app.WorkerArgs(), "-n", marker+"@%h")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = target.ShellQuote(a)
	}
	run := fmt.Sprintf("cd %s && exec env %s %s %s >> %s 2>&1", target.ShellQuote(app.Dir), strings.Join(env, " "), target.ShellQuote(app.Python), strings.Join(quoted, " "), target.ShellQuote(logFile))
	// The start lives in a script, so that the restart command's own line
	// does not carry the worker's name for pkill to find.
	script := filepath.Join(t.TempDir(), "start-worker.sh")
	if err := os.WriteFile(script, []byte("setsid sh -c "+target.ShellQuote(run)+" < /dev/null > /dev/null 2>&1 &\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := "sh " + target.ShellQuote(script)
	// "[s]teady-…" matches the worker's command line but not this one's.
	pattern := target.ShellQuote("[" + marker[:1] + "]" + marker[1:] + "@")
	stop := fmt.Sprintf("pkill -TERM -f -- %s; while pgrep -f -- %s > /dev/null; do sleep 0.2; done", pattern, pattern)
	t.Cleanup(func() { exec.Command("pkill", "-KILL", "-f", "--", marker+"@").Run() })
	if out, err := exec.Command("sh", "-c", start).CombinedOutput(); err != nil {
		t.Fatalf("start the worker: %v\n%s", err, out)
	}
	var log []byte
	poll.Until(t, time.Minute, "the worker to be ready", func() bool {
		log, _ = os.ReadFile(logFile)
		return strings.Contains(string(log), " ready.")
	}, func() string { return string(log) })
	return stop + "; " + start
}

// faultScope is what inject_fault --json says it hit, in either
// application's words.
type faultScope struct {
	clinician int64
	from, to  string
}

func injectFault(t *testing.T, app *examples.App, fault string) faultScope {
	t.Helper()
	raw := app.MustManage(t, "inject_fault", "--fault", fault, "--json")
	var v struct {
		Clinicians []int64 `json:"clinicians"`
		Start      string  `json:"period_start"`
		End        string  `json:"period_end"`
		Member     *int64  `json:"member"`
		From       string  `json:"from"`
		To         string  `json:"to"`
	}
	if err := json.Unmarshal([]byte(raw[strings.Index(raw, "{"):]), &v); err != nil {
		t.Fatalf("inject_fault said %q: %v", raw, err)
	}
	s := faultScope{from: v.Start + v.From, to: v.End + v.To}
	if len(v.Clinicians) > 0 {
		s.clinician = v.Clinicians[0]
	}
	if v.Member != nil {
		s.clinician = *v.Member
	}
	return s
}

// TestYourApplication proves every probe and both resolution paths on
// both example applications from a profile `steady init --yes`
// discovered: healthy, nothing fails and check exits 0; each injected
// fault confirms its cause; backup → migrate and flush → restart →
// recalculate fix theirs.
func TestYourApplication(t *testing.T) {
	steadyBin(t)
	for _, ea := range exampleApps {
		t.Run(ea.name, func(t *testing.T) {
			t.Parallel()
			dbURL := sandboxtest.Database(t)
			app := ea.start(t, dbURL, sandboxtest.Redis(t))
			app.MustManage(t, "migrate", "--noinput")
			app.MustManage(t, ea.seed...)
			restart := restartableWorker(t, app)
			dir := t.TempDir()
			// Operational settings only, which nothing can discover; the
			// profile comes from steady init.
			ops := fmt.Sprintf("django:\n  restart:\n    - %q\nactions:\n  task_timeout: 45s\n", restart)
			if err := os.WriteFile(filepath.Join(dir, "steady.yaml"), []byte(ops), 0o600); err != nil {
				t.Fatal(err)
			}
			env := appEnv(app, dir)
			steady := func(args ...string) result { t.Helper(); return runSteady(t, dir, env, args...) }
			db := target.New(&config.Config{DB: dbURL}).DBName()
			cacheName := target.New(&config.Config{Redis: app.CacheURL}).RedisName()

			r := steady("init", "--yes")
			expect(t, r, 0, "Learnt from Django", "Wrote the profile to steady.yaml")
			written, _ := os.ReadFile(filepath.Join(dir, "steady.yaml"))
			for _, want := range append(ea.profile, "restart:") {
				if !strings.Contains(string(written), want) {
					t.Errorf("steady.yaml lacks %q:\n%s", want, written)
				}
			}

			check := func(args ...string) (checkReport, result) {
				t.Helper()
				r := steady(append([]string{"check", "--json"}, args...)...)
				if r.code == 2 {
					t.Fatalf("check could not run:\n%s\n%s", r.stdout, r.stderr)
				}
				return checkJSON(t, r), r
			}
			verdict := func(rep checkReport, cause string) probes.Verdict {
				for _, c := range rep.Causes {
					if c.ID == cause {
						return c.Verdict
					}
				}
				return ""
			}
			confirms := func(fault, cause string) faultScope {
				t.Helper()
				s := injectFault(t, app, fault)
				rep, r := check()
				if v := verdict(rep, cause); v != probes.Confirmed || r.code != 1 {
					t.Errorf("after %s: %s is %s (exit %d), want confirmed:\n%s", fault, cause, v, r.code, r.stdout)
				}
				return s
			}

			t.Run("healthy: no probe errors or fails, exit 0", func(t *testing.T) {
				rep, r := check("--clinician", "1", "--from", "2025-01-01", "--to", "2025-01-31")
				if r.code != 0 {
					t.Errorf("exit %d on a healthy %s", r.code, ea.name)
				}
				for _, p := range rep.Probes {
					if p.Status == probes.Error || p.Status == probes.Fail || p.Status == probes.Skipped {
						t.Errorf("%s: %s %s %v", p.Probe, p.Status, p.Summary, p.Findings)
					}
				}
				for _, c := range rep.Causes {
					if c.Verdict != probes.RuledOut {
						t.Errorf("cause %s is %s on a healthy %s", c.ID, c.Verdict, ea.name)
					}
				}
				counts := probeByID(rep, "shift-counts")
				if !strings.Contains(counts.Summary, "by the application's calculator") {
					t.Errorf("shift-counts did not hold the figures against the application's code: %s", counts.Summary)
				}
			})

			t.Run("incomplete migration: backup, then migrate", func(t *testing.T) {
				confirms("unapplied-migration", "incomplete-migration")
				expect(t, steady("act", "migrate", "--yes", "--confirm", db), 1, "Outcome: refused")
				expect(t, steady("act", "backup", "--yes"), 0, "Outcome: succeeded", "verified: true")
				expect(t, steady("act", "migrate", "--yes", "--confirm", db), 0, "Applying", "Outcome: succeeded", "» migrations: ok")
				rep, _ := check("--only", "migrations,constraints")
				if v := verdict(rep, "incomplete-migration"); v != probes.RuledOut {
					t.Errorf("after migrate: %s", v)
				}
			})

			t.Run("cache issue: flush, restart, recalculate", func(t *testing.T) {
				s := confirms("stale-cache", "cache-invalidation")
				expect(t, steady("act", "flush-cache", "--yes", "--confirm", cacheName), 0, "Outcome: succeeded")
				expect(t, steady("act", "restart", "--yes", "--confirm", db), 0, "Outcome: succeeded", "connectivity probe")
				expect(t, steady("act", "recalculate", "--clinician", fmt.Sprint(s.clinician), "--from", s.from, "--to", s.to, "--yes"), 0,
					"Outcome: succeeded", "» summaries: ok")
				if _, r := check("--only", "cache,summaries"); r.code != 0 {
					t.Errorf("after the fix: exit %d\n%s", r.code, r.stdout)
				}
			})

			t.Run("business rule", func(t *testing.T) {
				confirms("business-rule", "business-rule")
				// The worker runs the rule as the code has it now: a
				// recalculation of every summary the probes name puts them right.
				expect(t, steady("act", "recalculate", "--yes"), 0, "Outcome: succeeded")
				if _, r := check("--only", "summaries,cache"); r.code != 0 {
					t.Errorf("after recalculating: exit %d\n%s", r.code, r.stdout)
				}
			})

			t.Run("constraint bypass", func(t *testing.T) {
				confirms("constraint-bypass", "constraint-bypass")
			})

			t.Run("race condition: the lost value restored through the application, then recalculated", func(t *testing.T) {
				confirms("race-condition", "race-condition")
				rep, _ := check("--only", "audit-concurrency")
				var lost []probes.LostUpdate
				for _, f := range probeByID(rep, "audit-concurrency").Findings {
					if l, ok := probes.LostFromFinding(f); ok && l.State == probes.LostRestorable {
						lost = append(lost, l)
					}
				}
				if len(lost) != 1 || lost[0].Field != ea.lost[0] || lost[0].Lost.Text != ea.lost[1] || lost[0].LostBy != "alice" || lost[0].By != "bob" {
					t.Fatalf("lost updates %+v, want %s = %s written by alice, taken back by bob", lost, ea.lost[0], ea.lost[1])
				}
				if _, err := app.Manage(context.Background(), ea.consistency); err == nil {
					t.Errorf("%s passes on a lost update", ea.consistency)
				}
				// The backup of the migration above is this incident's.
				expect(t, steady("act", "repair-lost-updates", "--yes", "--confirm", db), 0,
					"Outcome: succeeded", "restored 1 value through the application's models", "» audit-concurrency")
				expect(t, steady("act", "recalculate", "--yes"), 0, "Outcome: succeeded", "» summaries: ok")
				app.MustManage(t, ea.consistency)
				rep, _ = check("--only", "audit-concurrency")
				restored := false
				for _, f := range probeByID(rep, "audit-concurrency").Findings {
					if l, ok := probes.LostFromFinding(f); ok {
						restored = restored || l.State == probes.LostRestored && l.Entity == lost[0].Entity && l.Current.Equal(lost[0].Lost)
						if l.State == probes.LostRestorable {
							t.Errorf("still lost after the repair: %+v", l)
						}
					}
				}
				if !restored {
					t.Errorf("the probe does not see %d restored:\n%v", lost[0].Entity, probeByID(rep, "audit-concurrency").Findings)
				}
			})
		})
	}
}

// The settings of a project that cannot start (here: no DATABASE_URL):
// init falls back to the database catalog and says which roles are
// guesses.
func TestInitFallsBackToTheCatalog(t *testing.T) {
	steadyBin(t)
	app := examples.NewRota(t, sandboxtest.Database(t), sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_rota", "--members", "3", "--months", "1")
	dir := t.TempDir()
	env := with(appEnv(app, dir), "STEADY_MANAGE=env DATABASE_URL= "+target.Join(app.Python, "manage.py"))
	r := runSteady(t, dir, env, "init", "--yes")
	expect(t, r, 0, "Django could not start", "ImproperlyConfigured", "Guessed from the database catalog", "~ shift", "~ audit")
	written, _ := os.ReadFile(filepath.Join(dir, "steady.yaml"))
	for _, want := range []string{"source: catalog", "table: rostering_duty", "- shift", "- audit"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("steady.yaml lacks %q:\n%s", want, written)
		}
	}
	// Started without a profile, steady learns on its own and says how.
	r = runSteady(t, t.TempDir(), with(appEnv(app, t.TempDir()), "STEADY_MANAGE=env DATABASE_URL= "+target.Join(app.Python, "manage.py")), "check", "--only", "connectivity")
	expect(t, r, 0, "Django could not start", "guessed from the database catalog")

}

// A headless incident remembers: the check that found the unapplied
// migration is recorded in the incident act opened, so its report calls
// the cause resolved after the migrate, not ruled out; and a check with
// nothing to check is exit 2, never a silent green.
func TestAHeadlessIncidentRemembers(t *testing.T) {
	steadyBin(t)
	dbURL := sandboxtest.Database(t)
	app := examples.NewClinic(t, dbURL, sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	app.MustManage(t, "seed_clinic", "--clinicians", "3", "--months", "1")
	dir := t.TempDir()
	env := appEnv(app, dir)
	steady := func(args ...string) result { t.Helper(); return runSteady(t, dir, env, args...) }
	db := target.New(&config.Config{DB: dbURL}).DBName()

	expect(t, steady("init", "--yes"), 0)
	app.MustManage(t, "inject_fault", "--fault", "unapplied-migration")
	expect(t, steady("act", "backup", "--yes"), 0, "Outcome: succeeded")
	expect(t, steady("check", "--only", "migrations"), 1, "recorded in incident")
	expect(t, steady("act", "migrate", "--yes", "--confirm", db), 0, "Outcome: succeeded")
	expect(t, steady("check", "--only", "migrations", "--no-journal"), 0)

	files, _ := filepath.Glob(filepath.Join(dir, "incidents", "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("incidents: %v", files)
	}
	r := runSteady(t, dir, nil, "report", "--format", "json", files[0])
	var rep struct {
		Causes []struct {
			ID      string `json:"id"`
			Verdict string `json:"verdict"`
		} `json:"causes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	found := false
	for _, c := range rep.Causes {
		if c.ID == "incomplete-migration" {
			found = true
			if c.Verdict != string(probes.Resolved) {
				t.Errorf("incomplete-migration is %q in the report of what was done, want resolved", c.Verdict)
			}
		}
	}
	if !found {
		t.Errorf("the report has no incomplete-migration cause:\n%s", r.stdout)
	}

	// The diagnosis shows before and after, in time order.
	md := runSteady(t, dir, nil, "report", files[0]).stdout
	first, then, now := strings.Index(md, "First failed: probe `migrations`"), strings.Index(md, "Then: action `migrate`"), strings.Index(md, "Now: Probe `migrations`")
	if first < 0 || then < first || now < then {
		t.Errorf("the report's diagnosis does not show the migration before and after:\n%s", md)
	}

	r = runSteady(t, t.TempDir(), nil, "check")
	expect(t, r, 2, "nothing was checked")
}
