package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is one shell command line an action or probe runs. Line is
// exactly what is shown to the operator and exactly what `sh -c` runs.
type Command struct {
	Line string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env adds variables to the inherited environment (KEY=VALUE). Values
	// are never shown; use it for secrets such as PGPASSWORD.
	Env []string
	// Stdout, when set, receives the command's standard output instead of
	// the line callback (for binary output such as a dump).
	Stdout io.Writer
	// Stdin, when set, is the command's standard input (a script for
	// `manage.py shell`, say); otherwise it reads nothing.
	Stdin io.Reader
}

// Line is one line of output, from "stdout" or "stderr".
type Line struct {
	Stream string
	Text   string
}

// Exit describes how a command ended.
type Exit struct {
	Code     int // -1 when killed by a signal or never started
	Signal   string
	Duration time.Duration
	// Cancelled is true when the command was stopped by cancellation or
	// timeout rather than ending on its own.
	Cancelled bool
	TimedOut  bool
	// Stderr is the end of what the command wrote to its standard error
	// (at most StderrTail lines), as written: why a tool failed ("No space
	// left on device") is usually its last word there.
	Stderr []string
}

// StderrTail is how many of a command's last stderr lines Exit keeps.
const StderrTail = 5

// OK reports whether the command ended on its own with status 0.
func (e Exit) OK() bool { return e.Code == 0 && !e.Cancelled }

func (e Exit) String() string {
	switch {
	case e.TimedOut:
		return "timed out after " + e.Duration.Round(time.Millisecond).String()
	case e.Cancelled:
		return "cancelled after " + e.Duration.Round(time.Millisecond).String()
	case e.Signal != "":
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exit %d in %s", e.Code, e.Duration.Round(time.Millisecond))
}

// RunOptions bound a command.
type RunOptions struct {
	// Timeout stops the command after this long (0: no limit beyond ctx).
	Timeout time.Duration
	// Grace is the time between SIGINT to the process group and SIGKILL.
	Grace time.Duration
	// OnLine receives each output line as it is produced; it is called
	// from one goroutine at a time.
	OnLine func(Line)
	// OnStart, when set, receives the process id (and process group id)
	// of the started command before any of its output.
	OnStart func(pid int)
}

// StartedLine is how an action's output records a command's process
// group, so that whoever resumes after steady was killed can find a
// command that may outlive it.
func StartedLine(pid int) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("started as process group %d on %s", pid, host)
}

// ParseStartedLine reads back what StartedLine wrote.
func ParseStartedLine(text string) (pid int, host string, ok bool) {
	n, err := fmt.Sscanf(text, "started as process group %d on %s", &pid, &host)
	return pid, host, err == nil && n == 2
}

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Join builds a command line from a configured prefix (such as the manage
// command) and arguments, quoting the arguments.
func Join(prefix string, args ...string) string {
	parts := []string{strings.TrimSpace(prefix)}
	for _, a := range args {
		parts = append(parts, ShellQuote(a))
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// Run runs c with `sh -c` in its own process group, streaming its output
// line by line. Cancelling ctx, or the timeout, sends SIGINT to the whole
// group, then SIGKILL after the grace period, so no child outlives it.
// The returned error is non-nil only when the command could not start.
func Run(ctx context.Context, c Command, o RunOptions) (Exit, error) {
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	cmd, stdout, stderr, err := prepare(c)
	if err != nil {
		return Exit{Code: -1}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Exit{Code: -1}, fmt.Errorf("start %q: %w", c.Line, err)
	}
	if o.OnStart != nil {
		o.OnStart(cmd.Process.Pid)
	}
	waitDone, out := pumpAndWait(cmd, o.OnLine, stdout, stderr)

	var timeout <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	exit := Exit{}
	var werr error
	select {
	case werr = <-waitDone:
	case <-ctx.Done():
		exit.Cancelled = true
		werr = stopGroup(cmd.Process.Pid, o.Grace, waitDone)
	case <-timeout:
		exit.Cancelled, exit.TimedOut = true, true
		werr = stopGroup(cmd.Process.Pid, o.Grace, waitDone)
	}
	exit.Duration = time.Since(start)
	exit.Code = cmd.ProcessState.ExitCode()
	exit.Stderr = out.stderrTail()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		exit.Signal = ws.Signal().String()
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return exit, werr
	}
	return exit, nil
}

// prepare builds the command in its own process group, with pipes for the
// output Run reads line by line (stdout is nil when the command writes it
// to c.Stdout).
func prepare(c Command) (_ *exec.Cmd, stdout, stderr io.ReadCloser, err error) {
	cmd := exec.Command("/bin/sh", "-c", c.Line)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else if stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, nil, nil, err
	}
	if stderr, err = cmd.StderrPipe(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdout, stderr, nil
}

// output is what Run keeps of a command's output: the end of its stderr.
// Its mutex also hands the lines to onLine one at a time.
type output struct {
	mu   sync.Mutex
	tail []string // the last StderrTail lines of stderr
}

// stderrTail is the end of what the command wrote to its standard error.
func (out *output) stderrTail() []string {
	out.mu.Lock()
	defer out.mu.Unlock()
	return out.tail
}

// pumpAndWait hands each line of the output to onLine, one at a time,
// keeping the last StderrTail lines of stderr in the output it returns, and
// waits for the command once both streams are read; the channel gets what
// Wait returns.
func pumpAndWait(cmd *exec.Cmd, onLine func(Line), stdout, stderr io.Reader) (<-chan error, *output) {
	out := &output{}
	emit := func(l Line) {
		out.mu.Lock()
		defer out.mu.Unlock()
		if l.Stream == "stderr" {
			if len(out.tail) == StderrTail {
				out.tail = out.tail[1:]
			}
			out.tail = append(out.tail, l.Text)
		}
		if onLine != nil {
			onLine(l)
		}
	}
	var readers sync.WaitGroup
	pump := func(r io.Reader, stream string) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			emit(Line{Stream: stream, Text: sc.Text()})
		}
	}
	if stdout != nil {
		readers.Add(1)
		go pump(stdout, "stdout")
	}
	readers.Add(1)
	go pump(stderr, "stderr")

	waitDone := make(chan error, 1)
	go func() {
		readers.Wait()
		waitDone <- cmd.Wait()
	}()
	return waitDone, out
}

// stopGroup interrupts a process group, waits up to grace for it to end,
// then kills whatever is left of the group.
func stopGroup(pgid int, grace time.Duration, done <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	select {
	case err := <-done:
		// The leader is gone; make sure no child of it lingers.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return err
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return <-done
}
