package servetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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
// is killed when the test ends.
func NewTmux(t testing.TB) *Tmux {
	t.Helper()
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
		os.RemoveAll(dir)
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

// Pane is one window of the tmux server, running one command.
type Pane struct {
	tm     *Tmux
	target string
}

// Start runs argv in a new window of cols×rows named name.
func (tm *Tmux) Start(name string, cols, rows int, argv ...string) *Pane {
	tm.t.Helper()
	tm.n++
	target := "steady:" + name
	if tm.n == 1 {
		tm.run(append([]string{"new-session", "-d", "-s", "steady", "-n", name,
			"-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "--"}, wrap(argv)...)...)
	} else {
		tm.run(append([]string{"new-window", "-d", "-t", "steady", "-n", name, "--"}, wrap(argv)...)...)
	}
	p := &Pane{tm: tm, target: target}
	p.Resize(cols, rows)
	return p
}

// Screen returns the pane's visible text, one line per row.
func (p *Pane) Screen() string {
	p.tm.t.Helper()
	return p.tm.run("capture-pane", "-p", "-t", p.target)
}

// WaitFor waits until the screen shows every one of texts, and returns it.
func (p *Pane) WaitFor(texts ...string) string {
	p.tm.t.Helper()
	var last string
	Eventually(p.tm.t, "pane "+p.target+" to show "+strconv.Quote(strings.Join(texts, `", "`)),
		func() bool { last = p.Screen(); return Contains(last, texts...) },
		func() string { return "last screen:\n" + last })
	return last
}

// Keys sends tmux key names (Enter, Down, q, C-c ...).
func (p *Pane) Keys(keys ...string) {
	p.tm.t.Helper()
	p.tm.run(append([]string{"send-keys", "-t", p.target}, keys...)...)
}

// Type sends text literally.
func (p *Pane) Type(text string) {
	p.tm.t.Helper()
	p.tm.run("send-keys", "-t", p.target, "-l", text)
}

// Resize sets the window's size, as a responder dragging the terminal's
// corner would; the client's ssh sends the server a window change.
func (p *Pane) Resize(cols, rows int) {
	p.tm.t.Helper()
	p.tm.run("resize-window", "-t", p.target, "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows))
}

// exitMarker is what the pane prints when its command ends. tmux does
// not always reap a dead pane's process in time to report its status,
// and may drop the last output of a pane that dies at once, so the shell
// that runs the command reports the status and then keeps the pane alive
// (until the tmux server is killed).
const exitMarker = "servetest-exit="

// wrap runs argv under a shell that prints the exit status at the end.
func wrap(argv []string) []string {
	return append([]string{"sh", "-c", `"$@"; echo "` + exitMarker + `$?"; exec sleep 86400`, "sh"}, argv...)
}

// Exited reports whether the pane's command has ended, and its status.
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

// History returns everything the pane showed outside the alternate
// screen, scrollback included.
func (p *Pane) History() string {
	p.tm.t.Helper()
	return p.tm.run("capture-pane", "-p", "-S", "-", "-t", p.target)
}

// WaitExit waits for the pane's command to end and returns its status
// and what it left on the terminal (scrollback included, the exit marker
// left out), with lines joined by single spaces.
func (p *Pane) WaitExit() (int, string) {
	p.tm.t.Helper()
	var code int
	Eventually(p.tm.t, "the command in pane "+p.target+" to exit",
		func() bool { var done bool; done, code = p.Exited(); return done },
		func() string { return "last screen:\n" + p.Screen() })
	h := p.History()
	h = h[:strings.LastIndex(h, exitMarker)]
	return code, strings.Join(strings.Fields(h), " ")
}
