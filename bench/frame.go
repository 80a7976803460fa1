package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Screen is a terminal program to start and the text that says its first
// frame is on the screen.
type Screen struct {
	Argv       []string
	Dir        string
	Env        []string
	Cols, Rows int
	// Marker is text of the first useful frame (the checklist's header).
	Marker string
	// Timeout bounds one start.
	Timeout time.Duration
}

// FirstFramePTY starts the program on a new pseudo-terminal and returns
// the time from fork to the moment the bytes it wrote, escape sequences
// removed, contain the marker: the first frame as a terminal receives it.
// The program is then stopped (SIGTERM, SIGKILL a second later).
func FirstFramePTY(ctx context.Context, s Screen) (time.Duration, error) {
	master, slave, err := openPTY(s.Cols, s.Rows)
	if err != nil {
		return 0, err
	}
	defer master.Close()
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), append([]string{"TERM=xterm-256color", "COLUMNS=", "LINES="}, s.Env...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		slave.Close()
		return 0, fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	slave.Close()

	found := make(chan time.Duration, 1)
	var screen bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 64<<10)
		reported := false
		for {
			n, err := master.Read(buf)
			if n > 0 {
				at := time.Since(started)
				screen.Write(buf[:n])
				// The program may ask the terminal for its background
				// colour; answer as a dark terminal does.
				if bytes.Contains(buf[:n], []byte("\x1b]11;?")) {
					_, _ = master.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\"))
				}
				if !reported && strings.Contains(StripANSI(screen.String()), s.Marker) {
					found <- at
					reported = true
				}
			}
			if err != nil {
				return
			}
		}
	}()

	var took time.Duration
	select {
	case took = <-found:
	case <-time.After(s.Timeout):
		err = fmt.Errorf("no %q on the screen after %s", s.Marker, s.Timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	master.Close()
	<-readDone
	if err != nil {
		return 0, fmt.Errorf("%w; the screen so far:\n%s", err, StripANSI(screen.String()))
	}
	return took, nil
}

// openPTY opens a pseudo-terminal pair of cols×rows (posix_openpt,
// unlockpt, ptsname) with the standard library alone.
func openPTY(cols, rows int) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	var unlock int32
	if err := ioctl(master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	var n uint32
	if err := ioctl(master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	slave, err = os.OpenFile(filepath.Join("/dev/pts", strconv.Itoa(int(n))), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	ws := struct{ rows, cols, x, y uint16 }{uint16(rows), uint16(cols), 0, 0}
	if err := ioctl(slave.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws))); err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("set the window size: %w", err)
	}
	return master, slave, nil
}

func ioctl(fd, req, arg uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg); errno != 0 {
		return errno
	}
	return nil
}

// ansiRE matches escape sequences: CSI, OSC, DCS/APC/PM/SOS strings and
// two-byte escapes.
var ansiRE = regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)|\x1b[P_^X][^\x1b]*\x1b\\\\|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\\\-_=>78]")

// StripANSI removes escape sequences, leaving the text a terminal shows.
func StripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// Tmux is a private tmux server for measuring first frames the way an
// operator's terminal multiplexer shows them.
type Tmux struct {
	socket string
	n      int
}

// StartTmux starts a tmux server on its own socket in dir, with one idle
// session of cols×rows that later windows share.
func StartTmux(ctx context.Context, dir string, cols, rows int) (*Tmux, error) {
	t := &Tmux{socket: filepath.Join(dir, "tmux.sock")}
	if out, err := t.cmd(ctx, "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "sleep 86400").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tmux new-session: %w: %s", err, out)
	}
	// What a tmux configuration for a colour terminal usually says.
	if out, err := t.cmd(ctx, "set-option", "-g", "default-terminal", "tmux-256color").CombinedOutput(); err != nil {
		t.Close()
		return nil, fmt.Errorf("tmux set-option: %w: %s", err, out)
	}
	return t, nil
}

func (t *Tmux) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "tmux", append([]string{"-S", t.socket}, args...)...)
}

// Env is the TMUX variable of a program running inside this server
// (socket,server pid,session): with it, a program that asks tmux about
// the terminal (`tmux info`, as colour-profile detection does) asks this
// server, as it would inside tmux.
func (t *Tmux) Env(ctx context.Context) (string, error) {
	out, err := t.cmd(ctx, "display-message", "-p", "-t", "bench:", "#{pid}").Output()
	if err != nil {
		return "", fmt.Errorf("tmux display-message: %w", err)
	}
	return fmt.Sprintf("%s,%s,0", t.socket, strings.TrimSpace(string(out))), nil
}

// Close stops the tmux server.
func (t *Tmux) Close() { _ = t.cmd(context.Background(), "kill-server").Run() }

// FirstFrame opens a window running the program and polls capture-pane
// until the marker shows; it returns the time from the new-window call to
// the capture that showed it. Each poll is a tmux client round trip (a few
// milliseconds), so this is an upper bound with that resolution.
func (t *Tmux) FirstFrame(ctx context.Context, s Screen) (time.Duration, error) {
	t.n++
	name := fmt.Sprintf("run%d", t.n)
	args := []string{"new-window", "-d", "-t", "bench:", "-n", name, "-c", s.Dir}
	for _, kv := range s.Env {
		args = append(args, "-e", kv)
	}
	args = append(args, s.Argv...)
	started := time.Now()
	if out, err := t.cmd(ctx, args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("tmux new-window: %w: %s", err, out)
	}
	defer func() { _ = t.cmd(context.Background(), "kill-window", "-t", "bench:"+name).Run() }()
	var last []byte
	for time.Since(started) < s.Timeout {
		out, err := t.cmd(ctx, "capture-pane", "-p", "-t", "bench:"+name).Output()
		if err != nil {
			return 0, fmt.Errorf("tmux capture-pane: %w", err)
		}
		if bytes.Contains(out, []byte(s.Marker)) {
			return time.Since(started), nil
		}
		last = out
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	return 0, errors.New("no " + strconv.Quote(s.Marker) + " in the pane after " + s.Timeout.String() + "; the pane:\n" + string(last))
}
