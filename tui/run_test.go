package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
	"steady/tui/tuitest"
)

// helperEnv makes the test binary run the incident screen with Run on its
// terminal instead of running tests; STEADY_TUI_TEST_DIR is the journal
// directory and STEADY_TUI_TEST_DATA the testdata directory.
const helperEnv = "STEADY_TUI_TEST_HELPER"

func runHelper() int {
	data := os.Getenv("STEADY_TUI_TEST_DATA")
	src, err := os.ReadFile(filepath.Join(data, "incident.md"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rb, ps := runbook.Lint("incident.md", src, runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if len(ps) > 0 {
		fmt.Fprintln(os.Stderr, ps)
		return 2
	}
	cfg := config.Default()
	cfg.DB = "postgres://app:s3cret@db.internal:5432/appdb"
	s, err := session.Open(session.Options{Runbook: rb, Target: target.New(&cfg), Dir: os.Getenv("STEADY_TUI_TEST_DIR"), Actor: alice, Version: "test", Runbooks: filepath.Join(data, "runbooks")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = Run(context.Background(), Options{Session: s, Actor: alice})
	if cerr := s.Close(alice, ""); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sgrColour matches an SGR sequence that sets a colour.
var sgrColour = regexp.MustCompile(`\x1b\[(?:[0-9;:]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:[;:][0-9;:]*)?m`)

// TestRunInTmux runs the real program with Run in a real terminal (tmux,
// a PTY, NO_COLOR set) and drives it with keys as a person would.
func TestRunInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real terminal")
	}
	data, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tm := tuitest.Start(t, 100, 30, []string{helperEnv + "=1", "STEADY_TUI_TEST_DIR=" + dir, "STEADY_TUI_TEST_DATA=" + data, "NO_COLOR=1"},
		os.Args[0], "-test.run=^$")
	tm.WaitFor("Figures disagree", "Checklist 0/16")

	tm.Send("R")
	tm.WaitFor("[FAIL] Check that every migra", "Incomplete migration", "CONFIRMED")
	tm.Send("Space")
	tm.WaitFor("> [x]    Shift counts")
	if pane := tm.CaptureEscapes(); sgrColour.MatchString(pane) {
		t.Errorf("with NO_COLOR the screen still has colour: %q", sgrColour.FindString(pane))
	}

	tm.Send("C-c")
	tm.WaitFor("Quit steady?")
	tm.Send("C-c")
	if status, _ := tm.WaitExit(); status != 0 {
		t.Fatalf("steady exited with %d:\n%s", status, tm.Capture())
	}

	journals, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("journals: %v", journals)
	}
	events, _, err := session.ReadJournal(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	for _, want := range []string{session.TypeProbeFinished, session.TypeTicked, session.TypeClosed} {
		if !strings.Contains(strings.Join(types, " "), want) {
			t.Errorf("the journal lacks %s: %v", want, types)
		}
	}
}
