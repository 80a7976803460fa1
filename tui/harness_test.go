package tui

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"steady/actions"
	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// The probes and actions below stand in for the real ones, so these tests
// exercise the screen without a database: the migrations probe fails
// until the migrate action has run, like the incident it imitates.

// migrated is flipped by tui-test-migrate; tests reset it.
var migrated atomic.Bool

type testProbe struct {
	id     string
	params []probes.Param
	run    func(probes.Params) probes.Result
}

func (p testProbe) ID() string             { return p.id }
func (p testProbe) Title() string          { return "test probe " + p.id }
func (p testProbe) Params() []probes.Param { return p.params }
func (p testProbe) Run(ctx context.Context, t *target.Target, ps probes.Params) probes.Result {
	r := p.run(ps)
	r.Duration = 1200 * time.Millisecond
	return r
}

type testAction struct {
	id   string
	plan func(env *actions.Env) *actions.Plan
	// planWith, when set, is plan for an action that reads its parameters.
	planWith func(env *actions.Env, params map[string]string) *actions.Plan
	exec     func(ctx context.Context, out actions.Output) actions.Outcome
}

func (a testAction) ID() string             { return a.id }
func (a testAction) Title() string          { return "test action " + a.id }
func (a testAction) Params() []probes.Param { return nil }
func (a testAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	if a.planWith != nil {
		return a.planWith(env, p), nil
	}
	return a.plan(env), nil
}
func (a testAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	o := a.exec(ctx, out)
	o.Duration = 3 * time.Second
	return o
}

func init() {
	probes.Register(testProbe{id: "tui-test-connect", run: func(probes.Params) probes.Result {
		return probes.Result{Status: probes.OK, Summary: "PostgreSQL 15.4 and Redis 7.2 reachable",
			Findings: []probes.Finding{{Status: probes.OK, Code: "connect.postgres", Message: "PostgreSQL answered in 3 ms"}},
			Evidence: probes.Table{Columns: []string{"system", "version", "latency"}, Rows: [][]string{{"postgres", "15.4", "3 ms"}, {"redis", "7.2.4", "1 ms"}}}}
	}})
	probes.Register(testProbe{id: "tui-test-counts",
		params: []probes.Param{{Name: "clinician", Kind: "int", Required: true}, {Name: "from", Kind: "date", Required: true}, {Name: "to", Kind: "date", Required: true}},
		run: func(ps probes.Params) probes.Result {
			return probes.Result{Status: probes.Fail, Summary: fmt.Sprintf("clinician %s: source 20 shifts, summary 22, cache 22", ps["clinician"]),
				Findings: []probes.Finding{{Status: probes.Fail, Code: "counts.mismatch", Message: "the stored summary counts 2 shifts more than the source rows"}},
				Evidence: probes.Table{Columns: []string{"figure", "value"}, Rows: [][]string{{"source", "20"}, {"summary", "22"}, {"cache", "22"}}}}
		}})
	probes.Register(testProbe{id: "tui-test-migrations", run: func(probes.Params) probes.Result {
		if migrated.Load() {
			return probes.Result{Status: probes.OK, Summary: "every migration is applied",
				Evidence: probes.Table{Columns: []string{"app", "migration", "applied"}, Rows: [][]string{{"config", "0003_shift_constraints", "yes"}, {"config", "0004_auditlog_index", "yes"}}}}
		}
		return probes.Result{Status: probes.Fail, Summary: "2 migrations are not applied",
			Findings: []probes.Finding{
				{Status: probes.Fail, Code: "migration.unapplied", Message: "config.0003_shift_constraints is not applied"},
				{Status: probes.Fail, Code: "migration.unapplied", Message: "config.0004_auditlog_index is not applied"},
			},
			Evidence: probes.Table{Columns: []string{"app", "migration", "applied"}, Rows: [][]string{
				{"config", "0001_initial", "yes"}, {"config", "0002_shift_status", "yes"}, {"config", "0003_shift_constraints", "NO"}, {"config", "0004_auditlog_index", "NO"}}}}
	}})
	probes.Register(testProbe{id: "tui-test-audit", run: func(probes.Params) probes.Result {
		return probes.Result{Status: probes.OK, Summary: "no same-second writes in the last 24h"}
	}})

	actions.Register(testAction{id: "tui-test-backup",
		planWith: func(env *actions.Env, params map[string]string) *actions.Plan {
			full := params["mode"] == "pg_dump"
			title := "Back up appdb"
			if full {
				title += " whole"
			}
			return &actions.Plan{Title: title, Summary: "A custom-format dump of appdb, read back to verify it.", Risk: actions.Low, Params: params,
				Steps: []actions.Step{
					{Kind: actions.StepCommand, Text: "pg_dump -Fc -f backups/appdb-20260301.dump appdb"},
					{Kind: actions.StepCommand, Text: "pg_restore --list backups/appdb-20260301.dump"},
				},
				Preconditions: []actions.Precondition{{Name: "free disk", Holds: true, Detail: "12 GB free, the database is 1.1 GB"}},
				Alternatives: []actions.Alternative{
					{Param: "mode=pg_dump", Estimate: "about 22s", Available: true, Chosen: full},
					{Param: "mode=scoped", Estimate: "about 3s", Available: true, Chosen: !full},
				}}
		},
		exec: func(ctx context.Context, out actions.Output) actions.Outcome {
			out.Line("stdout", "dumped 42 tables")
			out.Line("steady", "verified with pg_restore --list")
			return actions.Outcome{Status: actions.Succeeded, Summary: "backup verified", Artefacts: map[string]string{
				actions.ArtefactKind: "backup", actions.ArtefactVerified: "true", actions.ArtefactDatabase: "appdb",
				actions.ArtefactPath: "backups/appdb-20260301.dump", actions.ArtefactSHA256: "9f2c", actions.ArtefactSize: "1048576"}}
		}})
	actions.Register(testAction{id: "tui-test-migrate",
		plan: func(env *actions.Env) *actions.Plan {
			backups := env.History.VerifiedBackups("appdb")
			detail := "no verified backup of appdb in this incident"
			if len(backups) > 0 {
				detail = "verified backup " + backups[len(backups)-1].Path
			}
			return &actions.Plan{Title: "Apply 2 migrations", Summary: "Applies the unapplied migrations under an advisory lock.",
				Risk: actions.High, Destructive: true, ConfirmPhrase: "appdb",
				Steps: []actions.Step{
					{Kind: actions.StepCommand, Text: "docker compose exec -T web python manage.py migrate", Note: "config.0003_shift_constraints, config.0004_auditlog_index"},
					{Kind: actions.StepProbe, Text: "tui-test-migrations"},
				},
				Preconditions: []actions.Precondition{{Name: "backup", Holds: len(backups) > 0, Detail: detail, Overridable: true}},
				Warnings:      []string{"0003 locks config_shift while it validates the constraint"},
				Recheck:       []string{"tui-test-migrations"}}
		},
		exec: func(ctx context.Context, out actions.Output) actions.Outcome {
			out.Line("stdout", "Applying config.0003_shift_constraints... OK")
			out.Progress(1, 2, "migrations")
			out.Line("stdout", "Applying config.0004_auditlog_index... OK")
			out.Progress(2, 2, "migrations")
			migrated.Store(true)
			return actions.Outcome{Status: actions.Succeeded, Summary: "2 migrations applied"}
		}})
	actions.Register(testAction{id: "tui-test-slow",
		plan: func(env *actions.Env) *actions.Plan {
			return &actions.Plan{Title: "Recalculate 3 clinicians", Risk: actions.Medium,
				Steps:   []actions.Step{{Kind: actions.StepTask, Text: "calculations.tasks.recalculate_clinician(7, 2024-01-01, 2024-01-31)"}},
				Recheck: []string{"tui-test-migrations"}}
		},
		exec: func(ctx context.Context, out actions.Output) actions.Outcome {
			out.Line("steady", "enqueued 3 tasks")
			out.Progress(1, 3, "tasks")
			<-ctx.Done()
			return actions.Outcome{Status: actions.Cancelled, ExitCode: -1, Summary: "cancelled by the operator"}
		}})
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// Re-executed by TestRunInTmux as the program under test.
		os.Exit(runHelper())
	}
	// huh turns to its line-by-line accessible mode on a dumb terminal.
	os.Setenv("TERM", "xterm-256color")
	os.Exit(m.Run())
}

// opened is when every test incident opens; the screen's clock runs 12
// minutes and 3 seconds later.
var (
	opened = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	later  = opened.Add(12*time.Minute + 3*time.Second)
	alice  = session.Actor{Name: "alice", Via: "local", Role: session.Operator}
	bob    = session.Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:bob", Role: session.Observer}
)

func testRunbook(t testing.TB) *runbook.Runbook {
	t.Helper()
	src, err := os.ReadFile("testdata/incident.md")
	if err != nil {
		t.Fatal(err)
	}
	r, ps := runbook.Lint("testdata/incident.md", src, runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if len(ps) > 0 {
		t.Fatalf("test runbook: %v", ps)
	}
	return r
}

func openSession(t testing.TB) *session.Session {
	t.Helper()
	migrated.Store(false)
	cfg := config.Default()
	cfg.DB = "postgres://app:s3cret@db.internal:5432/appdb"
	s, err := session.Open(session.Options{Runbook: testRunbook(t), Target: target.New(&cfg), Dir: t.TempDir(),
		Actor: alice, Version: "test", Now: func() time.Time { return opened }, Runbooks: "testdata/runbooks"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

func testOptions(s *session.Session) Options {
	return Options{Session: s, Actor: alice, Now: func() time.Time { return later }}
}

// harness drives one teatest program and keeps an emulated screen of its
// output, so tests wait for what the operator would see.
type harness struct {
	t    *testing.T
	s    *session.Session
	tm   *teatest.TestModel
	term *screen
	done bool
}

func start(t *testing.T, o Options, w, h int) *harness {
	t.Helper()
	tm := teatest.NewTestModel(t, New(o), teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(
			// Goldens must not depend on the machine: no colour, a fixed
			// terminal type.
			tea.WithColorProfile(colorprofile.Ascii),
			tea.WithEnvironment([]string{"TERM=xterm-256color"}),
		))
	hs := &harness{t: t, s: o.Session, tm: tm, term: newScreen(w, h)}
	t.Cleanup(func() {
		if !hs.done {
			_ = tm.Quit()
			tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
		}
	})
	return hs
}

// waitFor waits until the emulated screen satisfies cond; on a timeout it
// fails with the screen as the operator would have seen it.
func (h *harness) waitFor(what string, cond func(screen string) bool) {
	h.t.Helper()
	fed := 0
	var last string
	tb := &waitTB{T: h.t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (waitFailed{}) {
				panic(r)
			}
		}()
		teatest.WaitFor(tb, h.tm.Output(), func(b []byte) bool {
			_, _ = h.term.Write(b[fed:])
			fed = len(b)
			last = h.term.String()
			return cond(last)
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}()
	if tb.failed {
		h.t.Fatalf("timed out waiting for %s; the screen:\n%s", what, last)
	}
}

// waitTB turns WaitFor's fatal timeout into a value, so the failure can
// show the emulated screen instead of raw escape sequences.
type waitTB struct {
	*testing.T
	failed bool
}

type waitFailed struct{}

func (w *waitTB) Fatal(...any)          { w.failed = true; panic(waitFailed{}) }
func (w *waitTB) Fatalf(string, ...any) { w.failed = true; panic(waitFailed{}) }

// waitText waits until every text is on the screen.
func (h *harness) waitText(texts ...string) {
	h.t.Helper()
	h.waitFor(strings.Join(texts, ", "), func(s string) bool {
		for _, t := range texts {
			if !strings.Contains(s, t) {
				return false
			}
		}
		return true
	})
}

// waitGone waits until text is no longer on the screen.
func (h *harness) waitGone(text string) {
	h.t.Helper()
	h.waitFor("no "+text, func(s string) bool { return !strings.Contains(s, text) })
}

// waitState waits until the session's state satisfies cond (for effects
// that are not on screen, such as the journal).
func (h *harness) waitState(what string, cond func(*session.State) bool) *session.State {
	h.t.Helper()
	sub := h.s.Subscribe()
	defer sub.Close()
	deadline := time.After(15 * time.Second)
	for {
		if st := h.s.State(); cond(st) {
			return st
		}
		select {
		case <-sub.C:
			sub.Next()
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// press sends keys by name ("enter", "tab", "ctrl+c", "R", ...).
func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.tm.Send(keyPress(k))
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types text into whatever has the keyboard.
func (h *harness) typeText(s string) { h.tm.Type(s) }

// down moves the checklist cursor n items down.
func (h *harness) down(n int) {
	for i := 0; i < n; i++ {
		h.press("down")
	}
}

// finish quits the program and returns its final screen as the model
// draws it, without escape sequences and with run-specific ids masked.
func (h *harness) finish() string {
	h.t.Helper()
	_ = h.tm.Quit()
	fm := h.tm.FinalModel(h.t, teatest.WithFinalTimeout(10*time.Second))
	h.done = true
	return normalise(fm.(*Model).View().Content)
}

// golden quits and compares the final screen with testdata/<test>.golden
// (go test -update rewrites it).
func (h *harness) golden() {
	h.t.Helper()
	golden.RequireEqual(h.t, []byte(h.finish()))
}

var incidentID = regexp.MustCompile(`(inc-\d{8}-\d{6})-[0-9a-f]{4}`)

// normalise strips styling and trailing spaces and masks the random
// suffix of the incident id.
func normalise(view string) string {
	view = ansi.Strip(view)
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return incidentID.ReplaceAllString(strings.Join(lines, "\n"), "${1}-xxxx") + "\n"
}
