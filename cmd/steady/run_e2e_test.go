package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"steady/examples"
	"steady/internal/clinic"
	"steady/internal/target"
	"steady/tui/tuitest"
)

// These tests run the real binary in a real terminal (tmux, NO_COLOR),
// drive it with keys as an on-call engineer would and read the screen.

// tmuxEnv is the whole environment of steady inside tmux: a minimal one
// plus env, so neither the machine's variables nor the tmux server's
// reach it.
func tmuxEnv(home string, env ...string) []string {
	return append([]string{"env", "-i", "PATH=" + os.Getenv("PATH"), "HOME=" + home, "USER=tester",
		"TERM=xterm-256color", "NO_COLOR=1", "LANG=C.UTF-8"}, env...)
}

// TestRunE2EIncompleteMigration: with config.0003 unapplied, the diagnosis
// confirms the cause on screen; the backup and the migration run after
// their confirmations (the migration with its typed phrase) through the
// example Django app's manage.py; a verification is ticked; the incident
// is closed; and the journal verifies and reports all of it.
func TestRunE2EIncompleteMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary against real servers")
	}
	if !tuitest.Available() {
		t.Skip("tmux is not installed")
	}
	a := newApp(t)
	if err := clinic.UnapplyMigration(context.Background(), a.pool); err != nil {
		t.Fatal(err)
	}
	python, err := examples.Python()
	if err != nil {
		t.Fatalf("the example Django app cannot run: %v", err)
	}
	bin := steadyBin(t)
	dir := t.TempDir()
	journals := filepath.Join(dir, "journal")
	db := dbName(t, a.db)
	env := tmuxEnv(dir, append(a.env(),
		"STEADY_JOURNAL_DIR="+journals,
		"STEADY_BACKUP_DIR="+filepath.Join(dir, "backups"),
		// The migration runs as an operator's would: manage.py of the
		// application, with its settings from the environment.
		"STEADY_MANAGE="+target.Join(python, "manage.py"),
		"PYTHONDONTWRITEBYTECODE=1")...)
	tm := tuitest.StartIn(t, dir, 100, 30, nil, append(env, bin, "run", "--new")...)
	tm.Timeout = time.Minute
	step := func(what string) { t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what) }

	step("start")
	tm.WaitFor("Data inconsistency", "Checklist 0/")

	step("the diagnosis finds the unapplied migration and confirms the cause")
	tm.Send("R")
	tm.WaitFor("[FAIL] Check that every migration", "Incomplete migration", "CONFIRMED")
	tm.Send("c")
	tm.WaitUntil("the cause board with the migration", func(pane string) bool {
		return regexp.MustCompile(`Incomplete migration +High +CONFIRMED`).MatchString(pane) &&
			strings.Contains(pane, "config.0003_shift_constraints")
	})
	back(tm, "the checklist", func(pane string) bool { return strings.Contains(pane, "[Checklist ") })

	step("the migration planned before any backup: its guard fails")
	filter(tm, "apply missing")
	tm.WaitFor(">  [ ]    Apply the missing migrations", "action migrate")
	tm.Send("Enter")
	tm.WaitFor("Plan: Apply the unapplied Django migrations", "Plan ready")
	tm.Send("Enter")
	tm.WaitFor("Override", "Type "+db)

	step("typed ahead at full speed: tab past the empty reason, the phrase, enter")
	tm.Send("Tab", db, "Enter")
	// The phrase landed in its own field; the missing reason is named and
	// nothing ran.
	pane := tm.WaitFor("write why overriding is safe", "Type "+db)
	if strings.Contains(pane, "Outcome:") {
		t.Fatalf("something ran without a reason for the override:\n%s", pane)
	}
	back(tm, "the dialog closed", func(pane string) bool { return !strings.Contains(pane, "[Confirm migrate]") })
	back(tm, "the filter cleared", func(pane string) bool { return !strings.Contains(pane, "filter: ") })

	step("the backup, planned and confirmed")
	filter(tm, "take a backup")
	tm.WaitFor(">  [ ]    Take a backup first", "action backup")
	tm.Send("Enter")
	tm.WaitFor("Plan: Back up the database", "$ pg_dump --format=custom --compress=1 --no-password", "Plan ready")
	tm.Send("Enter")
	tm.WaitFor("Run backup now?")
	tm.Send("y")
	tm.WaitFor("[done] Take a backup first", "backup ended: SUCCEEDED")

	step("the migration, confirmed with the database's name")
	back(tm, "the filter cleared", func(pane string) bool { return !strings.Contains(pane, "filter: ") })
	filter(tm, "apply missing")
	tm.WaitFor(">  [plan] Apply the missing migrations", "action migrate")
	// The plan made before the backup is stale: enter makes it again and
	// says what changed before anyone confirms it.
	tm.Send("Enter")
	tm.WaitFor("changed since it was made", "the plan it replaces", "now holds")
	tm.Send("Enter")
	// The backup holds the migration's precondition: no override asked.
	if pane := tm.WaitFor("Type "+db, "This action is destructive"); strings.Contains(pane, "Override") {
		t.Fatalf("the migration asks for an override despite the backup:\n%s", pane)
	}
	tm.Type(db)
	tm.Send("Enter")
	tm.WaitFor("[done] Apply the missing migrations", "Outcome: SUCCEEDED", "migrate ended: SUCCEEDED")
	// steady re-ran the migrations probe afterwards: nothing is left.
	tm.Send("c")
	tm.WaitUntil("the cause resolved", func(pane string) bool {
		return regexp.MustCompile(`Incomplete migration +High +resolved`).MatchString(pane)
	})
	back(tm, "the checklist", func(pane string) bool { return strings.Contains(pane, "[Checklist ") })

	step("a verification ticked, with who ticked it")
	back(tm, "the filter cleared", func(pane string) bool { return !strings.Contains(pane, "filter: ") })
	filter(tm, "no new inconsistencies")
	tm.WaitFor("> [ ]    No new inconsistencies")
	tm.Send("Space")
	tm.WaitUntil("the tick, with who and when", func(pane string) bool {
		return regexp.MustCompile(`> \[x\] +No new inconsiste.* tester \d\d:\d\d`).MatchString(pane) &&
			strings.Contains(pane, "[x] ticked by tester at")
	})

	step("closed with a summary")
	tm.Send("X")
	tm.WaitFor("Summary, in one line")
	tm.Type("config.0003 applied after a verified backup")
	tm.Send("Enter")
	tm.WaitFor("┃ Close the incident?")
	tm.Send("y")
	tm.WaitFor("CLOSED by tester at", "config.0003 applied after a verified backup")
	tm.Send("q")
	if status, _ := tm.WaitExit(); status != 0 {
		t.Fatalf("steady exited with %d:\n%s", status, tm.Capture())
	}

	var applied int
	if err := a.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM django_migrations WHERE app = 'config' AND name = '0003_shift_constraints'`).Scan(&applied); err != nil || applied != 1 {
		t.Errorf("config.0003_shift_constraints recorded %d times (%v), want once", applied, err)
	}

	step("the journal verifies and reports it all")
	files, _ := filepath.Glob(filepath.Join(journals, "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("journals in %s: %v", journals, files)
	}
	r := runSteady(t, dir, nil, "report", "verify", files[0])
	if r.code != 0 || !strings.Contains(r.stdout, "hash chain intact") {
		t.Fatalf("report verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runSteady(t, dir, nil, "report", files[0])
	if r.code != 0 {
		t.Fatalf("report: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"| Summary | config.0003 applied after a verified backup |",
		"### Back up the database and verify the backup — succeeded",
		"### Apply the unapplied Django migrations — succeeded",
		"Confirmed by tester at",
		"(typed `" + db + "`)",
		"- [x] No new inconsistencies reported — tester, ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(strings.ToLower(r.stdout), "overrid") {
		t.Errorf("the report records an override, though the backup was taken before the migration ran:\n%s", r.stdout)
	}
	step("done")
}

// TestRunE2ESmallTerminalAndResize: at 40x10 the screen is one pane with
// a one-line header and nothing drawn past the edge; grown to 100x30 it
// is laid out again with both panes.
func TestRunE2ESmallTerminalAndResize(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary")
	}
	if !tuitest.Available() {
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	// Nothing is probed here: the database is never reached.
	env := tmuxEnv(dir, "DATABASE_URL=postgres://app@127.0.0.1:1/app", "STEADY_JOURNAL_DIR="+filepath.Join(dir, "journal"))
	// The root takes the flags of `steady run`, whose incident it opens.
	tm := tuitest.StartIn(t, dir, 40, 10, nil, append(env, steadyBin(t), "--new")...)

	pane := tm.WaitFor("Checklist 0/", "Symptoms")
	lines := paneLines(pane)
	if len(lines) != 10 {
		t.Fatalf("the pane has %d lines, want 10:\n%s", len(lines), pane)
	}
	if !strings.HasPrefix(lines[0], "HIGH ") || !strings.Contains(lines[1], "Checklist 0/") {
		t.Errorf("want a one-line header, then the checklist:\n%s", pane)
	}
	if strings.Contains(pane, "│") {
		t.Errorf("two panes at 40x10:\n%s", pane)
	}
	noGarbage(t, pane, 40)

	tm.Resize(100, 30)
	pane = tm.WaitUntil("the split layout", func(pane string) bool {
		lines := paneLines(pane)
		return len(lines) == 30 && strings.HasPrefix(lines[0], "Data inconsistency · HIGH") &&
			strings.HasPrefix(lines[1], "elapsed ") && strings.Contains(lines[2], "│")
	})
	noGarbage(t, pane, 100)
	if strings.Contains(pane, "HIGH 0:") {
		t.Errorf("the one-line header survived the resize:\n%s", pane)
	}

	tm.Send("q")
	if status, _ := tm.WaitExit(); status != 0 {
		t.Fatalf("steady exited with %d:\n%s", status, tm.Capture())
	}
}

// back presses esc and waits until it took effect: a key sent right
// after esc would arrive as alt+key.
func back(tm *tuitest.Pane, what string, done func(pane string) bool) {
	tm.Send("Escape")
	tm.WaitUntil(what, done)
}

// filter selects the first item matching query with the checklist's
// filter (/), and keeps the filter.
func filter(tm *tuitest.Pane, query string) {
	tm.Send("/")
	tm.WaitFor("/filter items")
	tm.Type(query)
	tm.WaitFor("/" + query)
	tm.Send("Enter")
	tm.WaitFor("filter: " + query)
}

// dbName is the database name of a postgres URL (the migrate action's
// confirm phrase).
func dbName(t *testing.T, url string) string {
	t.Helper()
	m := regexp.MustCompile(`/([^/?]+)(\?|$)`).FindStringSubmatch(url)
	if m == nil {
		t.Fatalf("no database name in %s", url)
	}
	return m[1]
}

func paneLines(pane string) []string {
	return strings.Split(strings.TrimSuffix(pane, "\n"), "\n")
}

// garbage is what a broken repaint leaves: escape sequences or their
// remains printed as text.
var garbage = regexp.MustCompile(`\x1b|\^\[|\[\?\d+[hl]|\[\d+(;\d+)*[A-HJKSTfmr]|\d+;\d+R|<[0-9a-f]{2}>|\x{FFFD}`)

// noGarbage fails when the pane shows anything a clean repaint would not:
// escape remains, or a line wider than the terminal.
func noGarbage(t *testing.T, pane string, width int) {
	t.Helper()
	if m := garbage.FindString(pane); m != "" {
		t.Errorf("garbage %q on the screen:\n%s", m, pane)
	}
	for i, l := range paneLines(pane) {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("line %d is %d cells wide, past the %d of the terminal: %q", i+1, w, width, l)
		}
	}
}
