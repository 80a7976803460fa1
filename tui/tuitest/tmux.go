// Package tuitest drives terminal programs inside tmux for end-to-end
// tests, the one way steady's tests do: each program runs in a pane of a
// fixed size on a private tmux server, keys are sent to it, its screen is
// captured as text, and waits poll that screen until what an operator
// would see is there. The screen and the responders' SSH clients of
// serve's tests run in the same panes.
package tuitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"steady/internal/poll"
)

// Wait is how long a wait for a screen or an exit lasts by default before
// the test fails (Pane.Timeout changes it for one pane).
const Wait = 20 * time.Second

// Available reports whether tmux can be run; tests skip without it.
func Available() bool {
	_, err := exec.LookPath("tmux")
	return err == nil
}

// Tmux is a private tmux server: its own socket, no user configuration,
// no status line (a pane is its whole window), and panes that stay after
// their command exits so the last screen and the exit status can be read.
type Tmux struct {
	t    testing.TB
	sock string
	conf string
	n    int
}

// NewTmux starts nothing yet; the server starts with the first pane and
// is killed when the test ends. Without tmux the test is skipped.
func NewTmux(t testing.TB) *Tmux {
	t.Helper()
	if !Available() {
		t.Skip("tmux is not installed")
	}
	// Socket paths are limited to about 100 bytes; t.TempDir can be
	// longer than that.
	dir, err := os.MkdirTemp("", "stx")
	if err != nil {
		t.Fatal(err)
	}
	tm := &Tmux{t: t, sock: filepath.Join(dir, "s"), conf: filepath.Join(dir, "tmux.conf")}
	conf := "set -g remain-on-exit on\nset -g status off\nset -g default-terminal xterm-256color\nset -g escape-time 0\n"
	if err := os.WriteFile(tm.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tm.cmd("kill-server").Run()
		_ = os.RemoveAll(dir)
	})
	return tm
}

func (tm *Tmux) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("tmux", append([]string{"-S", tm.sock, "-f", tm.conf}, args...)...)
	// A test run inside tmux must not talk to the developer's server.
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX=") && !strings.HasPrefix(kv, "TMUX_PANE=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TERM=xterm-256color")
	return cmd
}

func (tm *Tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := tm.cmd(args...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Program is what a pane runs.
type Program struct {
	// Name names the pane's window.
	Name string
	// Dir is the working directory (the test's own when empty).
	Dir string
	// Env is added to the environment; TERM is xterm-256color unless
	// Env sets it.
	Env []string
	// Cols and Rows are the pane's size.
	Cols, Rows int
	Argv       []string
}

// Run starts a program in a new pane.
func (tm *Tmux) Run(p Program) *Pane {
	tm.t.Helper()
	tm.n++
	args := []string{"new-window", "-d", "-t", "steady", "-n", p.Name}
	if tm.n == 1 {
		args = []string{"new-session", "-d", "-s", "steady", "-n", p.Name, "-x", strconv.Itoa(p.Cols), "-y", strconv.Itoa(p.Rows)}
	}
	if p.Dir != "" {
		args = append(args, "-c", p.Dir)
	}
	for _, e := range p.Env {
		args = append(args, "-e", e)
	}
	tm.run(append(append(args, "--"), wrap(p.Argv)...)...)
	pane := &Pane{tm: tm, target: "steady:" + p.Name, Timeout: Wait}
	pane.Resize(p.Cols, p.Rows)
	return pane
}

// Start runs argv in a new pane of cols×rows named name.
func (tm *Tmux) Start(name string, cols, rows int, argv ...string) *Pane {
	tm.t.Helper()
	return tm.Run(Program{Name: name, Cols: cols, Rows: rows, Argv: argv})
}

// Start runs one program in a pane of width×height cells on a server of
// its own, with env added to its environment.
func Start(t testing.TB, width, height int, env []string, argv ...string) *Pane {
	t.Helper()
	return StartIn(t, "", width, height, env, argv...)
}

// StartIn is Start with the program's working directory set to dir.
func StartIn(t testing.TB, dir string, width, height int, env []string, argv ...string) *Pane {
	t.Helper()
	return NewTmux(t).Run(Program{Name: "main", Dir: dir, Env: env, Cols: width, Rows: height, Argv: argv})
}

// Pane is one window of the tmux server, running one program.
type Pane struct {
	tm     *Tmux
	target string
	// Timeout bounds each wait on this pane (default Wait).
	Timeout time.Duration
}

// Send sends keys in tmux's send-keys syntax ("Enter", "Space", "C-c",
// "Down", "Tab", or literal text such as "r").
func (p *Pane) Send(keys ...string) {
	p.tm.t.Helper()
	p.tm.run(append([]string{"send-keys", "-t", p.target}, keys...)...)
}

// Type sends text literally, character by character.
func (p *Pane) Type(text string) {
	p.tm.t.Helper()
	p.tm.run("send-keys", "-t", p.target, "-l", text)
}

// Capture returns the pane's visible text, one line per row.
func (p *Pane) Capture() string {
	p.tm.t.Helper()
	return p.tm.run("capture-pane", "-p", "-t", p.target)
}

// CaptureEscapes returns the pane with its colours and attributes as
// escape sequences (to check what a colourless terminal gets).
func (p *Pane) CaptureEscapes() string {
	p.tm.t.Helper()
	return p.tm.run("capture-pane", "-p", "-e", "-t", p.target)
}

// History returns everything the pane showed outside the alternate
// screen, scrollback included.
func (p *Pane) History() string {
	p.tm.t.Helper()
	return p.tm.run("capture-pane", "-p", "-S", "-", "-t", p.target)
}

// WaitFor waits until every text is on the pane and returns the pane.
func (p *Pane) WaitFor(texts ...string) string {
	p.tm.t.Helper()
	return p.WaitUntil("the pane to show "+strconv.Quote(strings.Join(texts, `", "`)), func(pane string) bool {
		for _, s := range texts {
			if !strings.Contains(pane, s) {
				return false
			}
		}
		return true
	})
}

// WaitUntil waits until cond holds for the pane's text and returns it; on
// a timeout the test fails with the last screen.
func (p *Pane) WaitUntil(what string, cond func(pane string) bool) string {
	p.tm.t.Helper()
	var pane string
	poll.Until(p.tm.t, p.Timeout, what, func() bool { pane = p.Capture(); return cond(pane) }, func() string { return pane })
	return pane
}

// Resize sets the window's size, as dragging a terminal's corner would;
// the program gets SIGWINCH (an ssh client sends its server a window
// change).
func (p *Pane) Resize(cols, rows int) {
	p.tm.t.Helper()
	p.tm.run("resize-window", "-t", p.target, "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows))
}

// exitMarker is what the pane prints when its program ends. tmux does not
// always reap a dead pane's process in time to report its status, and may
// drop the last output of a pane that dies at once, so the shell that
// runs the program reports the status and then keeps the pane alive
// (until the tmux server is killed).
const exitMarker = "tuitest-exit="

// wrap runs argv under a shell that prints the exit status at the end.
func wrap(argv []string) []string {
	return append([]string{"sh", "-c", `"$@"; echo "` + exitMarker + `$?"; exec sleep 86400`, "sh"}, argv...)
}

// Exited reports whether the pane's program has ended, and its status.
func (p *Pane) Exited() (bool, int) {
	p.tm.t.Helper()
	h := p.History()
	i := strings.LastIndex(h, exitMarker)
	if i < 0 {
		return false, 0
	}
	code, err := strconv.Atoi(strings.Fields(h[i+len(exitMarker):] + " x")[0])
	if err != nil {
		return false, 0
	}
	return true, code
}

// WaitExit waits for the pane's program to end and returns its status and
// what it left on the terminal (scrollback included, the exit marker left
// out), with lines joined by single spaces.
func (p *Pane) WaitExit() (int, string) {
	p.tm.t.Helper()
	var code int
	poll.Until(p.tm.t, p.Timeout, fmt.Sprintf("the program in pane %s to exit", p.target),
		func() bool { var done bool; done, code = p.Exited(); return done },
		func() string { return p.Capture() })
	h := p.History()
	h = h[:strings.LastIndex(h, exitMarker)]
	return code, strings.Join(strings.Fields(h), " ")
}
