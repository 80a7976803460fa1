package serve

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"steady/actions"
	"steady/internal/poll"
	"steady/internal/serve/servetest"
	"steady/internal/session"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
	"steady/tui/tuitest"
)

// The probe and actions below stand in for the real ones: these tests are
// about who may do what over SSH and who sees it, not about databases.
// The gated actions wait for a file named in their step, so a test
// decides when they end, and a cancel stops them (the shell's process
// group gets SIGINT).

type testProbe struct{}

func (testProbe) ID() string             { return "serve-test-probe" }
func (testProbe) Title() string          { return "count the rows" }
func (testProbe) Params() []probes.Param { return nil }
func (testProbe) Run(ctx context.Context, t *target.Target, ps probes.Params) probes.Result {
	return probes.Result{Status: probes.OK, Summary: "42 rows counted by the serve probe", Started: time.Now()}
}

type gatedAction struct {
	id          string
	destructive bool
}

func (a gatedAction) ID() string    { return a.id }
func (a gatedAction) Title() string { return "test action " + a.id }
func (a gatedAction) Params() []probes.Param {
	return []probes.Param{{Name: "gate", Kind: "string"}}
}
func (a gatedAction) Plan(ctx context.Context, env *actions.Env, p map[string]string) (*actions.Plan, error) {
	line := "echo done"
	if gate := p["gate"]; gate != "" {
		line = "while [ ! -e " + target.ShellQuote(gate) + " ]; do sleep 0.05; done; echo released"
	}
	plan := &actions.Plan{Title: "Run " + a.id, Risk: actions.Low, Steps: []actions.Step{{Kind: actions.StepCommand, Text: line}}}
	if a.destructive {
		plan.Destructive, plan.Risk, plan.ConfirmPhrase = true, actions.High, "appdb"
	}
	return plan, nil
}
func (a gatedAction) Execute(ctx context.Context, env *actions.Env, plan *actions.Plan, out actions.Output) actions.Outcome {
	exit, err := target.Run(ctx, target.Command{Line: plan.Steps[0].Text}, target.RunOptions{Grace: time.Second, OnLine: func(l target.Line) { out.Line(l.Stream, l.Text) }})
	o := actions.Outcome{ExitCode: exit.Code, Duration: exit.Duration, Summary: exit.String()}
	switch {
	case err != nil:
		o.Status, o.Error = actions.Failed, err.Error()
	case exit.Cancelled:
		o.Status = actions.Cancelled
	case exit.OK():
		o.Status = actions.Succeeded
	default:
		o.Status = actions.Failed
	}
	return o
}

func init() {
	probes.Register(testProbe{})
	actions.Register(gatedAction{id: "serve-test-wait"})
	actions.Register(gatedAction{id: "serve-test-migrate", destructive: true})
	actions.Register(gatedAction{id: "serve-test-quick"})
}

// testRunbook is a small incident whose gated actions wait for gate.
func testRunbook(gate string) string {
	fence := func(body string) string { return "   ```steady\n" + body + "   ```\n" }
	return `---
id: serve-test
title: Serve test incident
severity: high
estimated_ttr: 1h
---
# Serve test incident

## Symptoms

- Numbers are wrong

## Diagnosis Steps

1. Count the rows

` + fence("   probe: serve-test-probe\n") + `
## Root Causes

| Id | Cause | Likelihood | How to confirm | Probes |
| --- | --- | --- | --- | --- |
| drift | Drift | High | count | serve-test-probe |

## Resolution Steps

### For drift {#drift}

1. Wait behind the gate

` + fence("   action: serve-test-wait\n   gate: "+gate+"\n") + `
2. Migrate behind the gate

` + fence("   action: serve-test-migrate\n   gate: "+gate+"\n") + `
3. Quick fix

` + fence("   action: serve-test-quick\n") + `
## Verification

- [ ] Numbers are right
`
}

// logBuffer collects the server's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines holding every one of texts.
func (b *logBuffer) lines(texts ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if servetest.Contains(l, texts...) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits for a log line holding every one of texts.
func (b *logBuffer) waitFor(t *testing.T, texts ...string) string {
	t.Helper()
	var found []string
	poll.Until(t, tuitest.Wait, fmt.Sprintf("a log line with %q", texts),
		func() bool { found = b.lines(texts...); return len(found) > 0 },
		func() string { return "log:\n" + b.String() })
	return found[0]
}

// team is the responders of the tests: alice is an operator by her key's
// comment, carol by steady.yaml, bob an observer, mallory unknown.
type team struct {
	alice, bob, carol, mallory servetest.Key
}

// fixture is a running server on a test incident.
type fixture struct {
	t    *testing.T
	dir  string
	gate string
	sess *session.Session
	srv  *Server
	logs *logBuffer
	keys team
	// authorized is the authorized keys file.
	authorized string
	known      string
	port       string
	stop       context.CancelFunc
	stopped    chan error
}

// start opens a test incident and serves it on a free loopback port;
// change adjusts the options first. The server is stopped and the
// session shut down when the test ends, if the test has not done so.
func start(t *testing.T, change func(*Options)) *fixture {
	t.Helper()
	return startWith(t, session.ApprovalOff, change)
}

// startWith is start with the incident's two-person rule set.
func startWith(t *testing.T, approval session.Approval, change func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, gate: filepath.Join(dir, "gate"), logs: &logBuffer{}}
	f.keys = team{
		alice:   servetest.Keygen(t, dir, "alice"),
		bob:     servetest.Keygen(t, dir, "bob"),
		carol:   servetest.Keygen(t, dir, "carol"),
		mallory: servetest.Keygen(t, dir, "mallory"),
	}
	f.authorized = servetest.AuthorizedKeys(t, dir,
		"# the incident team",
		f.keys.alice.Line+" alice role=operator",
		f.keys.bob.Line+" bob role=observer",
		f.keys.carol.Line+" carol",
	)
	rb, problems := runbook.Lint("serve-test.md", []byte(testRunbook(f.gate)), runbook.Known{Probes: probes.IDs(), Actions: actions.IDs()})
	if len(problems) > 0 {
		t.Fatalf("test runbook: %v", problems)
	}
	opener := session.Actor{Name: "tester", Via: "cli", Role: session.Operator}
	s, err := session.Open(session.Options{Runbook: rb, Dir: filepath.Join(dir, "incidents"), Version: "test", Actor: opener, Approval: approval})
	if err != nil {
		t.Fatal(err)
	}
	// As steady serve does: whoever opened the incident is not at a
	// screen.
	if err := s.Leave(opener); err != nil {
		t.Fatal(err)
	}
	f.sess = s
	o := Options{
		Session: s, Listen: "127.0.0.1:0", HostKey: filepath.Join(dir, ".steady", "host_ed25519"),
		AuthorizedKeys: f.authorized, Roles: Roles{Operators: []string{"carol"}},
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&o)
	}
	f.srv, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	_, f.port, _ = net.SplitHostPort(f.srv.Addr().String())
	f.known = servetest.KnownHosts(t, dir, KnownHostsLine(f.srv.Addr().String(), f.srv.HostKey()))
	ctx, cancel := context.WithCancel(context.Background())
	f.stop, f.stopped = cancel, make(chan error, 1)
	go func() { f.stopped <- f.srv.Serve(ctx) }()
	t.Cleanup(func() {
		f.srv.Force()
		cancel()
		select {
		case <-f.stopped:
		case <-time.After(2 * drainTimeout):
			t.Error("the server did not stop")
		}
		_ = s.Shutdown()
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs.String())
		}
	})
	return f
}

// client returns how the responder with key k connects as SSH user user.
func (f *fixture) client(user string, k servetest.Key) servetest.Client {
	return servetest.Client{Host: "127.0.0.1", Port: f.port, User: user, Key: k, KnownHosts: f.known}
}

// attach starts a responder's ssh -tt in a tmux window of cols×rows and
// waits for the incident screen.
func (f *fixture) attach(tm *tuitest.Tmux, name string, k servetest.Key, cols, rows int) *tuitest.Pane {
	f.t.Helper()
	p := tm.Start(name, cols, rows, f.client(name, k).Args("-tt")...)
	p.WaitFor("Serve test incident", "Checklist")
	return p
}

// shutdown stops the server as a SIGTERM would and waits for Serve to
// return, then shuts the session down as steady serve does.
func (f *fixture) shutdown() {
	f.t.Helper()
	f.stop()
	select {
	case err := <-f.stopped:
		if err != nil {
			f.t.Fatalf("Serve: %v", err)
		}
		f.stopped <- nil // for the cleanup
	case <-time.After(2 * drainTimeout):
		f.t.Fatal("the server did not stop")
	}
	if err := f.sess.Shutdown(); err != nil {
		f.t.Fatalf("session shutdown: %v", err)
	}
}

// events returns the journal's events as the file holds them.
func (f *fixture) events() []session.Event {
	f.t.Helper()
	events, _, err := session.ReadJournal(f.sess.JournalPath())
	if err != nil {
		f.t.Fatal(err)
	}
	return events
}

// eventsOf returns the journal's events of a type.
func (f *fixture) eventsOf(typ string) []session.Event {
	var out []session.Event
	for _, e := range f.events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// waitState waits until the incident's state satisfies cond.
func (f *fixture) waitState(what string, cond func(*session.State) bool) {
	f.t.Helper()
	poll.Until(f.t, tuitest.Wait, what, func() bool { return cond(f.sess.State()) }, nil)
}

// openGate lets the gated actions finish.
func (f *fixture) openGate() {
	f.t.Helper()
	if err := os.WriteFile(f.gate, nil, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// selectItem moves a pane's checklist cursor down to the item whose
// title holds title, one key at a time, each time waiting for the cursor
// to reach the next item (a running item's spinner redraws its line
// without the cursor moving).
func selectItem(t *testing.T, p *tuitest.Pane, title string) {
	t.Helper()
	for i := 0; i < 30; i++ {
		current := selected(p.Capture())
		if strings.Contains(current, title) {
			return
		}
		p.Send("Down")
		poll.Until(t, tuitest.Wait, "the cursor to move from "+strconv.Quote(current),
			func() bool { return selected(p.Capture()) != current }, p.Capture)
	}
	t.Fatalf("could not select %q; screen:\n%s", title, p.Capture())
}

// selected returns the title of the checklist line under the cursor (the
// line starts with >), without its status tag.
func selected(screen string) string {
	for _, line := range strings.Split(screen, "\n") {
		if !strings.HasPrefix(line, ">") {
			continue
		}
		line, _, _ = strings.Cut(line, "│")
		if _, rest, ok := strings.Cut(line, "]"); ok {
			line = rest
		}
		return strings.TrimSpace(line)
	}
	return ""
}
