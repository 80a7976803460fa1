package django

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"steady/internal/target"
)

// ShellOptions say how to reach the project.
type ShellOptions struct {
	// Manage is the command prefix that runs manage.py.
	Manage string
	// Dir is where to run it; empty (or a directory not on this machine,
	// as when the command runs in a container) runs it here.
	Dir string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Grace is the time between SIGINT and SIGKILL when it is cut short.
	Grace time.Duration
}

// ShellError is a `manage.py shell` run that gave no result: it failed,
// printed a traceback, or printed nothing between the markers.
type ShellError struct {
	// Line is the command line run; Exit how it ended.
	Line string
	Exit target.Exit
	// Last is the last line it printed (a traceback's last line names the
	// exception).
	Last string
	// Why is set when it ran but gave nothing usable.
	Why string
}

func (e *ShellError) Error() string {
	what := e.Exit.String()
	if e.Why != "" {
		what = e.Why
	}
	if e.Last != "" {
		return fmt.Sprintf("%s: %s: %s", e.Line, what, e.Last)
	}
	return e.Line + ": " + what
}

// Shell runs a Python script in the project through `<manage> shell`,
// which executes a script read from standard input (so it works through
// `docker compose exec -T`), and returns what the script printed between
// the begin and end markers: a project may print anything around it.
func Shell(ctx context.Context, o ShellOptions, script, begin, end string) (string, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	line := target.Join(o.Manage, "shell")
	// A file, not a pipe: `shell` looks for a script on standard input
	// once, without waiting, so the whole script must already be there.
	f, err := os.CreateTemp("", "steady-script-*.py")
	if err != nil {
		return "", fmt.Errorf("manage.py shell: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString(script); err != nil {
		return "", fmt.Errorf("manage.py shell: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return "", fmt.Errorf("manage.py shell: %w", err)
	}
	dir := o.Dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = ""
	}
	var out, errOut strings.Builder
	exit, err := target.Run(ctx, target.Command{Line: line, Dir: dir, Stdin: f}, target.RunOptions{
		Timeout: o.Timeout,
		Grace:   o.Grace,
		OnLine: func(l target.Line) {
			b := &out
			if l.Stream == "stderr" {
				b = &errOut
			}
			if b.Len() < 32<<20 {
				b.WriteString(l.Text + "\n")
			}
		},
	})
	if err != nil {
		return "", &ShellError{Line: line, Exit: exit, Why: "could not start", Last: err.Error()}
	}
	_, rest, found := strings.Cut(out.String(), begin)
	body, _, closed := strings.Cut(rest, end)
	switch {
	case found && closed:
		return strings.TrimSpace(body), nil
	case !exit.OK():
		return "", &ShellError{Line: line, Exit: exit, Last: LastLine(errOut.String(), out.String())}
	case !found:
		return "", &ShellError{Line: line, Exit: exit, Why: "the script printed no result (did `manage.py shell` read it from standard input?)", Last: LastLine(errOut.String(), out.String())}
	}
	return "", &ShellError{Line: line, Exit: exit, Why: "the script's result was cut short", Last: LastLine(errOut.String())}
}

// LastLine is the last non-empty line of the first text that has one.
func LastLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" {
				return l
			}
		}
	}
	return ""
}
