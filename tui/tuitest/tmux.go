// Package tuitest drives a terminal program inside tmux for end-to-end
// tests: it starts the program at a fixed size on a private tmux server,
// sends keys, captures the pane as text and waits for text to appear, so
// a test can assert on exactly what an operator would see.
package tuitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tmux is one program running in a detached tmux session on its own
// server socket, so tests never touch the user's tmux.
type Tmux struct {
	t      testing.TB
	socket string
	name   string
	// Timeout bounds each WaitFor (default 20s).
	Timeout time.Duration
}

// Available reports whether tmux can be run; tests skip without it.
func Available() bool {
	_, err := exec.LookPath("tmux")
	return err == nil
}

// Start runs argv in a new tmux session of width×height cells with env
// added to the environment (TERM is xterm-256color unless env sets it).
// The session is killed when the test ends.
func Start(t testing.TB, width, height int, env []string, argv ...string) *Tmux {
	t.Helper()
	return StartIn(t, "", width, height, env, argv...)
}

// StartIn is Start with the program's working directory set to dir (the
// test's own when dir is empty).
func StartIn(t testing.TB, dir string, width, height int, env []string, argv ...string) *Tmux {
	t.Helper()
	if !Available() {
		t.Skip("tmux is not installed")
	}
	sock, err := os.MkdirTemp("", "tuitest")
	if err != nil {
		t.Fatal(err)
	}
	m := &Tmux{t: t, socket: filepath.Join(sock, "tmux.sock"), name: "steady", Timeout: 20 * time.Second}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", m.socket, "kill-server").Run()
		_ = os.RemoveAll(sock)
	})
	args := []string{"-S", m.socket, "-f", "/dev/null", "new-session", "-d", "-s", m.name,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	if dir != "" {
		args = append(args, "-c", dir)
	}
	hasTerm := false
	for _, e := range env {
		if strings.HasPrefix(e, "TERM=") {
			hasTerm = true
		}
		args = append(args, "-e", e)
	}
	if !hasTerm {
		args = append(args, "-e", "TERM=xterm-256color")
	}
	args = append(args, argv...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	// Keep the pane after the program exits, so its last screen and exit
	// status can be read.
	m.run("set-option", "-t", m.name, "remain-on-exit", "on")
	return m
}

func (m *Tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", m.socket}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Send sends keys in tmux's send-keys syntax ("Enter", "Space", "C-c",
// "Down", "Tab", or literal text such as "r").
func (m *Tmux) Send(keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", m.name}, keys...)...)
}

// Type sends text literally, character by character.
func (m *Tmux) Type(text string) {
	m.t.Helper()
	m.run("send-keys", "-t", m.name, "-l", text)
}

// Capture returns the pane's text, one line per row.
func (m *Tmux) Capture() string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-t", m.name)
}

// CaptureEscapes returns the pane with its colours and attributes as
// escape sequences (to check what a colourless terminal gets).
func (m *Tmux) CaptureEscapes() string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-e", "-t", m.name)
}

// WaitFor waits until every text is on the pane and returns the pane; it
// fails the test with the pane's content on a timeout.
func (m *Tmux) WaitFor(texts ...string) string {
	m.t.Helper()
	return m.WaitUntil(strings.Join(texts, ", "), func(pane string) bool {
		for _, s := range texts {
			if !strings.Contains(pane, s) {
				return false
			}
		}
		return true
	})
}

// WaitUntil waits until cond holds for the pane.
func (m *Tmux) WaitUntil(what string, cond func(pane string) bool) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), m.Timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var pane string
	for {
		pane = m.Capture()
		if cond(pane) {
			return pane
		}
		select {
		case <-ctx.Done():
			m.t.Fatalf("timed out waiting for %s; the pane:\n%s", what, pane)
			return pane
		case <-tick.C:
		}
	}
}

// Resize resizes the window to width×height cells; the program gets
// SIGWINCH as it would from a terminal emulator.
func (m *Tmux) Resize(width, height int) {
	m.t.Helper()
	m.run("resize-window", "-t", m.name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height))
}

// Exited reports whether the program has exited, and its status.
func (m *Tmux) Exited() (bool, int) {
	m.t.Helper()
	out := strings.TrimSpace(m.run("display-message", "-p", "-t", m.name, "#{pane_dead} #{pane_dead_status}"))
	var dead, status int
	_, _ = fmt.Sscan(out, &dead, &status)
	return dead == 1, status
}

// WaitExit waits for the program to exit and returns its status.
func (m *Tmux) WaitExit() int {
	m.t.Helper()
	var status int
	m.WaitUntil("the program to exit", func(string) bool {
		var dead bool
		dead, status = m.Exited()
		return dead
	})
	return status
}
