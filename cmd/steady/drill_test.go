package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/actions"
	"steady/internal/drill"
	"steady/internal/poll"
	"steady/internal/sandbox"
	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
	"steady/tui/tuitest"
)

// Each scenario end to end, against a real sandbox, through the real
// binary: `steady check` finds exactly the injected causes, the scripted
// resolution (the runbook's actions via `steady act`, the manual SQL where
// the runbook says so) really fixes the sandbox, and check then passes.

// logWriter sends a drill's progress to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startDrill builds a drill whose commands run the freshly built binary.
func startDrill(t *testing.T, scenario string, seed int64) *drill.Drill {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := drill.Start(ctx, drill.Options{Scenario: scenario, Seed: seed, Executable: steadyBin(t), Log: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close the drill: %v", err)
		}
		assertTornDown(t, d.Dirs(), d.WorkerPID())
	})
	return d
}

// assertTornDown waits until no process of a drill is left and its dirs
// are gone: the servers, whatever names the dirs (the worker), the worker
// by pid, and the dirs themselves.
func assertTornDown(t *testing.T, dirs []string, workerPID int) {
	t.Helper()
	var left []string
	poll.Until(t, 30*time.Second, "the drill to leave nothing behind", func() bool {
		left = nil
		procs, err := sandbox.Leftovers()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			for _, d := range dirs {
				if strings.Contains(p, filepath.Base(d)) {
					left = append(left, "process "+p)
				}
			}
		}
		if workerPID > 0 && syscall.Kill(workerPID, 0) == nil && !isZombie(workerPID) {
			left = append(left, fmt.Sprintf("worker pid %d", workerPID))
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
				left = append(left, "dir "+d)
			}
		}
		return len(left) == 0
	}, func() string { return "  " + strings.Join(left, "\n  ") })
}

// isZombie reports whether pid has exited and waits for its parent.
func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// drillSteady runs the binary against the drill, configured as a trainee's
// second terminal would be: the drill's steady.yaml and its environment.
func drillSteady(t *testing.T, d *drill.Drill, args ...string) result {
	t.Helper()
	return runSteady(t, "", append(d.Env(), "STEADY_CONFIG="+d.ConfigFile, "STEADY_TEST=1"), args...)
}

// drillCheck runs `steady check --json` and returns the report.
func drillCheck(t *testing.T, d *drill.Drill, args ...string) (checkReport, result) {
	t.Helper()
	r := drillSteady(t, d, append([]string{"check", "--json"}, args...)...)
	return checkJSON(t, r), r
}

// verdicts returns each cause's verdict.
func verdicts(rep checkReport) map[string]probes.Verdict {
	out := map[string]probes.Verdict{}
	for _, c := range rep.Causes {
		out[c.ID] = c.Verdict
	}
	return out
}

// act plans an action, reads its confirm phrase, and carries it out.
func act(t *testing.T, d *drill.Drill, id string, args ...string) result {
	t.Helper()
	plan := drillSteady(t, d, append([]string{"act", id, "--plan"}, args...)...)
	if plan.code != 0 {
		t.Fatalf("steady act %s --plan: exit %d\n%s%s", id, plan.code, plan.stdout, plan.stderr)
	}
	yes := append([]string{"act", id, "--yes"}, args...)
	if m := regexp.MustCompile(`(?m)^Confirm phrase: (.+)$`).FindStringSubmatch(plan.stdout); m != nil && m[1] != "none needed" {
		yes = append(yes, "--confirm", m[1])
	}
	r := drillSteady(t, d, yes...)
	if r.code != 0 {
		t.Fatalf("steady act %s: exit %d\n%s%s", id, r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, d.Config.DB) {
		t.Errorf("steady act %s printed the database URL with its password", id)
	}
	return r
}

// affectedScopes returns a probe's Affected scopes as recalculate's scopes
// parameter.
func affectedScopes(rep checkReport, probe string) string {
	var parts []string
	for _, s := range probeByID(rep, probe).Affected {
		parts = append(parts, fmt.Sprintf("%d:%s:%s", s.Clinician, s.From, s.To))
	}
	return strings.Join(parts, ",")
}

func TestDrillScenariosEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sandbox per scenario")
	}
	tests := []struct {
		scenario string
		// resolve fixes the sandbox as the runbook says; before is the
		// check that diagnosed it. It returns extra arguments for the
		// final check.
		resolve func(t *testing.T, d *drill.Drill, before checkReport) []string
	}{
		{"incomplete-migration", func(t *testing.T, d *drill.Drill, _ checkReport) []string {
			act(t, d, "backup")
			r := act(t, d, "migrate")
			if !strings.Contains(r.stdout, "Applying config.0003_shift_constraints... OK") {
				t.Errorf("migrate did not apply config.0003:\n%s", r.stdout)
			}
			act(t, d, "check")
			// A second terminal needs only the drill's steady.yaml.
			if r := runSteady(t, "", []string{"STEADY_CONFIG=" + d.ConfigFile}, "act", "check", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "System check identified no issues") {
				t.Errorf("act check with only STEADY_CONFIG: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			return nil
		}},
		{"race-condition", func(t *testing.T, d *drill.Drill, before checkReport) []string {
			var lost []probes.LostUpdate
			for _, f := range probeByID(before, "audit-concurrency").Findings {
				if l, ok := probes.LostFromFinding(f); ok && l.Restorable() {
					lost = append(lost, l)
				}
			}
			if len(lost) == 0 {
				t.Fatal("the probe named no lost update")
			}
			act(t, d, "backup")
			fixed := time.Now()
			r := act(t, d, "repair-lost-updates")
			if !strings.Contains(r.stdout, "Outcome: succeeded") || !strings.Contains(r.stdout, "UPDATE ") {
				t.Errorf("repair-lost-updates:\n%s", r.stdout)
			}
			conn, err := pgx.Connect(context.Background(), d.Config.DB)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			for _, l := range lost {
				var now string
				if err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT %s::text FROM config_shift WHERE id = $1`, l.Field), l.Entity).Scan(&now); err != nil {
					t.Fatal(err)
				}
				if !(probes.Value{Text: now}).Equal(l.Lost) {
					t.Errorf("shift %d: %s is %s after the repair, want the lost %s", l.Entity, l.Field, now, l.Lost)
				}
			}
			r = act(t, d, "recalculate")
			if !strings.Contains(r.stdout, "Outcome: succeeded") {
				t.Errorf("recalculate:\n%s", r.stdout)
			}
			// The runbook's verification: no new concurrent writes since
			// the fix went out.
			return []string{"--since", (time.Since(fixed) + 2*time.Second).Round(time.Second).String()}
		}},
		{"stale-cache", func(t *testing.T, d *drill.Drill, before checkReport) []string {
			scopes := affectedScopes(before, "cache")
			if scopes == "" {
				t.Fatal("the cache probe named no affected clinician")
			}
			r := act(t, d, "flush-cache")
			if !strings.Contains(r.stdout, "FLUSHDB") {
				t.Errorf("flush-cache should FLUSHDB the cache db only:\n%s", r.stdout)
			}
			pid := d.WorkerPID()
			r = act(t, d, "restart")
			if !strings.Contains(r.stdout, "Restarting worker") || d.WorkerPID() == pid {
				t.Errorf("restart did not restart the worker (pid %d → %d):\n%s", pid, d.WorkerPID(), r.stdout)
			}
			act(t, d, "recalculate", "--param", "scopes="+scopes)
			if r := drillSteady(t, d, "sandbox", "status", "--drill", d.Dir); r.code != 0 || !strings.Contains(r.stdout, "restarted 1 times") {
				t.Errorf("sandbox status after one restart: exit %d %s%s", r.code, r.stdout, r.stderr)
			}
			return nil
		}},
		{"constraint-bypass", func(t *testing.T, d *drill.Drill, _ checkReport) []string {
			act(t, d, "backup")
			// The runbook's manual steps, in one transaction.
			fixSQL(t, d, `
DELETE FROM config_shift WHERE duration <= 0;
DELETE FROM config_shift s WHERE NOT EXISTS (SELECT 1 FROM config_clinician c WHERE c.id = s.clinician_id);
DELETE FROM config_shift a USING config_shift b
 WHERE a.clinician_id = b.clinician_id AND a.date = b.date AND a.type = b.type AND a.id > b.id;
ALTER TABLE config_shift VALIDATE CONSTRAINT config_shift_duration_positive;
ALTER TABLE config_shift ADD CONSTRAINT config_shift_unique_clinician_date_type UNIQUE (clinician_id, date, type);
ALTER TABLE config_clinician ENABLE TRIGGER ALL;`)
			return nil
		}},
		{"business-rule", func(t *testing.T, d *drill.Drill, _ checkReport) []string {
			r := drillSteady(t, d, "act", "run-tests", "--yes")
			if r.code == 0 || !strings.Contains(r.stdout, "FAIL: test_stored_summaries_follow_the_rule") {
				t.Errorf("run-tests should fail on the stored summaries before the fix (exit %d):\n%s", r.code, r.stdout)
			}
			act(t, d, "recalculate")
			r = act(t, d, "run-tests")
			if !strings.Contains(r.stdout, "OK") {
				t.Errorf("run-tests after the recalculation:\n%s", r.stdout)
			}
			return nil
		}},
		{"mixed", func(t *testing.T, d *drill.Drill, before checkReport) []string {
			scopes := affectedScopes(before, "cache")
			act(t, d, "backup")
			act(t, d, "migrate")
			act(t, d, "check")
			act(t, d, "flush-cache")
			act(t, d, "restart")
			act(t, d, "recalculate", "--param", "scopes="+scopes)
			return nil
		}},
	}
	for i, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			d := startDrill(t, tt.scenario, int64(11+i))
			if d.Briefing == "" {
				t.Error("no briefing")
			}
			before, r := drillCheck(t, d)
			if r.code != 1 {
				t.Errorf("check on the broken sandbox: exit %d, want 1\n%s", r.code, r.stderr)
			}
			for id, v := range verdicts(before) {
				want := probes.RuledOut
				if d.Scenario.Has(id) {
					want = probes.Confirmed
				}
				if v != want {
					t.Errorf("before the fix: cause %s is %s, want %s", id, v, want)
				}
			}
			if t.Failed() {
				for _, p := range before.Probes {
					t.Logf("%s: %s %s", p.Probe, p.Status, p.Summary)
				}
				t.FailNow()
			}

			t.Logf("before: %s", jsonOf(verdicts(before)))
			extra := tt.resolve(t, d, before)

			after, r := drillCheck(t, d, extra...)
			for id, v := range verdicts(after) {
				if v != probes.RuledOut {
					t.Errorf("after the fix: cause %s is %s, want ruled_out", id, v)
				}
			}
			if r.code != 0 {
				t.Errorf("check after the fix: exit %d", r.code)
				for _, p := range after.Probes {
					t.Logf("%s: %s %s %v", p.Probe, p.Status, p.Summary, p.Findings)
				}
			}
		})
	}
}

// fixSQL runs SQL on the drill's database in one transaction, as an
// engineer following the runbook's manual steps would in psql.
func fixSQL(t *testing.T, d *drill.Drill, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil {
		t.Fatalf("manual fix: %v", err)
	}
}

// jsonOf is for messages.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDrillListAndServeWithoutKeys(t *testing.T) {
	r := runSteady(t, "", nil, "drill", "--list")
	if r.code != 0 {
		t.Fatalf("drill --list: exit %d %s", r.code, r.stderr)
	}
	for _, s := range drill.Scenarios() {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s.Name) + ` +\S`).MatchString(r.stdout) {
			t.Errorf("--list lacks %s:\n%s", s.Name, r.stdout)
		}
	}
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n") + 1; n != len(drill.Scenarios()) {
		t.Errorf("--list printed %d lines for %d scenarios", n, len(drill.Scenarios()))
	}
	// --serve checks the keys before building anything.
	r = runSteady(t, "", nil, "drill", "stale-cache", "--serve")
	if r.code != 2 || !strings.Contains(r.stderr, "authorized keys") || strings.Contains(r.stderr, "starting PostgreSQL") {
		t.Errorf("drill --serve without keys: exit %d %q, want 2 and a clear message", r.code, r.stderr)
	}
	r = runSteady(t, "", nil, "drill", "stale-cahce")
	if r.code != 2 || !strings.Contains(r.stderr, "stale-cache") {
		t.Errorf("an unknown scenario: exit %d %q, want 2 and the list", r.code, r.stderr)
	}
}

func TestDrillKilledLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	t.Parallel()
	cmd := exec.Command(steadyBin(t), "drill", "stale-cache", "--seed", "4")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "TERM=dumb"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // a no-op once it is dead
	dirsRE := regexp.MustCompile(`PostgreSQL (\S+) and Redis (\S+) ready`)
	workerRE := regexp.MustCompile(`worker pid (\d+) ran`)
	var dirs []string
	worker := 0
	// Kill it once everything runs: both servers, and the worker.
	sc := bufio.NewScanner(stderr)
	var seen []string
	for worker == 0 && sc.Scan() {
		line := sc.Text()
		seen = append(seen, line)
		if m := dirsRE.FindStringSubmatch(line); m != nil {
			dirs = m[1:]
		}
		if m := workerRE.FindStringSubmatch(line); m != nil {
			worker, _ = strconv.Atoi(m[1])
		}
	}
	if worker == 0 || len(dirs) != 2 {
		t.Fatalf("the drill never got its worker running:\n%s", strings.Join(seen, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	assertTornDown(t, dirs, worker)
}

// TestDrillInTmux plays a drill as a trainee would, in a real terminal:
// the DRILL banner and the briefing, the diagnosis finding the fault, the
// debrief on quitting, and nothing left behind.
func TestDrillInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real terminal")
	}
	t.Parallel()
	home := t.TempDir()
	tm := tuitest.Start(t, 160, 60, []string{"HOME=" + home, "NO_COLOR=1", "STEADY_CONFIG="},
		"sh", "-c", "cd "+home+" && exec "+steadyBin(t)+" drill stale-cache --seed 21")
	tm.Timeout = time.Minute
	tm.WaitFor("DRILL: stale-cache (seed 21)", "nothing real is touched", "Diagnosis Steps", "BRIEFING")

	tm.Send("R")
	tm.Timeout = 30 * time.Second
	tm.WaitUntil("the cache cause confirmed", func(pane string) bool {
		return regexp.MustCompile(`Cache invalidation issue +CONFIRMED`).MatchString(pane) &&
			regexp.MustCompile(`Incomplete migration +ruled out`).MatchString(pane)
	})
	tm.Send("q")
	if status, _ := tm.WaitExit(); status != 0 {
		t.Fatalf("steady drill exited with %d:\n%s", status, tm.Capture())
	}
	var out strings.Builder
	out.WriteString(tm.Capture())
	pane := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"Drill debrief — stale-cache (seed 21)", "first true cause after", "sandbox stopped and removed", "Replay this drill: steady drill stale-cache --seed 21"} {
		if !strings.Contains(pane, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("the last screen lacks %q:\n%s", want, out.String())
		}
	}
	// The progress lines named the sandbox's dirs before the incident
	// screen took over; they are back once it is gone.
	m := regexp.MustCompile(`PostgreSQL (\S+) and Redis (\S+) ready`).FindStringSubmatch(out.String())
	w := regexp.MustCompile(`worker pid (\d+) ran`).FindStringSubmatch(out.String())
	if m == nil || w == nil {
		t.Fatalf("no sandbox dirs or worker in the output:\n%s", out.String())
	}
	pid, _ := strconv.Atoi(w[1])
	assertTornDown(t, m[1:], pid)
}

// TestDrillKeepWritesTheReport: with --keep the journal and its Markdown
// report, debrief included, stay under ./incidents/drills; the servers
// stop and the sandbox goes, and nothing kept holds a password.
func TestDrillKeepWritesTheReport(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real terminal")
	}
	t.Parallel()
	home := t.TempDir()
	tm := tuitest.Start(t, 160, 60, []string{"HOME=" + home, "NO_COLOR=1", "STEADY_CONFIG="},
		"sh", "-c", "cd "+home+" && exec "+steadyBin(t)+" drill business-rule --seed 9 --keep")
	tm.Timeout = time.Minute
	tm.WaitFor("DRILL: business-rule (seed 9)")
	tm.Send("q")
	if status, _ := tm.WaitExit(); status != 0 {
		t.Fatalf("steady drill --keep exited with %d:\n%s", status, tm.Capture())
	}
	out := tm.Capture()
	if !strings.Contains(out, "sandbox stopped and removed; kept the journal, its report and the backups in") {
		t.Fatalf("no kept dir named:\n%s", out)
	}
	sandboxDirs := regexp.MustCompile(`PostgreSQL (\S+) and Redis (\S+) ready`).FindStringSubmatch(out)
	if sandboxDirs == nil {
		t.Fatalf("the drill did not name its sandbox:\n%s", out)
	}
	reports, _ := filepath.Glob(filepath.Join(home, "incidents", "drills", "*-business-rule-9", "journal", "*.md"))
	if len(reports) != 1 {
		t.Fatalf("reports under %s: %v\n%s", home, reports, out)
	}
	md, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Drill** — scenario `business-rule`", "## Drill debrief", "| score | ", "| true causes | business-rule |", "BRIEFING — Payroll says"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// The servers and their dirs are gone.
	procs, err := sandbox.Leftovers()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		for _, d := range sandboxDirs[1:] {
			if strings.Contains(p, filepath.Base(d)) {
				t.Errorf("a kept drill left a process running: %s", p)
			}
		}
	}
	for _, d := range sandboxDirs[1:] {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("the sandbox dir %s outlived a kept drill: %v", d, err)
		}
	}
	// What is kept names the sandbox's servers, never with a password.
	withPassword := regexp.MustCompile(`://[^/\s:@"]+:[^@\s"*]+@`)
	kept := filepath.Dir(filepath.Dir(reports[0]))
	err = filepath.WalkDir(kept, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if loc := withPassword.FindIndex(data); loc != nil {
			t.Errorf("%s holds a password: %q", path, data[loc[0]:loc[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRaceDrillResolvedOnEverySeed: the race drill played headless as the
// runbook says — diagnose, back up, restore the lost values, recalculate —
// is fixed and verified on every seed: the debrief scored from the
// incident's journal gives the resolution points each time, and the
// verification probe (no new concurrent write since the fix) passes at
// once, not an hour later.
func TestRaceDrillResolvedOnEverySeed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sandbox per seed")
	}
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			d := startDrill(t, "race-condition", seed)
			if _, r := drillCheck(t, d); r.code != 1 {
				t.Fatalf("check on the broken sandbox: exit %d", r.code)
			}
			act(t, d, "backup")
			act(t, d, "repair-lost-updates")
			act(t, d, "recalculate")
			journals, _ := filepath.Glob(filepath.Join(d.Config.JournalDir, "*.jsonl"))
			if len(journals) != 1 {
				t.Fatalf("journals %v", journals)
			}
			f, err := os.Open(journals[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			events, _, err := session.ReadEvents(f)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := runbook.Load("", "", runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
			if err != nil {
				t.Fatal(err)
			}
			deb := drill.Score(session.Fold(rb, events), d.Scenario, rb, time.Now())
			if len(deb.Resolved) != 1 || !deb.Followed || deb.VerificationDone == 0 {
				t.Errorf("seed %d: resolved %q, followed %v, verification %d of %d:\n%s", seed, deb.Resolved, deb.Followed, deb.VerificationDone, deb.VerificationTotal, deb.Text())
			}
		})
	}
}
