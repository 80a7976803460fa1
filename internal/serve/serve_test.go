package serve

import (
	"strings"
	"testing"
	"time"

	"steady/internal/poll"
	"steady/internal/session"
	"steady/tui/tuitest"
)

// An operator connects with the real OpenSSH client and sees the
// checklist under their name; the journal records their arrival with
// their key's fingerprint, and their leaving when they quit.
func TestOperatorSeesChecklist(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	p := f.attach(tm, "alice", f.keys.alice, 100, 30)
	p.WaitFor("alice", "Checklist 0/6", "Count the rows", "Quick fix", "R run diagnosis")

	p.Send("q")
	if code, screen := p.WaitExit(); code != 0 {
		t.Errorf("ssh exit status %d after q, want 0; screen:\n%s", code, screen)
	}
	f.waitState("alice to leave", func(st *session.State) bool { _, on := st.Online["alice"]; return !on })

	want := session.Actor{Name: "alice", Via: "ssh", Fingerprint: f.keys.alice.Fingerprint, Role: session.Operator}
	for _, typ := range []string{session.TypeJoined, session.TypeLeft} {
		var byAlice []session.Event
		for _, e := range f.eventsOf(typ) {
			if e.Actor.Name == "alice" {
				byAlice = append(byAlice, e)
			}
		}
		if len(byAlice) != 1 || byAlice[0].Actor != want {
			t.Errorf("%s events of alice = %+v, want one by %+v", typ, byAlice, want)
		}
	}
	f.logs.waitFor(t, "msg=disconnected", "name=alice", "reason=quit")
}

// An observer sees everything but cannot start an action: the screen
// says so, and the journal shows nothing planned or started.
func TestObserverCannotStartAction(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	p := f.attach(tm, "bob", f.keys.bob, 100, 30)
	p.WaitFor("bob (observer)")

	selectItem(t, p, "Quick fix")
	p.Send("Enter")
	p.WaitFor("Only an operator can plan and run actions.")

	// r and R are not an observer's keys: nothing runs.
	selectItem(t, p, "Numbers are right")
	p.Send("R")
	p.Send("space")
	p.WaitFor("[x]    Numbers are right")

	st := f.sess.State()
	if len(st.Actions) != 0 || len(st.Probes) != 0 {
		t.Errorf("an observer started something: actions %+v, probes %+v", st.Actions, st.Probes)
	}
	for _, e := range f.events() {
		if strings.HasPrefix(e.Type, "action.") || strings.HasPrefix(e.Type, "probe.") {
			t.Errorf("journal has %s by %s from an observer's session", e.Type, e.Actor)
		}
	}
	// What an observer may do is recorded as theirs.
	if ticked := f.eventsOf(session.TypeTicked); len(ticked) != 1 || ticked[0].Actor.Name != "bob" || ticked[0].Actor.Role != session.Observer {
		t.Errorf("ticked events = %+v, want one by bob the observer", ticked)
	}
}

// Two responders in two tmux windows of a fixed size work the same
// incident: a probe alice runs shows up on bob's screen with her name,
// and each sees the other online.
func TestTwoSessionsSeeEachOthersProbes(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 100, 30)
	bob := f.attach(tm, "bob", f.keys.bob, 100, 30)
	alice.WaitFor("2 online")
	bob.WaitFor("2 online")

	selectItem(t, alice, "Count the rows")
	alice.Send("r")
	alice.WaitFor("[ok]   Count the rows", "42 rows counted by the serve probe")

	// Bob looks at the same item and reads alice's result.
	selectItem(t, bob, "Count the rows")
	bob.WaitFor("[ok]   Count the rows", "42 rows counted by the serve probe")

	st := f.sess.State()
	if len(st.Probes) != 1 || st.Probes[0].By.Name != "alice" || st.Probes[0].By.Fingerprint != f.keys.alice.Fingerprint {
		t.Errorf("probe runs = %+v, want one by alice with her fingerprint", st.Probes)
	}
}

// A second operator who tries to start an action while another runs is
// told which one, and who started it.
func TestSecondOperatorSeesWhoRunsAction(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 140, 30)
	carol := f.attach(tm, "carol", f.keys.carol, 140, 30)

	selectItem(t, alice, "Wait behind the gate")
	alice.Send("Enter") // plan
	alice.WaitFor("Run serve-test-wait")
	alice.Send("Enter") // confirm
	alice.WaitFor("Run serve-test-wait now?")
	alice.Send("y")
	f.waitState("the action to run", func(st *session.State) bool { return len(st.RunningActions()) == 1 })

	carol.WaitFor("carol")
	selectItem(t, carol, "Quick fix")
	carol.Send("Enter")
	carol.WaitFor("Run serve-test-quick")
	carol.Send("Enter")
	carol.WaitFor("Run serve-test-quick now?")
	carol.Send("y")
	carol.WaitFor("serve-test-wait is already running, started by alice")

	f.openGate()
	f.waitState("the action to end", func(st *session.State) bool { return len(st.RunningActions()) == 0 })
	st := f.sess.State()
	for _, a := range st.Actions {
		switch a.Action {
		case "serve-test-wait":
			if a.ConfirmedBy == nil || a.ConfirmedBy.Name != "alice" {
				t.Errorf("serve-test-wait confirmed by %v, want alice", a.ConfirmedBy)
			}
		case "serve-test-quick":
			if !a.Started.IsZero() {
				t.Errorf("carol's serve-test-quick started while another action ran")
			}
		}
	}
}

// A responder who resizes their terminal gets the screen redrawn at the
// new size: the window change travels from tmux through ssh to the
// program.
func TestResizeReachesProgram(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tm := tuitest.NewTmux(t)
	p := f.attach(tm, "alice", f.keys.alice, 80, 24)
	f.logs.waitFor(t, "msg=connected", "name=alice", "cols=80", "rows=24")

	p.Resize(132, 40)
	f.logs.waitFor(t, "window resized", "name=alice", "cols=132", "rows=40")
	screen := p.WaitFor("Checklist")
	poll.Until(t, tuitest.Wait, "the screen to use 132 columns", func() bool {
		screen = p.Capture()
		return widest(screen) > 100
	}, func() string { return screen })
}

// widest returns the length of the longest line, in runes.
func widest(screen string) int {
	n := 0
	for _, l := range strings.Split(screen, "\n") {
		n = max(n, len([]rune(strings.TrimRight(l, " "))))
	}
	return n
}

// Without a terminal the server says what to do in one line and ends the
// session with status 2, never hanging; a command is refused the same way.
func TestNoPTY(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.client("alice", f.keys.alice)
	res := c.Run(t, "-T")
	if res.Code != exitUsage || !strings.Contains(res.Stderr, "needs a terminal; connect with ssh -t") {
		t.Errorf("no PTY: exit %d, stderr %q; want %d and a hint to use ssh -t", res.Code, res.Stderr, exitUsage)
	}
	res = c.Run(t, "-T", "--", "ls", "/")
	if res.Code != exitUsage || !strings.Contains(res.Stderr, "runs no commands") {
		t.Errorf("command: exit %d, stderr %q; want %d and runs no commands", res.Code, res.Stderr, exitUsage)
	}
	f.logs.waitFor(t, "session refused", "no terminal", "name=alice")
	if joined := f.eventsOf(session.TypeJoined); len(joined) != 0 {
		t.Errorf("a session without a screen joined the incident: %+v", joined)
	}
}

// Beyond the session limit a responder is turned away with a clear
// message (and the log says so); the one already in is undisturbed.
func TestSessionLimit(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.MaxSessions = 1 })
	tm := tuitest.NewTmux(t)
	alice := f.attach(tm, "alice", f.keys.alice, 100, 30)

	bob := tm.Start("bob", 100, 30, f.client("bob", f.keys.bob).Args("-tt")...)
	code, screen := bob.WaitExit()
	if code != exitTempFail || !strings.Contains(screen, "already has 1 session connected") {
		t.Errorf("second session: exit %d, screen:\n%s\nwant %d and the limit explained", code, screen, exitTempFail)
	}
	f.logs.waitFor(t, "session refused", "session limit reached", "name=bob")
	alice.WaitFor("alice", "Checklist")
}

// A session idle past the idle timeout, or connected past the maximum
// time, ends with a goodbye that says why; the incident goes on.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Options)
		says   string
	}{
		{"idle", func(o *Options) { o.IdleTimeout = 700 * time.Millisecond }, "you were idle for"},
		{"max", func(o *Options) { o.MaxTimeout = 700 * time.Millisecond }, "reached the maximum of 700ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tc.change)
			tm := tuitest.NewTmux(t)
			p := tm.Start("alice", 100, 30, f.client("alice", f.keys.alice).Args("-tt")...)
			code, screen := p.WaitExit()
			if code != exitEnded || !strings.Contains(screen, tc.says) || !strings.Contains(screen, "reconnect to rejoin") {
				t.Errorf("exit %d, screen:\n%s\nwant %d and %q", code, screen, exitEnded, tc.says)
			}
			f.waitState("alice to leave", func(st *session.State) bool { _, on := st.Online["alice"]; return !on })
		})
	}
}
